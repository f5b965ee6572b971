"""Answer grading: does a response's final ``\\boxed{}`` answer equal the gold answer?

    o1pruner grade --input samples.parquet --output graded.parquet [--timeout 5]

Every pre-sampled response is graded here (the paper's 5,000 problems x 16 samples),
and the per-sample ``correct`` flags feed the reference accuracy Ā_ref(x) of the
Length-Harmonizing reward, so grading must be fast, deterministic, safe and bounded:

* :func:`extract_answer` takes the LAST box in linear time (nested braces,
  ``\\fbox``, ``\\boxed 5``); an unclosed last box is no answer.
* :func:`fast_equivalent` decides most pairs with regexes alone: normalised string
  match, then exact numeric comparison of ints, decimals, ``a/b``, ``\\frac{a}{b}``
  and ``28,800``-style numbers.  Model text is never ``eval``-ed in this process.
* Pairs the fast path cannot decide go to math-verify (LaTeX extraction only, so
  sympy's ``parse_expr``/``eval`` is never reached) in a persistent worker
  subprocess with a per-comparison deadline.  math-verify's own timeouts use
  ``signal.alarm``, which only works in a main thread; the worker runs them disabled
  and the parent kills and restarts it when the deadline passes (graded incorrect).
  The worker is a plain ``subprocess`` rather than a ``multiprocessing`` child, so a
  :class:`Grader` also works inside daemonic ``multiprocessing.Pool`` workers.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import select
import subprocess
import sys
import threading
import time
import weakref
from fractions import Fraction
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pandas is imported lazily so the worker process starts light
    import pandas as pd

DEFAULT_TIMEOUT = 5.0
# math-verify sees only answers up to this length; a longer answer that the fast path
# did not match is graded incorrect (no MATH/GSM8K/GaoKao gold answer exceeds 150 chars)
MAX_FALLBACK_CHARS = 2000
# address-space cap for the worker: 10^{10^{10}} must die of MemoryError, not eat the box
WORKER_MEMORY_MB = 4096
WORKER_STARTUP_TIMEOUT = 120.0

# ---------------------------------------------------------------------------
# extraction
# ---------------------------------------------------------------------------

# "last_number": what GSM8K-style harnesses grade when a (small) model writes no box
ANSWER_FALLBACKS = ("none", "last_number")
_NUMBER = re.compile(r"-?\d+(?:,\d{3})*(?:\.\d+)?(?:/\d+)?")
_BOX_START = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_SPACE_TOKEN = re.compile(r"\s+([^\s{}$]+)")
_WS = re.compile(r"\s*")


def _match_brace(text: str, open_pos: int) -> int:
    """Index of the ``}`` closing the ``{`` at ``open_pos``, or -1 if never closed.

    ``\\{`` and ``\\}`` are escaped (set braces), not structural.
    """
    depth = 0
    i, n = open_pos, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            i += 2
            continue
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                return i
        i += 1
    return -1


def extract_answer(text: str | None) -> str | None:
    """Content of the last ``\\boxed{...}`` / ``\\fbox{...}`` / ``\\boxed 5`` in ``text``.

    A box nested inside an earlier box belongs to it (the outer box is the answer).
    The last box being unclosed (a truncated response) means no answer: None, as
    does no box at all or an empty box.  Linear time: each character is scanned by
    at most one brace match, because boxes inside a matched box are skipped.
    """
    if not text:
        return None
    answer: str | None = None
    covered_until = 0  # end of the last parsed box; starts before it are nested
    for m in _BOX_START.finditer(text):
        if m.start() < covered_until:
            continue
        pos = _WS.match(text, m.end()).end()
        if pos < len(text) and text[pos] == "{":
            close = _match_brace(text, pos)
            if close < 0:
                return None  # the last box never closes: everything after is inside it
            answer = text[pos + 1 : close].strip()
            covered_until = close + 1
        else:
            tok = _SPACE_TOKEN.match(text, m.end())
            if tok is None:
                continue  # a bare "\boxed" mention, not a box
            answer = tok.group(1)
            covered_until = tok.end()
    return answer or None


# ---------------------------------------------------------------------------
# fast path: normalised string match and numeric comparison, regex only
# ---------------------------------------------------------------------------

_TEXT_CMD = r"\\(?:text|textbf|textrm|mbox|mathrm)"
# "5\text{ cm}", "12 \mbox{inches}^2": a number followed by a unit word
_TRAILING_UNIT = re.compile(
    r"^(?P<num>.*?)\s*" + _TEXT_CMD + r"\s*\{\s*[A-Za-z][A-Za-z .]*\}\s*(?:\^\s*\{?\s*[23]\s*\}?)?$"
)
_TEXT_WRAPPER = re.compile(_TEXT_CMD + r"\s*\{([^{}]*)\}")
_DEGREES = re.compile(r"\^\s*\{?\s*\\circ\s*\}?|°|\\degree(?![A-Za-z])")
_LEFT_RIGHT = re.compile(r"\\(?:left|right)(?![A-Za-z])")
_SPACING = re.compile(r"(?<!\\)\\[,!;: ]|\\q?quad(?![A-Za-z])|~")
_DFRAC = re.compile(r"\\[dt]frac(?![A-Za-z])")
_DOLLAR = re.compile(r"\\?\$")
_WHOLE_BOX = re.compile(r"\\(?:boxed|fbox)\{")

_INT = re.compile(r"[+-]?\d+")
_THOUSANDS = re.compile(r"[+-]?\d{1,3}(?:,\d{3})+(?:\.\d+)?")
_DECIMAL = re.compile(r"[+-]?(?:\d+\.\d*|\.\d+)")
_SLASH = re.compile(r"([+-]?\d+)/(\d+)")
_FRAC = re.compile(r"([+-]?)\\frac\{([+-]?\d+)\}\{([+-]?\d+)\}")
_FRAC_SHORT = re.compile(r"([+-]?)\\frac(\d)(\d)")
_MAX_UNIT_CHARS = 200
_MAX_DIGITS = 400  # beyond this a "number" is not an answer; let the bounded path decide
_REL_TOL = Fraction(1, 10**6)


def last_number(text: str | None) -> str | None:
    """The last number in ``text`` (``1,234`` -> ``1234``), or None: the no-box fallback."""
    if not isinstance(text, str):
        return None
    found = _NUMBER.findall(text[-MAX_FALLBACK_CHARS:])
    return found[-1].replace(",", "") if found else None


def normalize_answer(s: str) -> str:
    """Canonical string form used by the fast path (never evaluated)."""
    s = _DOLLAR.sub("", s.strip())
    s = _LEFT_RIGHT.sub("", s)
    s = _SPACING.sub("", s)
    s = _DFRAC.sub(r"\\frac", s)
    s = _DEGREES.sub("", s)
    m = _TRAILING_UNIT.match(s) if len(s) <= _MAX_UNIT_CHARS else None  # bounded backtracking
    if m and parse_number(m.group("num")) is not None:
        s = m.group("num")
    s = _TEXT_WRAPPER.sub(r"\1", s)
    s = "".join(s.split())
    s = s.rstrip(".")
    # a box around the whole answer ("\boxed{\boxed{5}}") is just the answer; a few
    # levels at most, so a hostile thousand-deep nest stays linear and recursion-free
    for _ in range(3):
        m = _WHOLE_BOX.match(s)
        if not (m and _match_brace(s, m.end() - 1) == len(s) - 1):
            break
        s = s[m.end() : -1].rstrip(".")
    return s


def parse_number(s: str) -> tuple[Fraction, bool] | None:
    """``(value, is_decimal)`` for a plain numeric answer, else None (regex only)."""
    s = s.strip()
    if len(s) > _MAX_DIGITS:
        return None
    if _INT.fullmatch(s):
        return Fraction(int(s)), False
    if _THOUSANDS.fullmatch(s):
        t = s.replace(",", "")
        return Fraction(t), "." in t
    if _DECIMAL.fullmatch(s):
        return Fraction(s), True
    m = _SLASH.fullmatch(s)
    if m and int(m.group(2)) != 0:
        return Fraction(int(m.group(1)), int(m.group(2))), False
    for rx in (_FRAC, _FRAC_SHORT):
        m = rx.fullmatch(s)
        if m and int(m.group(3)) != 0:
            value = Fraction(int(m.group(2)), int(m.group(3)))
            return (-value if m.group(1) == "-" else value), False
    return None


def _numbers_equal(a: tuple[Fraction, bool], b: tuple[Fraction, bool]) -> bool:
    (x, x_dec), (y, y_dec) = a, b
    if not (x_dec or y_dec):
        return x == y
    # a decimal is a rounded value: equal within a relative 1e-6 (1/3 ~ 0.333333)
    return abs(x - y) <= _REL_TOL * max(abs(x), abs(y))


def fast_equivalent(pred: str, gold: str) -> bool | None:
    """True/False when regexes can decide, None when math-verify must."""
    p, g = normalize_answer(pred), normalize_answer(gold)
    if p == g:
        return bool(p)
    pn, gn = parse_number(p), parse_number(g)
    if pn is not None and gn is not None:
        return _numbers_equal(pn, gn)
    return None


# Python-object syntax that no math answer contains: such text is graded incorrect
# without ever reaching a parser (defence in depth; the fallback never evals anyway)
_CODE_MARKERS = re.compile(r"__|\blambda\b|\bimport\b|\beval\s*\(|\bexec\s*\(")


def looks_like_code(s: str) -> bool:
    return bool(_CODE_MARKERS.search(s.replace("\\lambda", "")))


# ---------------------------------------------------------------------------
# fallback: math-verify in a persistent, killable worker process
# ---------------------------------------------------------------------------


def _for_math_verify(s: str) -> str:
    """Wrap an answer the way math-verify's LaTeX extraction finds it."""
    s = s.strip()
    if len(s) >= 2 and s[0] == "$" and s[-1] == "$" and "$" not in s[1:-1]:
        s = s[1:-1].strip()
    if _match_brace("{" + s + "}", 0) == len(s) + 1:
        return "\\boxed{" + s + "}"
    return "$" + s + "$"


def _worker_main() -> None:
    """Loop of the worker process: one JSON request per stdin line, one reply per line.

    Started by :class:`MathVerifyWorker`; its protocol channel is a private copy of
    the original stdout, and fd 1 is pointed at stderr so stray prints cannot
    corrupt replies.
    """
    import logging
    import resource

    reply = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    mem_mb = int(os.environ.get("O1PRUNER_GRADER_MEM_MB", "0"))
    if mem_mb > 0:
        resource.setrlimit(resource.RLIMIT_AS, (mem_mb << 20, mem_mb << 20))
    logging.disable(logging.CRITICAL)  # "timeout disabled" warnings: we time out ourselves
    from math_verify import LatexExtractionConfig, parse, verify

    config = [LatexExtractionConfig()]  # no ExprExtractionConfig: it calls sympy parse_expr
    parsed_golds: dict[str, list] = {}  # 16 samples share a gold: parse it once (~1/3 of the cost)
    try:  # warm up (lazy parser/sympy imports) before "ready": the per-comparison deadline
        # then measures the comparison, not a first-call import on a loaded machine
        verify(parse("$\\frac{1}{2}$", extraction_config=config, parsing_timeout=None),
               parse("$[0.5, 1)$", extraction_config=config, parsing_timeout=None),
               timeout_seconds=None)
    except Exception:
        pass
    reply.write(b'{"ready": true}\n')
    for line in sys.stdin.buffer:
        try:
            req = json.loads(line)
            gold = parsed_golds.get(req["gold"])
            if gold is None:
                if len(parsed_golds) >= 20000:
                    parsed_golds.clear()
                gold = parse(_for_math_verify(req["gold"]), extraction_config=config, parsing_timeout=None)
                parsed_golds[req["gold"]] = gold
            pred = parse(_for_math_verify(req["pred"]), extraction_config=config, parsing_timeout=None)
            ok = bool(gold and pred and verify(gold, pred, timeout_seconds=None))
        except Exception:  # MemoryError, RecursionError, parser errors: not equal
            ok = False
        reply.write(b'{"ok": true}\n' if ok else b'{"ok": false}\n')


class WorkerTimeout(Exception):
    """The worker did not answer before the deadline (it has been killed)."""


class MathVerifyWorker:
    """A math-verify subprocess reused across comparisons, restarted after a timeout."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, memory_mb: int = WORKER_MEMORY_MB,
                 startup_timeout: float = WORKER_STARTUP_TIMEOUT) -> None:
        self.timeout = float(timeout)
        self.memory_mb = int(memory_mb)
        self.startup_timeout = float(startup_timeout)
        self.starts = 0
        self._proc: subprocess.Popen | None = None
        self._buf = b""
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _terminate, [None])

    def _start(self) -> None:
        env = dict(os.environ)
        src = str(Path(__file__).resolve().parents[1])
        env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["O1PRUNER_GRADER_MEM_MB"] = str(self.memory_mb)
        env.setdefault("OMP_NUM_THREADS", "1")
        self._proc = subprocess.Popen(
            [sys.executable, "-c", "from o1pruner.grading import _worker_main; _worker_main()"],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True,
        )
        self._buf = b""
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _terminate, [self._proc])
        self.starts += 1
        try:
            self._read_reply(time.monotonic() + self.startup_timeout)
        except (WorkerTimeout, EOFError) as e:
            self._kill()
            raise RuntimeError(f"math-verify worker failed to start ({type(e).__name__}); "
                               f"is math-verify installed for {sys.executable}?") from e

    def _read_reply(self, deadline: float) -> dict:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise WorkerTimeout
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError("math-verify worker exited")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return json.loads(line)

    def _kill(self) -> None:
        if self._proc is not None:
            _terminate([self._proc])
        self._proc = None

    def equal(self, pred: str, gold: str) -> bool:
        """math-verify's verdict; raises WorkerTimeout (worker killed) or EOFError (crashed)."""
        request = json.dumps({"pred": pred, "gold": gold}).encode() + b"\n"
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._start()
            deadline = time.monotonic() + self.timeout
            try:
                self._proc.stdin.write(request)
                self._proc.stdin.flush()
                return bool(self._read_reply(deadline)["ok"])
            except (WorkerTimeout, EOFError, BrokenPipeError, OSError, ValueError):
                self._kill()  # next call starts a fresh worker
                raise

    def close(self) -> None:
        with self._lock:
            self._kill()


def _terminate(holder: list) -> None:
    """Kill and reap the worker in ``holder[0]`` (a list, so finalizers need no self)."""
    proc = holder[0]
    if proc is None:
        return
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for stream in (proc.stdin, proc.stdout):
        try:
            stream.close()
        except OSError:
            pass


# ---------------------------------------------------------------------------
# grader
# ---------------------------------------------------------------------------


def _is_missing(x: Any) -> bool:
    """None, NaN or pandas.NA (a row without a gold answer)."""
    return x is None or (isinstance(x, float) and x != x) or type(x).__name__ == "NAType"


class Grader:
    """Grades responses against gold answers; caches identical (extracted, gold) pairs.

    ``with Grader(timeout=5) as g: g.grade_frame(df)``: the context manager shuts the
    math-verify worker down.  ``stats`` counts graded rows, cache hits, fast-path
    decisions, math-verify fallbacks, timeouts and worker crashes.
    """

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, max_fallback_chars: int = MAX_FALLBACK_CHARS,
                 memory_mb: int = WORKER_MEMORY_MB, answer_fallback: str = "none") -> None:
        if answer_fallback not in ANSWER_FALLBACKS:
            raise ValueError(f"answer_fallback must be one of {ANSWER_FALLBACKS}, got {answer_fallback!r}")
        self.answer_fallback = answer_fallback
        self.timeout = float(timeout)
        self.max_fallback_chars = int(max_fallback_chars)
        self.cache: dict[tuple[str, str], bool] = {}
        self.stats = dict(graded=0, correct=0, cache_hits=0, fast_path=0, fallbacks=0,
                          timeouts=0, crashes=0, rejected=0)
        self._worker = MathVerifyWorker(timeout=self.timeout, memory_mb=memory_mb)

    def __enter__(self) -> Grader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._worker.close()

    def equivalent(self, pred: str, gold: str) -> bool:
        """Is answer ``pred`` equal to ``gold``?  Cached; bounded by ``timeout``."""
        key = (pred, gold)
        hit = self.cache.get(key)
        if hit is not None:
            self.stats["cache_hits"] += 1
            return hit
        result = self._decide(pred, gold)
        self.cache[key] = result
        return result

    def _decide(self, pred: str, gold: str) -> bool:
        fast = fast_equivalent(pred, gold)
        if fast is not None:
            self.stats["fast_path"] += 1
            return fast
        if len(pred) > self.max_fallback_chars or looks_like_code(pred):
            self.stats["rejected"] += 1
            return False
        self.stats["fallbacks"] += 1
        try:
            return self._worker.equal(pred, gold)
        except WorkerTimeout:
            self.stats["timeouts"] += 1
        except (EOFError, OSError, ValueError):
            self.stats["crashes"] += 1
        return False

    def grade(self, response: str | None, gold: Any) -> tuple[str | None, bool]:
        """``(extracted answer or None, correct)`` for one response."""
        extracted = extract_answer(response) if isinstance(response, str) else None
        if extracted is None and self.answer_fallback == "last_number":
            extracted = last_number(response)
        correct = False
        if extracted is not None and not _is_missing(gold):
            gold_s = str(gold).strip()
            if "\\boxed" in gold_s or "\\fbox" in gold_s:
                gold_s = extract_answer(gold_s) or gold_s
            correct = bool(gold_s) and self.equivalent(extracted, gold_s)
        self.stats["graded"] += 1
        self.stats["correct"] += int(correct)
        return extracted, correct

    def grade_many(self, responses: list, golds: list) -> list[tuple[str | None, bool]]:
        responses, golds = list(responses), list(golds)
        if len(responses) != len(golds):
            raise ValueError(f"grade_many: {len(responses)} responses but {len(golds)} gold answers")
        return [self.grade(r, g) for r, g in zip(responses, golds)]

    def grade_frame(self, df: pd.DataFrame, response_col: str = "response", gold_col: str = "gold",
                    where: str = "grade_frame") -> pd.DataFrame:
        """Copy of ``df`` with ``extracted`` (str or None) and ``correct`` (bool) added."""
        import pandas as pd

        from o1pruner.schemas import require_columns

        require_columns(df, [response_col, gold_col], where)
        results = self.grade_many(df[response_col].tolist(), df[gold_col].tolist())
        out = df.copy()
        out["extracted"] = pd.Series([e for e, _ in results], index=df.index, dtype=object)
        out["correct"] = pd.Series([c for _, c in results], index=df.index, dtype=bool)
        return out


