"""Labelled anatomy of toy responses: which tokens of a long thought are work, waste or repair.

The toy's traces (``o1pruner.toy.model``) are made of labelled lines, so any response, sampled or
greedy, parses into segments checked against the problem text:

- ``work``: a scratchpad line, hasty ``c) *2: 4 *2 = 8`` or careful ``c) *2: 4 *2 gives 8`` (a repair); it
  is an *error* when its input is not the value the previous step left, its operation is not the
  prompt's, or its arithmetic is wrong;
- ``result``: ``The result is 8.``;
- ``check``: a re-check that repairs nothing: redundant, the tokens O1-Pruner should drop. The
  reflective toy's re-check redoes the step just written (``Wait, let me verify step c).`` and
  its careful line); the plain toy's copies a line and says ``Correct.``;
- ``correction``: a re-check whose right careful line replaces a work line that was an error (or
  a plain re-check that says ``Wrong.`` about one); the careful line is its ``repair``;
- ``false_alarm``: a re-check that says ``Wrong.`` about a line that was right;
- ``other``: anything else (the opening sentence, ``</think>``, the box, garbage).

An error that no later correction flagged is *uncaught*. ``add_anatomy`` adds per-response
counts (``n_checks``, ``n_corrections``, ``n_errors``) to a graded frame, and
``pruning_anatomy`` compares them between the baseline and each pruning method: the paper's
claim is that O1-Pruner removes the redundant reflection while the accuracy term of the LH
reward keeps the reflection that repairs mistakes.

    o1pruner pruning-anatomy --evals results/toy/eval/*/toy_*.parquet --output results/tables/pruning_anatomy
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from o1pruner.io import write_text
from o1pruner.toy.model import (  # toy imports torch only to build
    CAREFUL,
    RECHECK_VERBS,
    STEP_LABELS,
    apply_op,
)

PROBLEM_RE = re.compile(r"Start with (\d+)\. Then (.*?)\. What is the final number\?")
OP_RE = re.compile(r"([a-l])\) ([+\-*])(\d+)")
# how every re-check opens, with the toy's verbs
WAIT = "^Wait, let me (?:" + "|".join(map(re.escape, RECHECK_VERBS)) + ")"
# work: plain ``c) 4 *2 = 8``; reflective hasty ``c) *2: 4 *2 = 8`` or careful ``c) *2: 4 *2 gives 8``
WORK_RE = re.compile(r"^(?P<label>[a-l])\) (?:(?P<quoted>[+\-*]\d+): )?"
                     r"(?P<v>-?\d+) (?P<op>[+\-*])(?P<k>\d+) (?P<sign>=|" + CAREFUL + r") (?P<r>-?\d+)$")
# a plain re-check: the step's line copied, then the verdict (``step c) 4 *2 = 8. Correct.``)
CHECK_RE = re.compile(WAIT + r" step (?P<label>[a-l])\) (?P<v>-?\d+) (?P<op>[+\-*])(?P<k>\d+) "
                      r"= (?P<r>-?\d+)\. (?P<verdict>Correct|Wrong)\.$")
# a reflective re-check, right after the step it redoes with care (the careful line that follows)
REDO_RE = re.compile(WAIT + r" step (?P<label>[a-l])\)\.$")
RESULT_RE = re.compile(r"^The result is (-?\d+)\.$")

COUNT_COLUMNS = ("n_checks", "n_corrections", "n_errors")


def parse_problem(problem: str) -> tuple[int, list[tuple[str, int]]] | None:
    """(start, ops) of a toy problem text, or None when it is not one."""
    m = PROBLEM_RE.search(problem or "")
    if not m:
        return None
    ops = OP_RE.findall(m.group(2))
    if [label for label, _, _ in ops] != list(STEP_LABELS[: len(ops)]):
        return None
    return int(m.group(1)), [(op, int(k)) for _, op, k in ops]


@dataclass
class Segment:
    kind: str              # work | result | check | correction | false_alarm | other
    text: str
    step: int | None = None
    error: bool = False    # work: the line is wrong
    caught: bool = False   # work error: a later correction flagged it
    repair: bool = False   # work: part of a correction's repair


@dataclass
class Anatomy:
    segments: list[Segment] = field(default_factory=list)

    def count(self, kind: str) -> int:
        return sum(s.kind == kind for s in self.segments)

    @property
    def n_checks(self) -> int:
        """Every re-check, whatever its verdict."""
        return sum(s.kind in ("check", "correction", "false_alarm") for s in self.segments)

    @property
    def n_corrections(self) -> int:
        return self.count("correction")

    @property
    def n_errors(self) -> int:
        return sum(s.kind == "work" and s.error for s in self.segments)

    @property
    def n_uncaught(self) -> int:
        return sum(s.kind == "work" and s.error and not s.caught for s in self.segments)


def anatomy(response: str, problem: str) -> Anatomy:
    """The segments of one toy response; every line is ``other`` when the problem is not a toy's."""
    parsed = parse_problem(problem)
    lines = (response or "").split("\n")
    if parsed is None:
        return Anatomy([Segment("other", ln) for ln in lines])
    start, ops = parsed
    latest: dict[int, Segment] = {}   # step -> its latest written work line
    results: dict[int, int] = {}      # step -> that line's written result
    segments, in_repair, redo = [], False, None
    for ln in lines:
        text = ln.strip()
        if m := WORK_RE.match(text):
            if m["sign"] == "=":
                redo = None  # the hasty work goes on: the re-check is over
            seg = work_segment(m, start, ops, results)
            seg.repair = in_repair or redo is not None
            if redo is not None and seg.step is not None and not seg.error:
                redo_line(redo, latest.get(seg.step))
            if seg.step is not None:
                latest[seg.step], results[seg.step] = seg, int(m["r"])
        elif m := CHECK_RE.match(text):
            seg, redo = check_segment(m, latest), None
            in_repair = seg.kind in ("correction", "false_alarm")
        elif m := REDO_RE.match(text):
            seg = redo = Segment("check", "", step=STEP_LABELS.index(m["label"]))
            in_repair = False
        elif RESULT_RE.match(text):
            seg, in_repair, redo = Segment("result", ln), False, None
        else:
            seg = Segment("other", ln)
        seg.text = ln
        segments.append(seg)
    return Anatomy(segments)


