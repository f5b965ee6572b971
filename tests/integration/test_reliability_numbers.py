"""Unusual model output, numeric edge cases and byte-identical reruns, through the CLI.

    PYTHONPATH=src .venv/bin/python -m pytest tests/integration/test_reliability_numbers.py -q

* ``o1pruner grade`` on a Parquet shard full of odd responses (no box, several boxes,
  unbalanced braces, 100k characters, empty, null, truncated at ``max_tokens``) grades
  every row deterministically, keeps every other column and never fails the shard;
* the chain grade -> reference-stats -> build-dataset (sft, dpo, lh) has no NaN or inf
  for zero-length responses, all-correct and all-wrong problems, ties (std 0) and a
  single problem;
* the same inputs and seed give byte-identical Parquet from every stage, also across
  processes with different hash seeds.

Pathological math (10^{10^{10}}, code payloads) is tested in tests/grading/test_grading_hostile.py.
"""

from __future__ import annotations

import math
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from o1pruner import cli
from o1pruner.schemas import GRADED, REFERENCE_STATS, SAMPLES
from tests.conftest import REPO

LONG = 100_000

# (response, gold, finish_reason, expected extracted, expected correct)
ODD_OUTPUTS = [
    ("The answer is 4.", "4", "stop", None, False),                                  # no box
    (r"first \boxed{3}, no wait: \boxed{4}", "4", "stop", "4", True),                # several: last wins
    (r"\boxed{4} hmm, actually \boxed{3}", "4", "stop", "3", False),
    (r"\boxed{4} \boxed{4} \boxed{4}", "4", "stop", "4", True),
    (r"\boxed{\boxed{4}}", "4", "stop", r"\boxed{4}", True),                        # nested
    (r"\boxed{4}}}}", "4", "stop", "4", True),                                       # extra closing braces
    (r"{{{ {\frac{1}{ \boxed{4}", "4", "stop", "4", True),                           # unbalanced before the box
    (r"\boxed{}", "4", "stop", None, False),                                         # empty box
    ("x" * LONG + r" so \boxed{4}", "4", "stop", "4", True),                         # 100k characters
    ("{" * LONG + r"\boxed{4}", "4", "stop", "4", True),
    ("\\boxed{" + "{" * LONG, "4", "length", None, False),                           # 100k, never closed
    (r"\boxed{3} let me re-check... so \boxed{4", "4", "length", None, False),       # truncated in the box
    ("Let me think step by step. First", "4", "length", None, False),               # truncated, no box
    ("", "4", "stop", None, False),                                                  # empty
    (None, "4", "stop", None, False),                                                # null
    (" \n\t", "4", "stop", None, False),
    ("\x00\x1b[2J\u202e \\boxed{4}\x07", "4", "stop", "4", True),                    # control characters
    (r"\boxed{4}", None, "stop", "4", False),                                        # no gold answer
    (r"\boxed{\frac{1}{2}}", "0.5", "stop", r"\frac{1}{2}", True),
]