_default: Grader | None = None


def is_equivalent(pred: str, gold: str, timeout: float = DEFAULT_TIMEOUT) -> bool:
    """Is answer ``pred`` equal to ``gold``?  Fast path, then bounded math-verify."""
    global _default
    if _default is None or _default.timeout != timeout:
        if _default is not None:
            _default.close()
        _default = Grader(timeout=timeout)
    return _default.equivalent(pred, gold)


# ---------------------------------------------------------------------------
# files and CLI
# ---------------------------------------------------------------------------


def grade_file(input_path: str | Path, output_path: str | Path, response_col: str = "response",
               gold_col: str = "gold", timeout: float = DEFAULT_TIMEOUT,
               grader: Grader | None = None, answer_fallback: str = "none") -> dict:
    """Grade every row of a table file and write it with ``extracted``/``correct`` added.

    Returns the grader's stats plus ``rows``, ``accuracy`` and ``output``.
    """
    from o1pruner.io import read_table, write_table

    df = read_table(input_path, text_cols=(response_col, gold_col))
    own = grader is None
    grader = grader or Grader(timeout=timeout, answer_fallback=answer_fallback)
    try:
        before = dict(grader.stats)
        graded = grader.grade_frame(df, response_col, gold_col, where=str(input_path))
        stats = {k: grader.stats[k] - before[k] for k in grader.stats}
    finally:
        if own:
            grader.close()
    write_table(graded, output_path)  # atomic: errors name the output path, a failed write leaves no file
    rows = len(graded)
    stats.update(rows=rows, accuracy=float(graded["correct"].mean()) if rows else 0.0,
                 output=str(output_path))
    return stats


