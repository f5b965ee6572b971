"""Paired bootstrap over problems: intervals, pairing, sampled evaluation, AES per replicate."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from o1pruner.evaluation.aes import compute_aes
from o1pruner.evaluation.bootstrap import (
    attach_intervals,
    bootstrap_cells,
    counts_from_indices,
    discordance,
    naive_bootstrap_cells,
    problems_needed,
)


def _rows(correct, tokens, prefix="p", samples=1):
    n = len(correct) // samples
    return pd.DataFrame({"problem_id": [f"{prefix}{i // samples}" for i in range(n * samples)],
                         "correct": correct, "num_tokens": tokens})


def _toy_samples(seed=0, n=200):
    rng = np.random.default_rng(seed)
    out = {}
    for dataset in ("easy", "hard"):
        base_c = rng.random(n) < 0.6
        base_t = rng.integers(50, 150, n)
        better_c = base_c | (rng.random(n) < 0.5)
        out[("toy", "baseline", None, dataset)] = _rows(base_c, base_t)
        out[("toy", "lh", 2.0, dataset)] = _rows(better_c, (base_t * 0.5).astype(int))
        out[("toy", "sft", None, dataset)] = _rows(base_c, base_t)  # identical to the baseline
    return out


def test_vectorised_equals_the_plain_loop():
    samples = _toy_samples()
    fast = bootstrap_cells(samples, n_boot=200, seed=3)
    slow = naive_bootstrap_cells(samples, n_boot=200, seed=3)
    pd.testing.assert_frame_equal(fast, slow, check_exact=False, rtol=1e-12, atol=1e-9)
    assert set(fast["dataset"]) == {"easy", "hard", "AVERAGE"}


def test_pairing_makes_an_identical_method_differ_by_exactly_zero():
    ci = bootstrap_cells(_toy_samples(), n_boot=300, seed=0).set_index(["method", "dataset"])
    same = ci.loc[("sft", "easy")]
    assert same["acc_diff_lo"] == same["acc_diff_hi"] == 0.0
    assert same["aes_lo"] == same["aes_hi"] == 0.0
    assert same["acc_hi"] - same["acc_lo"] > 5  # the level itself is uncertain
    better = ci.loc[("lh", "AVERAGE")]
    assert better["acc_diff_lo"] > 0 and better["length_diff_hi"] < 0 and better["aes_lo"] > 0


def test_average_is_the_per_replicate_mean_over_datasets():
    samples = _toy_samples(n=60)
    ci = bootstrap_cells(samples, n_boot=500, seed=1).set_index(["method", "dataset"])
    # AVERAGE interval is narrower than each dataset's (two independent draws averaged)
    w = lambda k: ci.loc[k, "acc_hi"] - ci.loc[k, "acc_lo"]  # noqa: E731
    assert w(("baseline", "AVERAGE")) < max(w(("baseline", "easy")), w(("baseline", "hard")))
    avg_point = np.mean([samples[("toy", "baseline", None, d)]["correct"].mean() * 100 for d in ("easy", "hard")])
    assert ci.loc[("baseline", "AVERAGE"), "acc_lo"] < avg_point < ci.loc[("baseline", "AVERAGE"), "acc_hi"]


def test_sampled_evaluation_resamples_problems_with_their_samples():
    # 2 problems x 4 samples: problem a always right, b always wrong; a replicate draws a, b or
    # both with all 4 samples, so the replicate accuracy is 0, 50 or 100 – never 25 or 75
    rows = _rows([1, 1, 1, 1, 0, 0, 0, 0], [10] * 8, samples=4)
    samples = {("m", "baseline", None, "d"): rows,
               ("m", "lh", None, "d"): rows.assign(num_tokens=5)}
    from o1pruner.evaluation.bootstrap import bootstrap_group

    reps = bootstrap_group({("baseline", None): rows, ("lh", None): rows}, 400,
                           np.random.default_rng(0), {"alpha": 1, "beta": 3, "gamma": 5}, "paper")
    assert set(np.unique(reps[("baseline", None)]["acc"])) <= {0.0, 50.0, 100.0}
    ci = bootstrap_cells(samples, n_boot=400)
    assert ci["length_diff_lo"].min() == -5.0


def test_replicate_aes_uses_the_replicate_baseline():
    # method = baseline with half the tokens on every problem: ΔLength is 0.5 in every
    # replicate, ΔAcc 0, so AES is exactly 0.5 whatever the draw (an unpaired baseline would vary)
    base = _rows(np.arange(50) % 2, np.arange(50) + 10)
    half = base.assign(num_tokens=base["num_tokens"] / 2)
    ci = bootstrap_cells({("m", "baseline", None, "d"): base, ("m", "lh", None, "d"): half}, n_boot=200)
    row = ci[ci["method"] == "lh"].iloc[0]
    assert row["aes_lo"] == pytest.approx(0.5) and row["aes_hi"] == pytest.approx(0.5)


def test_unpaired_problem_sets_are_an_error():
    base = _rows([1, 0, 1], [5, 5, 5])
    other = _rows([1, 0, 1], [5, 5, 5], prefix="q")
    with pytest.raises(ValueError, match="not the baseline's problems"):
        bootstrap_cells({("m", "baseline", None, "d"): base, ("m", "lh", None, "d"): other}, n_boot=10)


def test_attach_keeps_point_estimates_and_adds_columns():
    samples = _toy_samples(n=50)
    metrics = pd.DataFrame([{"model": m, "method": meth, "lambda": lam, "dataset": d,
                             "acc": 100 * r["correct"].mean(), "length": r["num_tokens"].mean()}
                            for (m, meth, lam, d), r in samples.items()])
    aes = compute_aes(metrics)
    out = attach_intervals(aes, bootstrap_cells(samples, n_boot=100))
    pd.testing.assert_frame_equal(out[aes.columns], aes)
    assert {"acc_lo", "acc_hi", "aes_lo", "acc_diff", "acc_diff_hi", "length_diff_lo"} <= set(out.columns)
    lh = out[(out["method"] == "lh") & (out["dataset"] == "easy")].iloc[0]
    assert lh["acc_lo"] <= lh["acc"] <= lh["acc_hi"]


def test_counts_and_sample_size():
    idx = np.array([[0, 0, 2], [1, 2, 2]])
    assert counts_from_indices(idx, 3).tolist() == [[2, 0, 1], [0, 1, 2]]
    d = discordance(np.array([1, 1, 0, 0]), np.array([1, 0, 1, 1]))
    assert d["p_gain"] == 0.5 and d["p_loss"] == 0.25
    # Var(d) = 0.25 -> n = 1.96² · 0.25 / 0.03² ≈ 1068
    assert problems_needed(0.25, 3.0) == 1068


def test_eval_set_size_gives_the_asked_half_width():
    from o1pruner.evaluation.bootstrap import eval_set_size

    def sets(n, seed):
        rng = np.random.default_rng(seed)
        base = rng.random(n) < 0.8
        u = rng.random(n)
        lh = np.where(u < 0.06, ~base, base)  # 6 % of the problems flip, either way
        ids = [f"p{i}" for i in range(n)]
        return {("toy", "baseline", None, "d"): pd.DataFrame({"problem_id": ids, "correct": base, "num_tokens": 1}),
                ("toy", "lh", 2.0, "d"): pd.DataFrame({"problem_id": ids, "correct": lh, "num_tokens": 1})}

    est = eval_set_size(sets(3000, 0), "lh", 3.0).iloc[0]
    # Var(d) ≈ 0.06 -> n ≈ 1.96² · 0.06 / 0.03² ≈ 256
    assert 200 < est["n_needed"] < 320
    assert est["n_needed"] == problems_needed(est["var_d"], 3.0)
    # at the proposed size the paired bootstrap interval is indeed about ±3 points
    again = eval_set_size(sets(int(est["n_needed"]), 1), "lh", 3.0).iloc[0]
    assert 2.3 < again["bootstrap_half_width_now"] < 3.7


def test_eval_set_size_without_discordance_gives_no_size():
    from o1pruner.evaluation.bootstrap import eval_set_size

    rows = _rows([1, 0, 1, 1], [5, 5, 5, 5])
    out = eval_set_size({("m", "baseline", None, "d"): rows, ("m", "lh", None, "d"): rows}).iloc[0]
    assert out["n_needed"] is None or pd.isna(out["n_needed"])