def _samples(rows) -> pd.DataFrame:
    n = len(rows)
    return pd.DataFrame({
        "problem_id": [f"p{i:02d}" for i in range(n)], "sample_idx": [0] * n,
        "prompt": ["<prompt>"] * n, "problem": ["what is 2+2?"] * n,
        "response": [r[0] for r in rows],
        "num_tokens": [0 if not r[0] else min(len(r[0]) // 4 + 1, 512) for r in rows],
        "thinking_tokens": [0] * n,
        "answer_tokens": [0 if not r[0] else min(len(r[0]) // 4 + 1, 512) for r in rows],
        "finish_reason": [r[2] for r in rows], "seed": [0] * n, "gold": [r[1] for r in rows],
        # columns grading knows nothing about must come through unchanged
        "level": list(range(n)), "note": [f"row {i} ü" for i in range(n)],
    })


def test_grade_shard_of_odd_outputs(tmp_path):
    src = tmp_path / "samples-0-of-1.parquet"
    samples = _samples(ODD_OUTPUTS)
    samples.to_parquet(src, index=False)
    outs = [tmp_path / "graded-a.parquet", tmp_path / "graded-b.parquet"]
    for out in outs:
        assert cli.main(["grade", "--input", str(src), "--output", str(out), "--timeout", "3"]) == 0
    assert outs[0].read_bytes() == outs[1].read_bytes()  # deterministic, byte for byte

    graded = pd.read_parquet(outs[0])
    assert list(graded.columns) == list(samples.columns) + ["extracted", "correct"]
    assert set(GRADED) <= set(graded.columns)
    pd.testing.assert_frame_equal(graded[samples.columns], samples)  # rows, order, extra columns
    assert graded["correct"].dtype == bool
    expected = [(r[3], r[4]) for r in ODD_OUTPUTS]
    got = [(None if pd.isna(e) else e, bool(c)) for e, c in zip(graded["extracted"], graded["correct"])]
    assert got == expected


# ---- numeric edge cases through the CLI chain ------------------------------------------

def _graded_rows(spec: dict[str, list[tuple[int, bool]]]) -> pd.DataFrame:
    """Samples whose responses grade to ``correct`` (a boxed 4 or 5 against gold 4)."""
    rows = []
    for pid, samples in spec.items():
        for j, (n_tokens, ok) in enumerate(samples):
            text = "" if n_tokens == 0 else "t " * (n_tokens - 1) + (r"\boxed{4}" if ok else r"\boxed{5}")
            rows.append({"problem_id": pid, "sample_idx": j, "prompt": f"<{pid}>", "problem": pid,
                         "response": text, "num_tokens": n_tokens, "thinking_tokens": 0,
                         "answer_tokens": n_tokens, "finish_reason": "stop", "seed": 0, "gold": "4"})
    return pd.DataFrame(rows, columns=SAMPLES)


def _chain(tmp_path, samples: pd.DataFrame, tag: str = "") -> dict[str, pd.DataFrame]:
    """grade -> reference-stats -> build-dataset (sft, dpo, lh), all through ``o1pruner``; return the tables."""
    d = tmp_path / f"chain{tag}"
    d.mkdir()
    samples.to_parquet(d / "samples.parquet", index=False)
    steps = [
        ["grade", "--input", d / "samples.parquet", "--output", d / "graded.parquet"],
        ["reference-stats", "--graded", d / "graded.parquet", "--output", d / "stats.parquet"],
        ["build-dataset", "--method", "sft", "--samples", d / "graded.parquet", "--stats", d / "stats.parquet",
         "--method-json", '{"n_shortest": 2}', "--output", d / "sft.parquet"],
        ["build-dataset", "--method", "dpo", "--samples", d / "graded.parquet", "--stats", d / "stats.parquet",
         "--method-json", '{"n_chosen": 2}', "--output", d / "dpo.parquet"],
        ["build-dataset", "--method", "lh", "--samples", d / "graded.parquet", "--stats", d / "stats.parquet",
         "--value", "2", "--seed", "0", "--method-json", '{"samples_per_problem": 10, "clip": [-2, 4]}',
         "--output", d / "lh.parquet"],
    ]
    for argv in steps:
        assert cli.main([str(a) for a in argv]) == 0, argv
    return {name: pd.read_parquet(d / f"{name}.parquet") for name in ("graded", "stats", "sft", "dpo", "lh")}


def _assert_finite(df: pd.DataFrame, columns) -> None:
    for c in columns:
        values = df[c].to_numpy(dtype=float)
        assert np.isfinite(values).all(), f"{c}: {values}"


EDGE = {
    "all_right": [(30, True), (10, True), (20, True)],
    "all_wrong": [(30, False), (10, False), (50, False)],
    "empty": [(0, False), (0, False), (0, False)],            # zero-length responses only
    "some_empty": [(0, False), (12, True), (0, False)],
    "tied": [(8, True), (8, True), (8, True)],                # std 0 inside the problem
    "single": [(15, True)],                                   # one sample
}


def test_edge_cases_have_no_nan_or_inf(tmp_path):
    t = _chain(tmp_path, _graded_rows(EDGE))
    assert t["graded"].groupby("problem_id")["correct"].sum().to_dict() == {
        "all_right": 3, "all_wrong": 0, "empty": 0, "some_empty": 1, "single": 1, "tied": 3}

    stats = t["stats"].set_index("problem_id")
    assert list(t["stats"].columns) == REFERENCE_STATS
    _assert_finite(stats, ["n_samples", "mean_length", "mean_acc", "min_length", "max_length", "std_length"])
    assert stats.loc["empty", "mean_length"] == 0 and stats.loc["tied", "std_length"] == 0
    assert stats.loc["single", "std_length"] == 0  # population std: no NaN for one sample
    # the one documented NaN: a problem without a correct sample has no shortest correct length
    nan = stats["shortest_correct_length"].isna()
    assert sorted(stats.index[nan]) == ["all_wrong", "empty"]

    lh = t["lh"]
    _assert_finite(lh, ["reward", "reward_clipped", "weight", "ref_mean_length", "ref_mean_acc"])
    assert len(lh) == sum(map(len, EDGE.values()))  # every sample (--samples-per-problem 10)
    # L = max(num_tokens, 1): an empty response of a problem whose samples are all empty has
    # R = 0/1 - 1 = -1; in "some_empty" (L̄ = 4, Ā = 1/3) R = 4/1 - 1 + 2(0 - 1/3) and 4/12 - 1 + 2(1 - 1/3)
    r = lh.set_index(["problem_id", "sample_idx"])["reward"]
    assert (r.loc["empty"] == -1.0).all()
    assert math.isclose(r.loc[("some_empty", 0)], 3 - 2 / 3) and math.isclose(r.loc[("some_empty", 2)], 3 - 2 / 3)
    assert math.isclose(r.loc[("some_empty", 1)], 2 / 3)
    assert (r.loc["tied"] == 0).all() and r.loc[("single", 0)] == 0
    assert abs(lh["weight"].mean()) < 1e-9 and abs(lh["weight"].std(ddof=0) - 1) < 1e-9

    assert set(t["sft"]["problem_id"]) == {"all_right", "some_empty", "single", "tied"}
    assert (t["sft"]["num_tokens"] > 0).all()  # an empty response is never a correct one
    _assert_finite(t["dpo"], ["chosen_tokens", "rejected_tokens"])
    assert "single" not in set(t["dpo"]["problem_id"])  # nothing to reject
    assert "tied" not in set(t["dpo"]["problem_id"])    # identical texts: no preference to learn


@pytest.mark.parametrize("spec, weights", [
    ({"only": [(15, True)]}, [0.0]),                                      # a single problem, one sample
    ({"a": [(5, True), (5, True)], "b": [(5, False), (5, False)]}, [0.0] * 4),  # every reward ties
    ({"a": [(0, False), (0, False)], "b": [(0, False)]}, [0.0] * 3),      # all responses empty
])
def test_degenerate_datasets_get_zero_weights_not_nan(tmp_path, spec, weights):
    lh = _chain(tmp_path, _graded_rows(spec))["lh"]
    assert lh["weight"].tolist() == weights
    _assert_finite(lh, ["reward", "reward_clipped", "ref_mean_length", "ref_mean_acc"])


# ---- byte-identical reruns --------------------------------------------------------------

DETERMINISM_SCRIPT = r"""
import json, sys
from pathlib import Path
import numpy as np, pandas as pd
from o1pruner import cli

out = Path(sys.argv[1]); out.mkdir()
rng = np.random.default_rng(0)
# local dataset: rows in a fixed order, some bad ones skipped
rows = [{"problem": f"what is {i} + {i}?", "answer": str(2 * i)} for i in range(30)] + [{"problem": ""}]
(out / "raw.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
specs = {"local": {"source": "local", "path": str(out / "raw.jsonl"), "on_bad_row": "skip",
                   "limit": 20, "seed": 4},
         "toy": {"source": "toy", "n": 40, "levels": [3, 5], "seed": 9, "on_bad_row": "skip"}}
for name, spec in specs.items():
    assert cli.main(["prepare-data", "--spec", json.dumps(spec), "--dataset", name,
                     "--output", str(out / f"{name}.parquet")]) == 0
probs = pd.read_parquet(out / "local.parquet")
samples = []
for _, p in probs.iterrows():
    for j in range(6):
        n = int(rng.integers(0, 60))
        ans = p["answer"] if rng.random() < 0.5 else "-1"
        samples.append({"problem_id": p["problem_id"], "sample_idx": j, "prompt": "<p>",
                        "problem": p["problem"], "response": ("w " * n) + f"\\boxed{{{ans}}}" if n else "",
                        "num_tokens": n, "finish_reason": "stop", "seed": 0, "gold": p["answer"]})
pd.DataFrame(samples).to_parquet(out / "samples.parquet", index=False)
g = str(out / "graded.parquet")
assert cli.main(["grade", "--input", str(out / "samples.parquet"), "--output", g]) == 0
assert cli.main(["reference-stats", "--graded", g, "--output", str(out / "stats.parquet")]) == 0
st = ["--stats", str(out / "stats.parquet")]
assert cli.main(["build-dataset", "--method", "sft", "--samples", g, *st, "--output", str(out / "sft.parquet")]) == 0
assert cli.main(["build-dataset", "--method", "dpo", "--samples", g, *st, "--output", str(out / "dpo.parquet")]) == 0
lh = ["--method", "lh", "--method-json", '{"samples_per_problem": 2, "clip": [-2, 4]}']
for lam in ("0", "2"):
    assert cli.main(["build-dataset", *lh, "--samples", g, *st, "--value", lam,
                     "--seed", "3", "--output", str(out / f"lh_{lam}.parquet")]) == 0
assert cli.main(["build-dataset", *lh, "--samples", g, *st, "--value", "2",
                 "--seed", "0", "--difficulty-percentiles", "20", "70",
                 "--output", str(out / "lh_split.parquet")]) == 0
"""

OUTPUTS = ["local", "toy", "samples", "graded", "stats", "sft", "dpo", "lh_0", "lh_2", "lh_split"]


def test_every_stage_is_byte_identical_across_runs_and_hash_seeds(tmp_path):
    """Two fresh processes with different PYTHONHASHSEED (set and dict order) write the same bytes."""
    script = tmp_path / "pipeline.py"
    script.write_text(DETERMINISM_SCRIPT)
    for run, hash_seed in (("a", "1"), ("b", "12345")):
        env = {**os.environ, "PYTHONPATH": str(REPO / "src") + os.pathsep + str(REPO),
               "PYTHONHASHSEED": hash_seed}
        res = subprocess.run([sys.executable, str(script), str(tmp_path / run)], cwd=tmp_path,
                             capture_output=True, text=True, timeout=600, env=env)
        assert res.returncode == 0, res.stderr[-3000:]
    for name in OUTPUTS:
        a, b = tmp_path / "a" / f"{name}.parquet", tmp_path / "b" / f"{name}.parquet"
        assert a.read_bytes() == b.read_bytes(), name
        assert len(pd.read_parquet(a)) > 0, name
    split = pd.read_parquet(tmp_path / "a" / "lh_split.parquet")
    assert split["problem_id"].nunique() < pd.read_parquet(tmp_path / "a" / "lh_2.parquet")["problem_id"].nunique()
