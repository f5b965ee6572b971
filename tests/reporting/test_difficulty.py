"""Length and accuracy against difficulty, and the pre-samples per level."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from o1pruner.reporting.difficulty import (
    difficulty_bins,
    easy_vs_hard,
    length_by_difficulty,
    markdown,
    presample_by_difficulty,
    presample_markdown,
)


def _eval(levels, lengths, correct):
    return pd.DataFrame({"problem_id": [f"p{i}" for i in range(len(levels))], "level": levels,
                         "num_tokens": lengths, "correct": correct})


def test_levels_and_easy_vs_hard():
    levels = [1, 1, 2, 2, 3, 3]
    base = _eval(levels, [100, 100, 200, 200, 400, 400], [1, 1, 1, 0, 0, 1])
    # "lh" halves the easy problems, leaves the hard ones; "sft" the reverse
    lh = _eval(levels, [50, 50, 180, 180, 400, 400], [1, 1, 1, 1, 0, 1])
    sft = _eval(levels, [100, 100, 180, 180, 200, 200], [1, 1, 1, 0, 0, 0])
    t = length_by_difficulty({("toy", "baseline", "d"): base, ("toy", "lh", "d"): lh,
                              ("toy", "sft", "d"): sft})
    row = t[(t["method"] == "lh") & (t["difficulty"] == 1)].iloc[0]
    assert row["length_change"] == pytest.approx(-0.5) and row["acc"] == 100 and row["n_problems"] == 2
    assert t[(t["method"] == "sft") & (t["difficulty"] == 3)]["acc_change"].iloc[0] == pytest.approx(-50)
    assert set(t["difficulty_kind"]) == {"level"}
    s = easy_vs_hard(t).set_index("method")
    assert s.loc["lh", "easy_shortened_more"] is True or s.loc["lh", "easy_shortened_more"] == True  # noqa: E712
    assert not s.loc["sft", "easy_shortened_more"]
    md = markdown(t, easy_vs_hard(t))
    assert "| O1-Pruner | 50 (-50%), 100.0%" in md and "| O1-Pruner | d |" not in md
    assert "| toy | d | O1-Pruner | -50% (bin 1) | +0% (bin 3) | yes |" in md
    assert "| toy | d | SFT | +0% (bin 1) | -50% (bin 3) | no |" in md


def test_quintiles_of_reference_accuracy_without_levels():
    # level 0 everywhere (GSM8K): bins by the baseline's per-problem accuracy over 8 samples
    rng = np.random.default_rng(0)
    acc = np.repeat(np.linspace(0, 1, 50), 8)
    rows = pd.DataFrame({"problem_id": np.repeat([f"p{i}" for i in range(50)], 8), "level": 0,
                         "num_tokens": 100, "correct": (rng.random(400) < acc).astype(int)})
    bins, kind = difficulty_bins(rows)
    assert "quintile" in kind and bins.min() == 1 and bins.max() == 5
    assert sorted(bins.unique()) == list(range(1, bins.max() + 1))
    per_problem = rows.groupby("problem_id")["correct"].mean()
    # bin 1 (easiest) has a higher reference accuracy than bin 5
    assert per_problem[bins == 1].mean() > per_problem[bins == 5].mean()


def test_method_on_other_problems_is_an_error():
    base = _eval([1, 2], [10, 20], [1, 0])
    other = base.assign(problem_id=["x", "y"])
    with pytest.raises(ValueError, match="not evaluated on"):
        length_by_difficulty({("m", "baseline", "d"): base, ("m", "lh", "d"): other})


def test_presamples_per_level():
    g = pd.DataFrame({"problem_id": ["a", "a", "b", "b"], "level": [1, 1, 3, 3],
                      "num_tokens": [10, 30, 100, 300], "correct": [True, False, False, False]})
    p = presample_by_difficulty(g, "toy")
    assert p["length_correct"].tolist()[0] == 10 and np.isnan(p["length_correct"].tolist()[1])
    assert p["acc"].tolist() == [50.0, 0.0] and p["length_incorrect"].tolist() == [30.0, 200.0]
    assert "| toy | 3 | 1 | 2 | 0.0 | 200 |  | 200 |" in presample_markdown(p)


def test_greedy_reference_gives_two_bins():
    rows = _eval([0] * 6, [10] * 6, [1, 1, 1, 0, 0, 1])
    bins, _ = difficulty_bins(rows)
    assert bins.to_dict() == {"p0": 1, "p1": 1, "p2": 1, "p3": 2, "p4": 2, "p5": 1}


def test_pooled_sets_span_the_levels():
    from o1pruner.reporting.difficulty import with_pooled

    a, b = _eval([1, 1], [10, 20], [1, 1]), _eval([3, 3], [100, 100], [0, 1])
    s = with_pooled({("m", "baseline", "easy"): a, ("m", "baseline", "hard"): b,
                     ("m", "lh", "easy"): a.assign(num_tokens=5), ("m", "lh", "hard"): b})
    t = length_by_difficulty(s)
    pooled = t[(t["dataset"] == "ALL") & (t["method"] == "lh")].set_index("difficulty")
    assert pooled["length_change"].to_dict() == {1: pytest.approx(-2 / 3), 3: 0.0}
    assert easy_vs_hard(t).set_index(["dataset", "method"]).loc[("ALL", "lh"), "easy_shortened_more"]
    # no levels (GSM8K-like): nothing pooled
    z = a.assign(level=0)
    assert ("m", "baseline", "ALL") not in with_pooled({("m", "baseline", "x"): z, ("m", "baseline", "y"): z})


def test_easy_vs_hard_verdict_has_a_paired_interval():
    from o1pruner.reporting.difficulty import easy_hard_intervals

    rng = np.random.default_rng(0)
    levels = np.repeat([1, 2, 3], 60)
    base_t = rng.integers(80, 120, 180)
    base = _eval(levels, base_t, rng.random(180) < 0.7)
    halves_easy = base.assign(num_tokens=np.where(levels == 1, base_t // 2, base_t))  # clear
    noise = base.assign(num_tokens=base_t + rng.integers(-3, 4, 180))  # no real difference
    samples = {("m", "baseline", "d"): base, ("m", "lh", "d"): halves_easy, ("m", "sft", "d"): noise}
    t = length_by_difficulty(samples)
    s = easy_hard_intervals(samples, easy_vs_hard(t), n_boot=400).set_index("method")
    assert s.loc["lh", "verdict"] == "yes" and s.loc["lh", "easy_minus_hard_hi"] < -0.4
    assert s.loc["sft", "verdict"] == "unclear"
    assert s.loc["sft", "easy_minus_hard_lo"] < 0 < s.loc["sft", "easy_minus_hard_hi"]
    md = markdown(t, s.reset_index())
    assert "| m | d | O1-Pruner | -50% (bin 1) | +0% (bin 3) | yes | -50 pts [" in md