def work_segment(m: re.Match, start: int, ops: list, results: dict[int, int]) -> Segment:
    """A work line; wrong when its input, operation or arithmetic is not what the trace needs.

    The expected input is the value the previous step's latest line left, so a slip counts
    once (the lines after it carry its value on correctly) and a repair is judged from where it
    restarts.
    """
    step = STEP_LABELS.index(m["label"])
    if step >= len(ops):
        return Segment("work", "", step=None, error=True)
    v, op, k, r = int(m["v"]), m["op"], int(m["k"]), int(m["r"])
    expected_in = start if step == 0 else results.get(step - 1)
    wrong = (op, k) != ops[step] or r != apply_op(v, op, k) or (
        expected_in is not None and v != expected_in) or m["quoted"] not in (None, f"{op}{k}")
    return Segment("work", "", step=step, error=wrong)


def redo_line(redo: Segment, before: Segment | None) -> None:
    """A right careful line of a re-check that replaces an erroneous line of its step catches that
    error and makes the re-check a correction (one that rewrites a right line stays redundant)."""
    if before is not None and before.error and not before.caught:
        before.caught, redo.kind = True, "correction"


def check_segment(m: re.Match, latest: dict[int, Segment]) -> Segment:
    """A re-check: a correction when it says Wrong about a line that was an error."""
    step = STEP_LABELS.index(m["label"])
    target = latest.get(step)
    if m["verdict"] == "Correct":
        return Segment("check", "", step=step)
    if target is not None and target.error:
        target.caught = True
        return Segment("correction", "", step=step)
    return Segment("false_alarm", "", step=step)


def add_anatomy(frame: pd.DataFrame, problem_col: str = "problem",
                response_col: str = "response") -> pd.DataFrame:
    """``frame`` with ``n_checks``, ``n_corrections`` and ``n_errors`` per response (0 on garbage)."""
    out = frame.copy()
    parts = [anatomy(r, q) for r, q in zip(out[response_col].astype(str), out[problem_col].astype(str))]
    for col in COUNT_COLUMNS:
        out[col] = pd.array([getattr(a, col) for a in parts], dtype="int64")
    return out


# ----------------------------------------------------------------------------------
# Does reflection pay? Pre-sample statistics with intervals (bootstrap over problems)
# ----------------------------------------------------------------------------------

def _interval(stat, per_problem: np.ndarray, rng: np.random.Generator, samples: int) -> list[float]:
    """The point value and 95 % percentile interval of ``stat`` (a function of summed
    per-problem columns) over a bootstrap of the problems."""
    point = stat(per_problem.sum(axis=0))
    idx = rng.integers(len(per_problem), size=(samples, len(per_problem)))
    reps = np.array([stat(per_problem[i].sum(axis=0)) for i in idx])
    reps = reps[~np.isnan(reps)]
    lo, hi = (np.percentile(reps, [2.5, 97.5]) if len(reps) else (np.nan, np.nan))
    return [round(float(v), 2) for v in (point, lo, hi)]


def _ratio(num: int, den: int):
    return lambda t: 100 * t[num] / t[den] if t[den] else np.nan


