"""One reward on the two trainers: the on-policy run against the off-policy one (o1pruner.reporting.trainers)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from o1pruner.evaluation.bootstrap import paired_difference
from o1pruner.reporting import trainers


def _rows(correct, tokens, ids=None) -> pd.DataFrame:
    ids = ids or [f"p{i}" for i in range(len(correct))]
    return pd.DataFrame({"problem_id": ids, "correct": correct, "num_tokens": tokens})


def test_each_on_policy_method_pairs_with_its_off_policy_twin():
    assert trainers.off_policy_twin("lh_onpolicy") == "lh"
    assert trainers.off_policy_twin("kimi_onpolicy") == "kimi"
    assert trainers.off_policy_twin("lh") is None and trainers.off_policy_twin("sft") is None
    assert trainers.trainer_pairs(["baseline", "lh", "kimi_onpolicy", "lh_onpolicy"]) == [("lh", "lh_onpolicy")]
    assert trainers.trainer_pairs(["baseline", "lh"]) == []


def test_paired_difference_draws_the_same_problems_for_both_runs():
    a = _rows([True, False, True, False], [10, 20, 30, 40])
    same = paired_difference(a, a.sample(frac=1, random_state=1), 200, np.random.default_rng(0))
    assert not same["acc_diff"].any() and not same["length_diff"].any()  # paired: identical runs never differ
    # b: every problem right and 10 tokens shorter -> +50 points on average, −10 tokens in every replicate
    b = _rows([True] * 4, [0, 10, 20, 30])
    d = paired_difference(a, b, 500, np.random.default_rng(0))
    assert np.allclose(d["length_diff"], -10.0)
    assert d["acc_diff"].min() >= 0 and 40 < d["acc_diff"].mean() < 60
    with pytest.raises(ValueError, match="second run.*missing"):
        paired_difference(a, b.iloc[:3], 10, np.random.default_rng(0))


def test_compare_gives_each_set_and_the_average_with_intervals():
    off = {"s1": _rows([True, True, False, False], [10, 10, 10, 10]), "s2": _rows([True] * 4, [20, 20, 20, 20])}
    on = {"s1": _rows([True, True, True, False], [5, 5, 5, 5]), "s2": _rows([True] * 4, [20, 20, 20, 20])}
    evals = {("toy", run, d): rows[d] for run, rows in (("lh_lambda_2", off), ("lh_onpolicy_lambda_2", on))
             for d in ("s1", "s2")}
    table = trainers.compare(evals, [("toy", "lh_lambda_2", "lh_onpolicy_lambda_2")], ["s1", "s2"], n_boot=300)
    assert list(table.columns) == trainers.COLUMNS
    assert table["dataset"].tolist() == ["s1", "s2", "AVERAGE"] and set(table["reward"]) == {"lh"}
    s1, s2, avg = (table.iloc[i] for i in range(3))
    assert (s1["acc_off"], s1["acc_on"], s1["acc_diff"], s1["length_diff"]) == (50.0, 75.0, 25.0, -5.0)
    assert s2["acc_diff"] == s2["acc_diff_lo"] == s2["acc_diff_hi"] == 0.0
    assert avg["acc_diff"] == pytest.approx(12.5) and avg["length_diff"] == pytest.approx(-2.5)
    assert avg["length_diff_lo"] == avg["length_diff_hi"] == pytest.approx(-2.5)
    assert s1["acc_diff_lo"] <= 25.0 <= s1["acc_diff_hi"]
    md = trainers.markdown(table)
    assert "| toy | lh | lh_lambda_2 | lh_onpolicy_lambda_2 | s1 | 50.0 → 75.0 | +25.0 [" in md
    assert "| -5.0 [-5.0, -5.0] | yes |" in md  # every replicate 5 tokens shorter: holds
    assert md.count("| no |") >= 1  # s2: no difference at all
