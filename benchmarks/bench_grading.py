"""Grading throughput: the pipeline's ``o1pruner.grading.Grader`` vs a plain math-verify loop.

    .venv/bin/python benchmarks/bench_grading.py                      # 2,000 rows, ~2 min
    .venv/bin/python benchmarks/bench_grading.py --n 80000 --baseline-n 4000   # the paper's size

What is compared, on the same N (response, gold) rows:

* A, pipeline: ``Grader(timeout=5).grade(response, gold)`` per row: linear-time extraction of
  the last ``\\boxed{}``, regex fast path, cache of (answer, gold) pairs, math-verify only for
  the pairs the fast path cannot decide (in a killable worker process).
* A', the same Grader as ``o1pruner grade --workers 2`` runs it: one ``grade_many`` call over all
  rows, the undecided pairs spread over 2 math-verify workers (verdicts checked identical to A's).
* B, plain loop: ``verify(parse(gold), parse(response))`` per row with math-verify's defaults
  (``parse`` reads the WHOLE response, as a user of math-verify would write it; its own 5 s
  signal timeouts). The gold is parsed as ``$gold$``. Runs in a child process; the timed part
  is the loop only (import excluded), while A's time includes starting its worker.

Rows: problems from ``../shared/data/*.json`` (real gold answers), 16 samples each as the
paper's pre-sampling gives, each a few thousand characters of real solution text (boxes
removed) ending in ``\\boxed{answer}``. Answers: correct as written, equivalent rewrites
(``\\frac{1}{2}`` vs ``0.5``, ``28,800``, ``\\dfrac``, ``\\displaystyle``), wrong answers (two per
problem, so they repeat), truncated responses (unclosed last box / no box) and a few
pathological ones (``10^{10^{10^{10}}}``, ``(10^{10})!``, huge or deeply nested answers).

``--agreement --math-verify-tests DIR`` times nothing: it prints the verdicts of the pipeline's
grader, a plain math-verify call and the official O1-Pruner rules (``Grader(grader="official")``)
on math-verify's own test cases that a box-based grader can take, and on the 458 real MATH
answers of ``math500_subset_test.json``, with every row where they differ.

Rounds alternate A, B, A, B, ...; the table gives medians. ``--baseline-n`` times B on a random
subset and extrapolates its per-row cost to N (said so in the output). Verdicts are compared
row by row on the rows both graded; disagreements are listed with the likely reason.
Writes benchmarks/out/bench_grading.json.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import sys
import tempfile
import time
from collections import Counter
from fractions import Fraction
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

SAMPLES_PER_PROBLEM = 16
TIMEOUT = 5.0

# ---- rows -----------------------------------------------------------------------------------

_BOX = re.compile(r"\\(?:boxed|fbox)(?![A-Za-z])")
_INT = re.compile(r"-?\d+")
_FRAC = re.compile(r"(-?)\\[dt]?frac\{(\d+)\}\{(\d+)\}")
_DEC = re.compile(r"-?\d+\.\d+")
_PATHOLOGICAL = [
    r"10^{10^{10^{10}}}",          # sympy builds the tower; comparing it never ends
    r"9^{9^{9^{9}}}",
    r"(10^{10})!",
    "+".join(["1"] * 1500),        # a 3,000-char "answer"
    "{" * 300 + "1" + "}" * 300,   # deep nesting
    r"\boxed{\boxed{\boxed{" + "x" * 50 + "}}}",
]


def load_problems(data_dir: Path) -> tuple[list[dict], list[str]]:
    """(problems with a gold answer, filler paragraphs of real solution text without boxes)."""
    files = sorted(data_dir.glob("*.json"))
    if not files:
        sys.exit(f"bench_grading: no *.json problem files in {data_dir} (expected ../shared/data "
                 "next to the repo, with gsm8k_test.json, math500_subset_test.json, ...)")
    problems, filler = [], []
    for f in files:
        for i, rec in enumerate(json.loads(f.read_text())):
            gold = str(rec.get("ground_truth_answer", "")).strip()
            if gold:
                problems.append({"problem_id": f"{f.stem}-{i}", "gold": gold})
            for key in ("ground_truth_solution", "problem"):
                if rec.get(key):
                    filler.append(_BOX.sub("", str(rec[key])))
            if rec.get("pre_generated_steps"):
                filler.append(_BOX.sub("", "\n".join(map(str, rec["pre_generated_steps"]))))
    return problems, filler


def _strip_dollars(g: str) -> str:
    g = g.strip()
    return g[1:-1].strip() if len(g) >= 2 and g[0] == g[-1] == "$" else g


def equivalent_rewrite(g: str, rng: random.Random) -> str:
    """The same value written differently: what a model writes instead of the gold form."""
    if _INT.fullmatch(g):
        n = int(g)
        options = [f"{n}.0", f"{n}.00"] + ([f"{n:,}"] if abs(n) >= 1000 else [])
        return rng.choice(options)
    if m := _FRAC.fullmatch(g):
        sign, a, b = m.group(1), int(m.group(2)), int(m.group(3))
        options = [f"{sign}\\dfrac{{{a}}}{{{b}}}", f"{sign}{a}/{b}"]
        q = Fraction(a, b)
        den = q.denominator
        while den % 2 == 0:
            den //= 2
        while den % 5 == 0:
            den //= 5
        if den == 1 and b:  # a terminating decimal: \frac{1}{2} -> 0.5
            options.append(sign + format(float(q), "g"))
        return rng.choice(options)
    if _DEC.fullmatch(g):
        q = Fraction(g)
        return f"\\frac{{{q.numerator}}}{{{q.denominator}}}" if q.denominator <= 1000 else g + "0"
    if "\\frac" in g:
        return g.replace("\\frac", "\\dfrac")
    return "\\displaystyle " + g


def wrong_answers(g: str, others: list[str], rng: random.Random) -> list[str]:
    """Two wrong answers for one problem (samples repeat them, as real samples do)."""
    out = []
    if _INT.fullmatch(g):
        n = int(g)
        out = [str(n + rng.choice([-2, -1, 1, 2, 10])), str(n * 2 if n else 7)]
    elif m := _FRAC.fullmatch(g):
        a, b = int(m.group(2)), int(m.group(3))
        out = [f"\\frac{{{b}}}{{{a}}}" if a != b else "2", f"\\frac{{{a + 1}}}{{{b}}}"]
    while len(out) < 2:
        cand = _strip_dollars(rng.choice(others))
        if cand != g:
            out.append(cand)
    return out


def build_rows(problems: list[dict], filler: list[str], n: int, seed: int,
               n_pathological: int) -> list[dict]:
    """N rows: ceil(N / 16) problems x 16 samples (problems reused, renamed, when N needs more).

    ``n_pathological`` random rows get a pathological answer instead (cycling through the list).
    """
    rng = random.Random(seed)
    golds = [p["gold"] for p in problems]
    order = problems[:]
    rng.shuffle(order)
    rows = []
    n_problems = -(-n // SAMPLES_PER_PROBLEM)
    for k in range(n_problems):
        p = order[k % len(order)]
        pid = p["problem_id"] + (f"#{k // len(order)}" if k >= len(order) else "")
        g = _strip_dollars(p["gold"])
        wrong = wrong_answers(g, golds, rng)
        p_correct = rng.choice([0.2, 0.5, 0.8, 0.95])  # problems differ in difficulty
        for s in range(SAMPLES_PER_PROBLEM):
            if len(rows) == n:
                break
            u = rng.random()
            if u < 0.03:
                kind, answer = "truncated", None
            else:
                v = rng.random()
                if v < p_correct * 0.75:
                    kind, answer = "correct", g
                elif v < p_correct:
                    kind, answer = "equivalent", equivalent_rewrite(g, rng)
                else:
                    kind, answer = "wrong", rng.choice(wrong)
            rows.append({"problem_id": pid, "sample_idx": s, "gold": p["gold"], "kind": kind,
                         "response": make_response(filler, answer, g, rng)})
    for j, i in enumerate(rng.sample(range(len(rows)), min(n_pathological, len(rows)))):
        g = _strip_dollars(rows[i]["gold"])
        rows[i]["kind"] = "pathological"
        rows[i]["response"] = make_response(filler, _PATHOLOGICAL[j % len(_PATHOLOGICAL)], g, rng)
    return rows


def make_response(filler: list[str], answer: str | None, gold: str, rng: random.Random) -> str:
    """1,500-6,000 chars of real solution text, a re-check, then the box (or a cut-off end)."""
    target = rng.randint(1500, 6000)
    parts, size = [], 0
    while size < target:
        t = rng.choice(filler)
        parts.append(t)
        size += len(t) + 2
    body = "\n\n".join(parts)[:target]
    if answer is None:  # cut at max_tokens: inside the final box, or before any box
        if rng.random() < 0.5:
            return body + "\n\nWait, let me verify this once more. So the answer is \\boxed{" + gold[: max(1, len(gold) // 2)]
        return body
    return body + f"\n\nWait, let me double-check the computation. Yes, it holds.\n\nSo the final answer is \\boxed{{{answer}}}."


# ---- A: the pipeline's Grader -------------------------------------------------------------

def run_grader(rows: list[dict]) -> dict:
    from o1pruner.grading import Grader

    verdicts, extracted, times = [], [], []
    t0 = time.perf_counter()
    grader = Grader(timeout=TIMEOUT)
    try:
        for r in rows:
            t = time.perf_counter()
            e, ok = grader.grade(r["response"], r["gold"])
            times.append(time.perf_counter() - t)
            verdicts.append(ok)
            extracted.append(e)
    finally:
        grader.close()
    return {"wall_s": time.perf_counter() - t0, "verdicts": verdicts, "extracted": extracted,
            "row_s": times, "stats": dict(grader.stats), "worker_starts": grader._worker.starts}


def run_grader_batch(rows: list[dict], workers: int) -> dict:
    """The way ``o1pruner grade`` runs: one ``grade_many`` over the shard, ``workers`` processes."""
    from o1pruner.grading import Grader

    t0 = time.perf_counter()
    grader = Grader(timeout=TIMEOUT, workers=workers)
    try:
        results = grader.grade_many([r["response"] for r in rows], [r["gold"] for r in rows])
    finally:
        grader.close()
    return {"wall_s": time.perf_counter() - t0, "verdicts": [ok for _, ok in results],
            "stats": dict(grader.stats), "workers": workers}


def worker_start_s() -> float:
    """Seconds one math-verify worker (re)start costs the pipeline: first call minus a warm call."""
    from o1pruner.grading import MathVerifyWorker

    w = MathVerifyWorker(timeout=60)
    try:
        t = time.perf_counter()
        w.equal("x+1", "1+x")
        first = time.perf_counter() - t
        t = time.perf_counter()
        w.equal("x+2", "2+x")
        return first - (time.perf_counter() - t)
    finally:
        w.close()


# ---- B: plain math-verify loop (child process) ----------------------------------------------

def baseline_child(path_in: str, path_out: str) -> None:
    """``verify(parse(gold), parse(response))`` per row, math-verify defaults; writes JSON."""
    import logging

    logging.disable(logging.WARNING)  # "Timeout during comparison" per pathological row
    from math_verify import parse, verify

    rows = json.loads(Path(path_in).read_text())
    verdicts, parsed, times = [], [], []
    t0 = time.perf_counter()
    for response, gold in rows:
        t = time.perf_counter()
        try:
            gold_text = gold if "$" in gold else f"${gold}$"
            pred = parse(response)
            ok = bool(verify(parse(gold_text), pred))
            shown = str(pred[1]) if len(pred) > 1 else (str(pred[0]) if pred else None)
        except Exception as e:  # what a plain loop would do with a crash: count it wrong
            ok, shown = False, f"<{type(e).__name__}>"
        times.append(time.perf_counter() - t)
        verdicts.append(ok)
        parsed.append(shown[:200] if shown else shown)
    wall = time.perf_counter() - t0
    Path(path_out).write_text(json.dumps({"wall_s": wall, "verdicts": verdicts, "parsed": parsed,
                                          "row_s": times}))
    print(json.dumps({"wall_s": wall, "rows": len(rows)}))


def run_baseline(rows: list[dict], tmpdir: Path) -> dict:
    path_in, path_out = tmpdir / "baseline_in.json", tmpdir / "baseline_out.json"
    path_in.write_text(json.dumps([[r["response"], r["gold"]] for r in rows]))
    C.run_child([__file__, "--_baseline-child", str(path_in), str(path_out)])
    return json.loads(path_out.read_text())


# ---- agreement: math-verify's own test suite and real MATH answers ----------------------------

_DELIMITERS = (("$$", "$$"), ("$", "$"), ("\\[", "\\]"), ("\\(", "\\)"))


def _single_math(s: str) -> str | None:
    """The inside of a string that is one math span (``$x$``, ``\\[x\\]``), else None."""
    s = s.strip()
    for a, b in _DELIMITERS:
        if s.startswith(a) and s.endswith(b) and len(s) >= len(a) + len(b):
            inner = s[len(a):len(s) - len(b)]
            if a not in inner and b not in inner and "$" not in inner:
                return inner.strip()
    return None


def math_verify_suite_cases(tests_dir: Path) -> tuple[list[tuple[dict, str, str]], Counter]:
    """(case, response, gold) for the cases of math-verify's tests a box-based grader can take.

    Cases are the ``(gold, pred, expected)`` parametrisations of its test modules. Left out:
    ``test_number_extraction`` (numbers read from prose, ``expr`` extraction only), cases with
    non-default verify options (``strict=False``, ``allow_set_relation_comp``, a precision other
    than 6), a prediction that is prose without a box, a gold that is prose without a box. A
    prediction that is one math span becomes ``\\boxed{span}``; a gold span is unwrapped.
    """
    import importlib

    sys.path.insert(0, str(tests_dir.parent))
    cases = []
    for mod in ("test_all", "test_boxed", "test_numina_cases", "test_open_thoughts", "test_strict"):
        m = importlib.import_module(f"{tests_dir.name}.{mod}")
        for name in dir(m):
            f = getattr(m, name)
            if not name.startswith("test_") or not callable(f):
                continue
            for mark in getattr(f, "pytestmark", []):
                if mark.name != "parametrize":
                    continue
                names = [x.strip() for x in mark.args[0].split(",")]
                for vals in mark.args[1]:
                    d = dict(zip(names, getattr(vals, "values", vals)))
                    d["test"] = f"{mod}::{name}"
                    cases.append(d)
    rows, skipped = [], Counter()
    for c in cases:
        options = {k: v for k, v in c.items() if k not in ("gold", "pred", "expected", "test")}
        if c["test"].endswith("test_number_extraction"):
            skipped["numbers read from prose (expr extraction only)"] += 1
            continue
        if (options.get("strict") is False or options.get("allow_set_relation_comp") is True
                or options.get("precision", 6) != 6
                or c["test"].endswith(("test_float_precision", "test_sqrt_precision", "test_symbols"))):
            skipped["non-default verify options"] += 1
            continue
        pred, gold = str(c["pred"]), str(c["gold"])
        span = _single_math(pred)
        if "boxed" in pred:
            response = pred
        elif span is not None:
            response = "\\boxed{" + span + "}"
        else:
            skipped["prediction is prose without a box"] += 1
            continue
        span = _single_math(gold)
        if "boxed" not in gold:
            if span is not None:
                gold = span
            elif "$" in gold or "\\" in gold or len(gold) >= 30:
                skipped["gold is prose without a box"] += 1
                continue
        rows.append((c, response, gold))
    return rows, skipped


def agreement(args: argparse.Namespace) -> int:
    """Ours vs plain math-verify vs the official rules, on math-verify's suite and 458 MATH answers."""
    import logging

    logging.disable(logging.WARNING)
    from math_verify import parse, verify

    from o1pruner.grading import Grader

    result: dict = {}
    if args.math_verify_tests:
        rows, skipped = math_verify_suite_cases(args.math_verify_tests)
        from importlib import import_module

        compare = import_module(f"{args.math_verify_tests.name}.test_all").compare_strings
        expected = [bool(c["expected"]) for c, _, _ in rows]
        with Grader(timeout=TIMEOUT) as g:
            ours = [ok for _, ok in g.grade_many([r for _, r, _ in rows], [gd for _, _, gd in rows])]
        plain = []
        for c, _, _ in rows:
            try:
                plain.append(bool(compare(c["gold"], c["pred"])))
            except Exception:
                plain.append(False)
        n = len(rows)
        print(f"math-verify's own tests, {n} cases a box grader can take (left out: {dict(skipped)}):")
        print(f"  ours {sum(o == e for o, e in zip(ours, expected))}/{n}, "
              f"plain math-verify {sum(p == e for p, e in zip(plain, expected))}/{n}")
        misses = [(c["test"], r[-80:], gd[:60], e) for (c, r, gd), o, e in zip(rows, ours, expected) if o != e]
        for m in misses:
            print(f"  ours differs from the expected verdict: {m}")
        result["math_verify_suite"] = {"cases": n, "skipped": dict(skipped), "expected_true": sum(expected),
                                       "ours": sum(o == e for o, e in zip(ours, expected)),
                                       "plain_math_verify": sum(p == e for p, e in zip(plain, expected)),
                                       "ours_misses": misses}
    path = args.data / "math500_subset_test.json"
    if path.exists():
        recs = json.loads(path.read_text())
        responses = [f"... so the answer is $\\boxed{{{r['pre_generated_answer']}}}$." for r in recs]
        golds = [r["ground_truth_answer"] for r in recs]
        verdicts = {}
        for name, kw in (("ours", {}), ("official", {"grader": "official"})):
            with Grader(timeout=TIMEOUT, **kw) as g:
                verdicts[name] = [ok for _, ok in g.grade_many(responses, golds)]
        plain = []
        for r, gd in zip(responses, golds):
            try:
                plain.append(bool(verify(parse(f"${gd}$"), parse(r))))
            except Exception:
                plain.append(False)
        verdicts["plain math-verify"] = plain
        print(f"\n{len(recs)} real MATH answers (pre_generated_answer, boxed) vs ground_truth_answer: correct "
              + ", ".join(f"{k} {sum(v)}" for k, v in verdicts.items()))
        result["math500"] = {"rows": len(recs), "correct": {k: sum(v) for k, v in verdicts.items()}}
        for other in ("official", "plain math-verify"):
            diff = [i for i in range(len(recs)) if verdicts["ours"][i] != verdicts[other][i]]
            print(f"  ours vs {other}: {len(diff)} rows differ")
            for i in diff:
                print(f"    row {i}: answer {recs[i]['pre_generated_answer']!r}, gold {golds[i]!r}: "
                      f"ours {verdicts['ours'][i]}, {other} {verdicts[other][i]}")
            result["math500"][f"differ_{other}"] = [
                {"row": i, "answer": recs[i]["pre_generated_answer"], "gold": golds[i],
                 "ours": verdicts["ours"][i], other: verdicts[other][i]} for i in diff]
    C.write_result("bench_grading_agreement", result, time.time(), C.machine())
    return 0