def reflection_value(graded: pd.DataFrame, groups: dict[str, list[int]], samples: int = 1000,
                     seed: int = 0) -> dict:
    """Per group of levels: accuracy, the accuracy of samples with more re-checks than their
    problem's median minus that of samples with fewer (points), the share of samples with a
    correction and the accuracy of those; each [point, lo, hi] (``graded`` needs the anatomy
    columns, ``level`` and ``correct``).

    ``more_minus_fewer`` is paired: the mean over problems with samples on both sides of their
    median of that problem's difference. Pooling the samples of all problems instead confounds it
    with the problems' difficulty (a problem always wrong counts on whichever side its samples
    fall: on the generator's own easy traces, where no sample is more right than another of its
    problem, the pooled gap was -7 points); ``acc_more_checks`` and ``acc_fewer_checks`` are the
    pooled accuracies of the two sides, for reference."""
    rng = np.random.default_rng(seed)
    out = {}
    for name, levels in {"all": sorted(graded["level"].unique()), **groups}.items():
        df = graded[graded["level"].isin(levels)]
        rows = []
        for _, g in df.groupby("problem_id", sort=True):
            med, c = g["n_checks"].median(), g["correct"].astype(bool)
            more, fewer, fixed = g["n_checks"] > med, g["n_checks"] < med, g["n_corrections"] > 0
            both = bool(more.any() and fewer.any())
            diff = (c[more].mean() - c[fewer].mean()) if both else 0.0
            rows.append([c.sum(), len(g), (c & more).sum(), more.sum(), (c & fewer).sum(), fewer.sum(),
                         (c & fixed).sum(), fixed.sum(), diff, both])
        per = np.array(rows, dtype=float).reshape(-1, 10)
        gap = _ratio(8, 9)
        out[name] = {"levels": [int(v) for v in levels], "problems": len(per), "samples": int(per[:, 1].sum()),
                     "acc": _interval(_ratio(0, 1), per, rng, samples),
                     "acc_more_checks": _interval(_ratio(2, 3), per, rng, samples),
                     "acc_fewer_checks": _interval(_ratio(4, 5), per, rng, samples),
                     "more_minus_fewer": _interval(gap, per, rng, samples),
                     "paired_problems": int(per[:, 9].sum()),
                     "with_correction_pct": _interval(_ratio(7, 1), per, rng, samples),
                     "acc_with_correction": _interval(_ratio(6, 7), per, rng, samples),
                     "mean_checks": round(float(df["n_checks"].mean()), 3),
                     "mean_errors": round(float(df["n_errors"].mean()), 3)}
    return out


def reflection_table(value: dict) -> pd.DataFrame:
    """``reflection_value`` as one row per group, each statistic ``point [lo, hi]``."""
    def cell(v):
        return f"{v[0]:.1f} [{v[1]:.1f}, {v[2]:.1f}]" if isinstance(v, list) else v
    names = {"acc": "acc %", "more_minus_fewer": "more - fewer checks, within problem (pts)",
             "with_correction_pct": "with a correction %", "acc_with_correction": "acc with a correction %"}
    rows = [{"group": g, "levels": ",".join(map(str, r["levels"])), "problems": r["problems"],
             "samples": r["samples"], **{label: cell(r[k]) for k, label in names.items()},
             "checks / response": r["mean_checks"], "errors / response": r["mean_errors"]}
            for g, r in value.items()]
    return pd.DataFrame(rows)


# ----------------------------------------------------------------------------------
# The pruning anatomy table: what each method removed and kept, against the baseline
# ----------------------------------------------------------------------------------

def pruning_anatomy(evals: dict[tuple[str, str, str], pd.DataFrame],
                    baseline: str = "baseline") -> pd.DataFrame:
    """One row per (model, method, dataset) of ``evals``: mean checks, corrections and errors per response, and the
    share of the baseline's redundant checks (checks that are not corrections) removed and of its
    corrections kept. Frames lacking the anatomy columns are annotated here."""
    rows = []
    for (model, method, dataset), df in sorted(evals.items()):
        if not set(COUNT_COLUMNS) <= set(df.columns):
            df = add_anatomy(df)
        rows.append({"model": model, "method": method, "dataset": dataset, "n": len(df),
                     "acc": 100 * float(df["correct"].mean()) if len(df) else float("nan"),
                     **{c: float(df[c].mean()) if len(df) else float("nan") for c in COUNT_COLUMNS}})
    table = pd.DataFrame(rows, columns=["model", "method", "dataset", "n", "acc", *COUNT_COLUMNS])
    table["redundant"] = table["n_checks"] - table["n_corrections"]
    base = table[table["method"] == baseline].set_index(["model", "dataset"])
    keys = pd.MultiIndex.from_frame(table[["model", "dataset"]])
    ref_red = base["redundant"].reindex(keys).to_numpy()
    ref_cor = base["n_corrections"].reindex(keys).to_numpy()
    # a share of nothing is undefined (a baseline without redundant checks or corrections): NaN
    with np.errstate(divide="ignore", invalid="ignore"):
        table["redundant_removed_pct"] = np.where(ref_red > 0, 100 * (1 - table["redundant"] / ref_red), np.nan)
        table["corrections_kept_pct"] = np.where(ref_cor > 0, 100 * table["n_corrections"] / ref_cor, np.nan)
    return table.round(3)


def eval_key(path: Path) -> tuple[str, str, str]:
    """(model, run, dataset) of ``results/<model>/eval/<run>/<dataset>.parquet``."""
    return path.parent.parent.parent.name, path.parent.name, path.name.removesuffix(".parquet")


def write_markdown(table: pd.DataFrame, path: Path) -> None:
    cols = list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "---|" * len(cols)]
    lines += ["| " + " | ".join("" if pd.isna(v) else str(v) for v in row) + " |"
              for row in table.itertuples(index=False)]
    write_text("\n".join(lines) + "\n", path)
