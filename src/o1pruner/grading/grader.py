"""The :class:`Grader` (extraction, fast path, then math-verify workers, with a cache) and
:func:`grade_file` (a table file in, the same table with ``extracted`` / ``correct`` out)."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable

from o1pruner.grading.extraction import (
    ANSWER_FALLBACKS,
    BOXES,
    MAX_FALLBACK_CHARS,
    SCOPES,
    answer_part,
    extract_answer,
    last_number,
)
from o1pruner.grading.fast_path import fast_equivalent, looks_like_code, pathology
from o1pruner.grading.official import official_equivalent
from o1pruner.grading.worker import (
    DEFAULT_TIMEOUT,
    WORKER_MEMORY_MB,
    MathVerifyWorker,
    WorkerTimeout,
)

if TYPE_CHECKING:  # pandas is imported lazily so the worker process starts light
    import pandas as pd

# grade_many on at least this many rows starts its workers before extracting answers
PRESTART_ROWS = 256


def _is_missing(x: Any) -> bool:
    """None, NaN or pandas.NA (a row without a gold answer)."""
    return x is None or (isinstance(x, float) and x != x) or type(x).__name__ == "NAType"


GRADERS = ("default", "official")


class Grader:
    """Grades responses against gold answers; caches identical (extracted, gold) pairs.

    ``with Grader(timeout=5) as g: g.grade_frame(df)``: the context manager shuts the
    math-verify workers down.  ``stats`` counts graded rows, cache hits, fast-path
    decisions, math-verify fallbacks, rejected answers (code or pathological
    expressions), timeouts and worker crashes.

    Options (defaults: this project's grading):

    * ``box``: ``"last"`` or ``"first"`` box of the response is its answer (the
      official O1-Pruner code grades the first); see :func:`extract_answer`.
    * ``scope``: ``"answer"`` reads the answer after a thinking model's last
      ``</think>`` (an unclosed ``<think>`` is no answer); ``"whole"`` the full text.
    * ``grader``: ``"default"`` (fast path + math-verify) or ``"official"`` (the
      PRM800K-style rules of the official ``grader.py``; see :func:`official_equivalent`).
    * ``rel_tol``: relative tolerance between plain numbers when either is a
      decimal; 0 (default) compares exactly.
    * ``workers``: math-verify worker processes; a batch's undecided pairs are
      spread over them (verdicts do not depend on it).
    """

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, max_fallback_chars: int = MAX_FALLBACK_CHARS,
                 memory_mb: int = WORKER_MEMORY_MB, answer_fallback: str = "none", box: str = "last",
                 scope: str = "answer", grader: str = "default", rel_tol: float = 0.0,
                 workers: int = 1) -> None:
        for name, value, allowed in (("answer_fallback", answer_fallback, ANSWER_FALLBACKS),
                                     ("box", box, BOXES), ("scope", scope, SCOPES),
                                     ("grader", grader, GRADERS)):
            if value not in allowed:
                raise ValueError(f"{name} must be one of {allowed}, got {value!r}")
        if not (rel_tol >= 0):
            raise ValueError(f"rel_tol must be >= 0, got {rel_tol!r}")
        if int(workers) < 1:
            raise ValueError(f"workers must be >= 1, got {workers!r}")
        self.answer_fallback, self.box, self.scope, self.grader = answer_fallback, box, scope, grader
        self.rel_tol = float(rel_tol)
        self.timeout = float(timeout)
        self.max_fallback_chars = int(max_fallback_chars)
        self.cache: dict[tuple[str, str], bool] = {}
        self.stats = dict(graded=0, correct=0, cache_hits=0, fast_path=0, fallbacks=0,
                          timeouts=0, crashes=0, rejected=0)
        self._workers = [MathVerifyWorker(timeout=self.timeout, memory_mb=memory_mb)
                         for _ in range(int(workers))]
        self._worker = self._workers[0]

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        for w in self._workers:
            w.close()

    # -- one pair ---------------------------------------------------------------

    def equivalent(self, pred: str, gold: str) -> bool:
        """Is answer ``pred`` equal to ``gold``?  Cached; bounded by ``timeout``."""
        return self._decide_all([(pred, gold)])[0]

    def _quick(self, pred: str, gold: str) -> bool | None:
        """The verdict without math-verify, or None when it must ask (counts stats)."""
        if self.grader == "official":  # its own rules decide; the code guard still applies
            if len(pred) > self.max_fallback_chars or looks_like_code(pred):
                self.stats["rejected"] += 1
                return False
            return None
        fast = fast_equivalent(pred, gold, self.rel_tol)
        if fast is not None:
            self.stats["fast_path"] += 1
            return fast
        if len(pred) > self.max_fallback_chars or looks_like_code(pred) or pathology(pred):
            self.stats["rejected"] += 1
            return False
        return None

    def _ask(self, worker: MathVerifyWorker, pred: str, gold: str) -> tuple[bool, str | None]:
        """``(verdict, failure)`` from one worker: failure is "timeouts", "crashes" or None."""
        try:
            if self.grader == "official":
                return official_equivalent(pred, gold, worker.sympy_equal), None
            return worker.equal(pred, gold), None
        except WorkerTimeout:
            return False, "timeouts"
        except (EOFError, OSError, ValueError):
            return False, "crashes"

    def _decide_all(self, pairs: list[tuple[str, str]]) -> list[bool]:
        """Verdicts for (pred, gold) pairs: cache, fast path, then the workers for the rest.

        Each distinct pair is decided once; the undecided ones are spread over the
        worker processes, each with its own deadline.
        """
        pending: dict[tuple[str, str], None] = {}
        for key in pairs:
            if key in self.cache or key in pending:
                self.stats["cache_hits"] += 1
                continue
            quick = self._quick(*key)
            if quick is None:
                pending[key] = None
            else:
                self.cache[key] = quick
        todo = list(pending)
        self.stats["fallbacks"] += len(todo)
        if len(self._workers) == 1 or len(todo) < 2:
            outcomes = [self._ask(self._worker, *key) for key in todo]
        else:
            outcomes = self._ask_in_parallel(todo)
        for key, (ok, failure) in zip(todo, outcomes):
            if failure:
                self.stats[failure] += 1
            self.cache[key] = ok
        return [self.cache[key] for key in pairs]

    def _ask_in_parallel(self, todo: list[tuple[str, str]]) -> list[tuple[bool, str | None]]:
        # threads only wait on the workers' pipes (the GIL is free meanwhile); each
        # worker serves one request at a time, so verdicts are as with one worker
        import queue
        from concurrent.futures import ThreadPoolExecutor

        idle: queue.Queue = queue.Queue()
        for w in self._workers:
            w.prestart()  # all start at once, not one after another as jobs reach them
            idle.put(w)

        def job(key: tuple[str, str]) -> tuple[bool, str | None]:
            w = idle.get()
            try:
                return self._ask(w, *key)
            finally:
                idle.put(w)

        with ThreadPoolExecutor(max_workers=len(self._workers)) as pool:
            return list(pool.map(job, todo))

    # -- responses ---------------------------------------------------------------

    def extract(self, response: Any, prompt: str | None = None) -> str | None:
        """The answer of one response under this grader's scope, box and fallback (``prompt``:
        what the response was generated after, to know whether it began inside ``<think>``)."""
        text = answer_part(response, self.scope, prompt) if isinstance(response, str) else None
        extracted = extract_answer(text, self.box)
        if extracted is None and self.answer_fallback == "last_number":
            extracted = last_number(text)  # the answer part only: not a number from the thinking
        return extracted

    @staticmethod
    def _gold_text(gold: Any) -> str | None:
        if _is_missing(gold):
            return None
        gold_s = str(gold).strip()
        if "\\boxed" in gold_s or "\\fbox" in gold_s:
            gold_s = extract_answer(gold_s) or gold_s
        return gold_s or None

    def grade(self, response: str | None, gold: Any) -> tuple[str | None, bool]:
        """``(extracted answer or None, correct)`` for one response."""
        return self.grade_many([response], [gold])[0]

    def grade_many(self, responses: list, golds: list, prompts: list | None = None) -> list[tuple[str | None, bool]]:
        responses, golds = list(responses), list(golds)
        prompts = list(prompts) if prompts is not None else [None] * len(responses)
        if len(responses) != len(golds):
            raise ValueError(f"grade_many: {len(responses)} responses but {len(golds)} gold answers")
        if len(responses) >= PRESTART_ROWS:  # a shard: some pairs will need math-verify
            for w in self._workers:
                w.prestart()
        extracted = [self.extract(r, p if isinstance(p, str) else None) for r, p in zip(responses, prompts)]
        gold_texts = [self._gold_text(g) for g in golds]
        gradable = [i for i, (e, g) in enumerate(zip(extracted, gold_texts)) if e is not None and g]
        verdicts = dict(zip(gradable, self._decide_all([(extracted[i], gold_texts[i]) for i in gradable])))
        results = [(e, bool(verdicts.get(i, False))) for i, e in enumerate(extracted)]
        self.stats["graded"] += len(results)
        self.stats["correct"] += sum(ok for _, ok in results)
        return results

    def grade_frame(self, df: pd.DataFrame, response_col: str = "response", gold_col: str = "gold",
                    where: str = "grade_frame") -> pd.DataFrame:
        """Copy of ``df`` with ``extracted`` (str or None) and ``correct`` (bool) added."""
        import pandas as pd

        # o1pruner.schemas and o1pruner.io import pandas: imported here, not at the top, because
        # the math-verify worker process imports this package (grading/__init__.py) at every start
        from o1pruner.schemas import require_columns

        require_columns(df, [response_col, gold_col], where)
        prompts = df["prompt"].tolist() if "prompt" in df.columns else None
        results = self.grade_many(df[response_col].tolist(), df[gold_col].tolist(), prompts)
        out = df.copy()
        out["extracted"] = pd.Series([e for e, _ in results], index=df.index, dtype=object)
        out["correct"] = pd.Series([c for _, c in results], index=df.index, dtype=bool)
        return out


def grade_file(input_path: str | Path, output_path: str | Path, response_col: str = "response",
               gold_col: str = "gold", timeout: float = DEFAULT_TIMEOUT,
               grader: Grader | None = None, answer_fallback: str = "none",
               annotate: Callable[[pd.DataFrame], pd.DataFrame] | None = None, **options: Any) -> dict:
    """Grade every row of a table file and write it with ``extracted``/``correct`` added.

    ``options`` are further :class:`Grader` keyword arguments (``box``, ``scope``,
    ``rel_tol``, ``workers``; pass a ``grader`` object for the official rules); ``annotate``
    adds further columns to the graded frame (the toy's anatomy).  Returns the
    grader's stats plus ``rows``, ``accuracy`` and ``output``.
    """
    from o1pruner.io import (  # pandas: not at the top, see grade_frame
        read_table,
        write_table,
    )

    df = read_table(input_path, text_cols=(response_col, gold_col))
    own = grader is None
    grader = grader or Grader(timeout=timeout, answer_fallback=answer_fallback, **options)
    try:
        before = dict(grader.stats)
        graded = grader.grade_frame(df, response_col, gold_col, where=str(input_path))
        stats = {k: grader.stats[k] - before[k] for k in grader.stats}
    finally:
        if own:
            grader.close()
    if annotate is not None:
        graded = annotate(graded)
    write_table(graded, output_path)  # atomic: errors name the output path, a failed write leaves no file
    rows = len(graded)
    stats.update(rows=rows, accuracy=float(graded["correct"].mean()) if rows else 0.0,
                 output=str(output_path))
    return stats