# ---- comparison ---------------------------------------------------------------------------

def disagreement_reason(row: dict, a_ok: bool, a_ext: str | None, a_s: float, b_ok: bool,
                        b_parsed: str | None, b_s: float) -> str:
    if b_s >= 0.9 * TIMEOUT:
        return "math-verify timed out (plain loop graded it wrong after its 5 s timeout)"
    if a_s >= 0.9 * TIMEOUT:
        return "pipeline worker timed out (graded wrong)"
    if a_ext is None:
        return ("pipeline: last box unclosed or no box = no answer (truncated response); "
                "math-verify extracted an answer from the text anyway")
    if b_parsed and b_parsed.startswith("<"):
        return f"math-verify raised {b_parsed}"
    g = row["gold"].strip()
    if "$" in g and not (g.startswith("$") and g.endswith("$") and g.count("$") == 2):
        return ("gold mixes text and $...$ (e.g. '20 $cm^{2}$'): the plain loop's parse(gold) reads only "
                "the $...$ part; the pipeline compares the whole normalised string")
    return f"verdicts differ on extracted answer {a_ext!r} (math-verify read {b_parsed!r})"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="rows (the paper: 80000 = 5,000 x 16)")
    ap.add_argument("--baseline-n", type=int, default=None,
                    help="time the plain loop on this many rows (all pathological ones + a random "
                         "sample of the rest) and extrapolate its per-row cost (default: all rows)")
    ap.add_argument("--rounds", type=int, default=3, help="A,B rounds (medians reported)")
    ap.add_argument("--pathological", type=int, default=6,
                    help="rows with a pathological answer (some cost a full 5 s timeout in both)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=2,
                    help="math-verify workers of the grade_many variant (o1pruner grade --workers)")
    ap.add_argument("--data", type=Path, default=C.SHARED_DATA, help="folder of problem *.json files")
    ap.add_argument("--agreement", action="store_true",
                    help="instead of timing: verdicts of ours, plain math-verify and the official rules on "
                         "math-verify's own tests (--math-verify-tests) and the 458 real MATH answers")
    ap.add_argument("--math-verify-tests", type=Path, default=None,
                    help="the tests/ folder of a huggingface/Math-Verify checkout (for --agreement)")
    ap.add_argument("--_baseline-child", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args._baseline_child:
        baseline_child(*args._baseline_child)
        return 0
    if args.agreement:
        return agreement(args)

    started, info = time.time(), C.machine()
    if not args.data.is_dir():
        sys.exit(f"bench_grading: data folder {args.data} does not exist (the repo expects "
                 "../shared/data with the problem sets; pass --data DIR)")
    problems, filler = load_problems(args.data)
    rows = build_rows(problems, filler, args.n, args.seed, args.pathological)
    patho = [i for i, r in enumerate(rows) if r["kind"] == "pathological"]
    regular = [i for i, r in enumerate(rows) if r["kind"] != "pathological"]
    bn = min(max(args.baseline_n or len(rows), len(patho)), len(rows))
    subset = sorted(patho + random.Random(args.seed + 1).sample(regular, bn - len(patho)))
    sub_rows = [rows[i] for i in subset]
    sub_regular = [j for j, i in enumerate(subset) if rows[i]["kind"] != "pathological"]
    extrapolated = bn < len(rows)
    kinds = Counter(r["kind"] for r in rows)
    chars = sum(len(r["response"]) for r in rows) / len(rows)
    print(f"{len(rows)} rows ({-(-len(rows) // SAMPLES_PER_PROBLEM)} problems x {SAMPLES_PER_PROBLEM}), "
          f"mean response {chars:,.0f} chars; kinds {dict(kinds)}; plain loop on {bn} rows"
          + (" (all pathological + a random sample; per-row cost extrapolated to all rows)"
             if extrapolated else ""), flush=True)

    a_runs, b_runs, m_runs = [], [], []
    C.OUT_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=C.OUT_DIR) as tmp:
        for r in range(args.rounds):
            a = run_grader(rows)
            a_runs.append(a)
            print(f"round {r + 1}: pipeline Grader {a['wall_s']:.2f} s on {len(rows)} rows", flush=True)
            m = run_grader_batch(rows, args.workers)
            m_runs.append(m)
            print(f"round {r + 1}: pipeline grade_many, {args.workers} workers {m['wall_s']:.2f} s", flush=True)
            b = run_baseline(sub_rows, Path(tmp))
            b_runs.append(b)
            print(f"round {r + 1}: plain math-verify loop {b['wall_s']:.2f} s on {bn} rows", flush=True)

    def a_regular(run):  # wall time minus the pathological rows' own time
        return run["wall_s"] - sum(run["row_s"][i] for i in patho)

    def b_estimate(run, regular_only=False):
        """Plain-loop seconds for ALL rows: regular rows extrapolated, pathological ones measured."""
        reg = sum(run["row_s"][j] for j in sub_regular) / max(1, len(sub_regular)) * len(regular)
        overhead = run["wall_s"] - sum(run["row_s"])  # loop bookkeeping, scaled to all rows
        reg += overhead * len(regular) / bn
        return reg if regular_only else reg + sum(run["row_s"][j] for j, i in enumerate(subset)
                                                  if rows[i]["kind"] == "pathological")

    a_wall = C.median([r["wall_s"] for r in a_runs])
    m_wall = C.median([r["wall_s"] for r in m_runs])
    batch_same = all(m["verdicts"] == a_runs[-1]["verdicts"] for m in m_runs)
    b_wall = C.median([b_estimate(r) for r in b_runs])
    a_reg = C.median([a_regular(r) for r in a_runs])
    b_reg = C.median([b_estimate(r, regular_only=True) for r in b_runs])
    # verdicts are deterministic run to run except where a timeout struck: use the last round
    a, b = a_runs[-1], b_runs[-1]
    start_s = worker_start_s()
    disagreements = []
    for j, i in enumerate(subset):
        if a["verdicts"][i] != b["verdicts"][j]:
            row = rows[i]
            disagreements.append({
                "row": i, "problem_id": row["problem_id"], "sample_idx": row["sample_idx"],
                "kind": row["kind"], "gold": row["gold"], "pipeline": a["verdicts"][i],
                "pipeline_extracted": a["extracted"][i], "math_verify": b["verdicts"][j],
                "math_verify_parsed": b["parsed"][j],
                "reason": disagreement_reason(row, a["verdicts"][i], a["extracted"][i], a["row_s"][i],
                                              b["verdicts"][j], b["parsed"][j], b["row_s"][j]),
                "response_tail": row["response"][-120:],
            })
    agree = bn - len(disagreements)

    # where the time goes: per-kind sums of per-row times (median over rounds)
    per_kind = []
    for kind in sorted(kinds):
        idx_all = [i for i, r in enumerate(rows) if r["kind"] == kind]
        idx_sub = [j for j, i in enumerate(subset) if rows[i]["kind"] == kind]
        a_s = C.median([sum(run["row_s"][i] for i in idx_all) for run in a_runs])
        b_s = (C.median([sum(run["row_s"][j] for j in idx_sub) for run in b_runs]) / len(idx_sub)
               * len(idx_all)) if idx_sub else None
        per_kind.append([kind, len(idx_all), a_s, b_s, C.ratio(b_s, a_s)])

    ext = " (extrapolated)" if extrapolated else ""
    print()
    C.print_table([
        ["all rows", len(rows), a_wall, f"{b_wall:.2f}{ext}", f"{C.ratio(b_wall, a_wall):.1f}x"],
        [f"all rows, one grade_many call, {args.workers} workers", len(rows), m_wall, f"{b_wall:.2f}{ext}",
         f"{C.ratio(b_wall, m_wall):.1f}x"],
        ["without the pathological rows", len(regular), a_reg, f"{b_reg:.2f}{ext}",
         f"{C.ratio(b_reg, a_reg):.1f}x"],
    ], ["rows graded", "rows", "pipeline Grader s", "plain math-verify loop s", "speed-up"])
    print()
    C.print_table(per_kind, ["answer kind", "rows", "pipeline s", "plain loop s", "ratio"])
    print(f"\ngrade_many with {args.workers} workers: verdicts {'identical to' if batch_same else 'DIFFERENT from'} "
          f"the per-row Grader's on all {len(rows)} rows")
    print(f"verdicts: {agree}/{bn} identical ({100 * agree / bn:.2f}%), {len(disagreements)} differ; "
          f"pipeline stats (last round): {a['stats']}, worker starts {a['worker_starts']}")
    print(f"pipeline fixed cost: {a['worker_starts']} math-verify worker start(s) (1 + one after each "
          f"timeout) x ~{start_s:.2f} s = ~{a['worker_starts'] * start_s:.1f} s; "
          f"{a['stats']['timeouts']} timeout(s) x {TIMEOUT:.0f} s")
    reasons = Counter(d["reason"].split(" on extracted")[0] for d in disagreements)
    for reason, count in reasons.most_common():
        print(f"  {count:5d} x {reason}")
    for d in disagreements[:8]:
        print(f"  e.g. {d['problem_id']}/{d['sample_idx']} ({d['kind']}): gold {d['gold']!r}; pipeline "
              f"{d['pipeline']} ({d['pipeline_extracted']!r}), math-verify {d['math_verify']} "
              f"({d['math_verify_parsed']!r})")
    print("note: medians of the A,B rounds; the plain loop parses the WHOLE response (math-verify's "
          "default), as a user would; its time excludes importing math-verify, the pipeline's "
          "includes starting (and after a timeout restarting) its worker."
          + (f" Plain loop timed on {bn} of {len(rows)} rows and extrapolated per row." if extrapolated else ""))

    result = {
        "rows": len(rows), "problems": -(-len(rows) // SAMPLES_PER_PROBLEM), "baseline_rows": bn,
        "baseline_extrapolated": extrapolated, "rounds": args.rounds, "timeout_s": TIMEOUT,
        "mean_response_chars": round(chars), "kinds": dict(kinds),
        "pipeline_wall_s": a_wall, "pipeline_wall_s_all": [r["wall_s"] for r in a_runs],
        "baseline_wall_s": b_wall, "baseline_wall_s_all_estimates": [b_estimate(r) for r in b_runs],
        "baseline_subset_wall_s_all": [r["wall_s"] for r in b_runs],
        "speedup": C.ratio(b_wall, a_wall),
        "pipeline_wall_s_without_pathological": a_reg, "baseline_wall_s_without_pathological": b_reg,
        "speedup_without_pathological": C.ratio(b_reg, a_reg), "target_speedup": 10,
        "batch_workers": args.workers, "batch_wall_s": m_wall, "batch_wall_s_all": [r["wall_s"] for r in m_runs],
        "batch_speedup": C.ratio(b_wall, m_wall), "batch_verdicts_identical": batch_same,
        "batch_stats": m_runs[-1]["stats"],
        "per_kind": [dict(zip(["kind", "rows", "pipeline_s", "baseline_s", "ratio"], r)) for r in per_kind],
        "verdicts_compared": bn, "verdicts_identical": agree, "disagreements": disagreements,
        "disagreement_reasons": dict(reasons), "pipeline_stats": a["stats"],
        "pipeline_worker_starts": a["worker_starts"], "worker_start_s": start_s,
    }
    C.write_result("bench_grading" if args.n == 2000 else f"bench_grading_n{args.n}", result, started, info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