def cli_grade(argv: list[str]) -> int:
    """``o1pruner grade --input X --output Y [--response-col response] [--gold-col gold] [--timeout 5]``"""
    ap = argparse.ArgumentParser(prog="o1pruner grade", description="grade responses against gold answers")
    ap.add_argument("--input", required=True, help=".jsonl, .parquet, .json or .csv with responses")
    ap.add_argument("--output", required=True, help=".parquet, .jsonl, .json or .csv to write")
    ap.add_argument("--response-col", default="response")
    ap.add_argument("--gold-col", default="gold")
    ap.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                    help="seconds per math-verify comparison before it is graded incorrect")
    ap.add_argument("--answer-fallback", choices=ANSWER_FALLBACKS, default="none",
                    help="what to grade when a response has no \\boxed{}: nothing (the paper) or its last number")
    args = ap.parse_args(argv)
    try:
        s = grade_file(args.input, args.output, args.response_col, args.gold_col, timeout=args.timeout,
                       answer_fallback=args.answer_fallback)
    except (ValueError, OSError) as e:  # SchemaError is a ValueError; both name the file
        print(f"o1pruner grade: error: {e}", file=sys.stderr)
        return 1
    print(f"graded {s['rows']} rows: accuracy {s['accuracy']:.4f} ({s['correct']}/{s['rows']}), "
          f"cache hits {s['cache_hits']}, fallbacks {s['fallbacks']}, timeouts {s['timeouts']}, "
          f"crashes {s['crashes']} -> {s['output']}")
    return 0
