"""SFT / DPO / Length-Harmonizing dataset builders (o1pruner.methods.datasets)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from o1pruner import cli
from o1pruner.methods.datasets import build_dpo, build_lh, build_sft
from o1pruner.schemas import SchemaError


def graded_table(rows: list[tuple]) -> pd.DataFrame:
    """rows: (problem_id, sample_idx, num_tokens, correct)."""
    return pd.DataFrame([
        {
            "problem_id": pid, "sample_idx": idx, "prompt": f"<prompt {pid}>", "problem": f"problem {pid}",
            "response": f"response {pid}/{idx} " + "x" * n, "num_tokens": n, "finish_reason": "stop",
            "seed": 0, "gold": "1", "extracted": "1" if ok else "2", "correct": ok,
        }
        for pid, idx, n, ok in rows
    ])


# problem a: L̄_ref = (100+200+50+150)/4 = 125, Ā_ref = 3/4
# problem b: L̄_ref = (300+100)/2 = 200,      Ā_ref = 1/2
TABLE = graded_table([
    ("a", 0, 100, True), ("a", 1, 200, False), ("a", 2, 50, True), ("a", 3, 150, True),
    ("b", 0, 300, False), ("b", 1, 100, True),
])


def test_lh_weights_equal_formula_with_clip_and_standardisation():
    out = build_lh(TABLE, lam=2.0, samples_per_problem=10, clip=(-1.5, 1.8))
    # R = L̄/L - 1 + 2 (A - Ā), by hand:
    raw = [
        125 / 100 - 1 + 2 * (1 - 0.75),   # a0 =  0.75
        125 / 200 - 1 + 2 * (0 - 0.75),   # a1 = -1.875 -> clipped to -1.5
        125 / 50 - 1 + 2 * (1 - 0.75),    # a2 =  2.0   -> clipped to  1.8
        125 / 150 - 1 + 2 * (1 - 0.75),   # a3 =  1/3
        200 / 300 - 1 + 2 * (0 - 0.5),    # b0 = -4/3
        200 / 100 - 1 + 2 * (1 - 0.5),    # b1 =  2.0   -> clipped to  1.8
    ]
    clipped = [0.75, -1.5, 1.8, 1 / 3, -4 / 3, 1.8]
    mean = sum(clipped) / 6
    std = math.sqrt(sum((c - mean) ** 2 for c in clipped) / 6)  # population std
    weight = [(c - mean) / std for c in clipped]

    assert out["problem_id"].tolist() == ["a"] * 4 + ["b"] * 2
    assert out["sample_idx"].tolist() == [0, 1, 2, 3, 0, 1]
    np.testing.assert_allclose(out["reward"], raw, rtol=1e-12)
    np.testing.assert_allclose(out["reward_clipped"], clipped, rtol=1e-12)
    np.testing.assert_allclose(out["weight"], weight, rtol=1e-12)
    np.testing.assert_allclose(out["ref_mean_length"], [125] * 4 + [200] * 2)
    np.testing.assert_allclose(out["ref_mean_acc"], [0.75] * 4 + [0.5] * 2)
    assert out["correct"].tolist() == [True, False, True, True, False, True]


def test_lh_stats_argument_overrides_computed_means():
    stats = pd.DataFrame({"problem_id": ["a", "b"], "mean_length": [100.0, 100.0], "mean_acc": [0.0, 0.0]})
    out = build_lh(TABLE, lam=1.0, samples_per_problem=10, clip=(-100, 100), stats=stats)
    # R = 100/L - 1 + 1·A
    np.testing.assert_allclose(out["reward"], [1.0, -0.5, 2.0, 100 / 150, 100 / 300 - 1, 1.0])
    with pytest.raises(ValueError, match="no row for problem"):
        build_lh(TABLE, lam=1.0, stats=stats.iloc[:1])


def test_lh_random_pick_takes_distinct_samples_per_problem():
    picks = set()
    for seed in range(8):
        out = build_lh(TABLE, lam=2.0, samples_per_problem=2, seed=seed)
        assert out.groupby("problem_id")["sample_idx"].nunique().to_dict() == {"a": 2, "b": 2}
        picks.add(tuple(out["sample_idx"]))
    assert len(picks) > 1  # the seed does change the pick


def test_lh_fewer_samples_than_requested_takes_all():
    out = build_lh(TABLE, lam=2.0, samples_per_problem=3, seed=0)
    assert out.groupby("problem_id").size().to_dict() == {"a": 3, "b": 2}


def test_lh_zero_length_response_uses_length_one():
    table = graded_table([("z", 0, 0, True), ("z", 1, 10, True)])
    out = build_lh(table, lam=2.0, samples_per_problem=2, clip=(-100, 100))
    # L̄ = 5, L = max(0, 1) = 1, A - Ā = 0  ->  R = 5/1 - 1 = 4
    assert out["reward"].tolist() == [4.0, 5 / 10 - 1]
    assert np.isfinite(out["weight"]).all()
    assert out["weight"].tolist() == [1.0, -1.0]  # two values standardise to ±1


def test_lh_no_correct_and_all_correct_problems_have_pure_length_reward():
    table = graded_table([
        ("none", 0, 10, False), ("none", 1, 30, False),
        ("all", 0, 40, True), ("all", 1, 10, True),
    ])
    out = build_lh(table, lam=5.0, samples_per_problem=2, clip=(-100, 100))
    # A - Ā = 0 in both: R = L̄/L - 1 (L̄_none = 20, L̄_all = 25); rows sorted by problem_id
    assert out["problem_id"].tolist() == ["all", "all", "none", "none"]
    np.testing.assert_allclose(out["reward"], [25 / 40 - 1, 25 / 10 - 1, 20 / 10 - 1, 20 / 30 - 1])
    assert np.isfinite(out["weight"]).all()


def test_lh_zero_std_gives_zero_weights():
    single = build_lh(graded_table([("s", 0, 10, True)]), lam=2.0)
    assert len(single) == 1 and single["reward"].tolist() == [0.0] and single["weight"].tolist() == [0.0]
    # every sample of every problem has the same length and correctness -> every R = 0
    tied = build_lh(graded_table([("p", 0, 7, True), ("p", 1, 7, True), ("q", 0, 7, False)]), lam=2.0)
    assert tied["weight"].tolist() == [0.0, 0.0, 0.0]
    # all clipped to the same bound -> tied after clipping, weight 0
    clipped = build_lh(TABLE, lam=2.0, samples_per_problem=10, clip=(5.0, 6.0))
    assert clipped["reward_clipped"].tolist() == [5.0] * 6 and clipped["weight"].tolist() == [0.0] * 6


def test_lh_single_problem_is_standardised():
    out = build_lh(TABLE[TABLE.problem_id == "a"], lam=2.0, samples_per_problem=4)
    assert len(out) == 4
    assert abs(out["weight"].mean()) < 1e-12 and abs(out["weight"].std(ddof=0) - 1) < 1e-12


def test_lh_rejects_bad_arguments():
    with pytest.raises(ValueError, match="lambda"):
        build_lh(TABLE, lam=-0.1)
    with pytest.raises(ValueError, match="clip"):
        build_lh(TABLE, lam=1, clip=(1.0, -1.0))
    with pytest.raises(SchemaError, match="correct"):
        build_lh(TABLE.drop(columns=["correct"]), lam=1)
    with pytest.raises(ValueError, match="duplicate"):
        build_lh(pd.concat([TABLE, TABLE.iloc[:1]]), lam=1)


def test_lh_empty_table_gives_empty_dataset():
    out = build_lh(TABLE.iloc[:0], lam=2.0)
    assert len(out) == 0 and "weight" in out.columns


def test_sft_selects_shortest_correct_with_sample_idx_ties():
    table = pd.concat([TABLE, graded_table([
        ("c", 0, 80, True), ("c", 1, 80, True), ("c", 2, 80, True),
        ("d", 0, 10, False), ("d", 1, 20, False),
    ])])
    out = build_sft(table, n_shortest=2)
    assert list(out.columns) == ["problem_id", "sample_idx", "prompt", "response", "num_tokens", "problem"]
    assert list(zip(out.problem_id, out.sample_idx)) == [("a", 2), ("a", 0), ("b", 1), ("c", 0), ("c", 1)]
    assert out["num_tokens"].tolist() == [50, 100, 100, 80, 80]
    assert out["response"].iloc[0] == TABLE.loc[2, "response"]


def test_dpo_pairs_shortest_correct_with_longest_other():
    table = pd.concat([TABLE, graded_table([
        ("c", 0, 80, True), ("c", 1, 80, True), ("c", 2, 80, True),
        ("d", 0, 10, False), ("d", 1, 20, False),   # no correct sample: skipped
        ("e", 0, 10, True),                         # nothing left to reject: skipped
        ("f", 0, 10, True), ("f", 1, 500, True), ("f", 2, 500, False),  # tie on the longest
    ])])
    out = build_dpo(table, n_chosen=2)
    assert list(out.columns)[:6] == ["problem_id", "prompt", "chosen", "rejected", "chosen_tokens", "rejected_tokens"]
    got = list(zip(out.problem_id, out.chosen_sample_idx, out.rejected_sample_idx))
    # f: chosen = 0 and 1 (the two shortest correct), rejected = 2, the only one left
    assert got == [("a", 2, 1), ("a", 0, 1), ("b", 1, 0), ("c", 0, 2), ("c", 1, 2), ("f", 0, 2), ("f", 1, 2)]
    assert out["chosen_tokens"].tolist() == [50, 100, 100, 80, 80, 10, 500]
    assert out["rejected_tokens"].tolist() == [200, 200, 300, 80, 80, 500, 500]
    assert out["rejected"].iloc[0] == TABLE.loc[1, "response"] and out["prompt"].iloc[0] == "<prompt a>"
    # n=1: the tie between f/1 and f/2 on the longest goes to the lower sample_idx
    one = build_dpo(table, n_chosen=1)
    assert one[one.problem_id == "f"]["rejected_sample_idx"].tolist() == [1]


def _write(df: pd.DataFrame, path) -> str:
    df.to_parquet(path, index=False)
    return str(path)


def test_cli_round_trip_and_byte_identical_determinism(tmp_path):
    big = graded_table([(f"p{i:02d}", j, int(n), bool(ok)) for i in range(12) for j, (n, ok) in
                        enumerate(zip(np.random.default_rng(i).integers(1, 400, 6),
                                      np.random.default_rng(100 + i).integers(0, 2, 6)))])
    src = _write(big, tmp_path / "graded.parquet")
    shuffled = _write(big.sample(frac=1.0, random_state=3), tmp_path / "shuffled.parquet")
    outs = []
    for name, inp in [("1", src), ("2", src), ("3", shuffled)]:
        out = tmp_path / f"lh{name}.parquet"
        assert cli.main(["build-dataset", "--method", "lh", "--samples", inp, "--value", "2", "--output", str(out),
                         "--method-json", '{"samples_per_problem": 2, "clip": [-2, 4]}', "--seed", "7"]) == 0
        outs.append(out)
    assert outs[0].read_bytes() == outs[1].read_bytes() == outs[2].read_bytes()
    df = pd.read_parquet(outs[0])
    pd.testing.assert_frame_equal(df, build_lh(big, lam=2.0, samples_per_problem=2, seed=7))
    assert len(df) == 24 and np.isfinite(df["weight"]).all()
    assert not list(tmp_path.glob(".*tmp*"))  # atomic write left no temporary file

    for name, key, fn in [("sft", "n_shortest", build_sft), ("dpo", "n_chosen", build_dpo)]:
        out = tmp_path / f"{name}.parquet"
        assert cli.main(["build-dataset", "--method", name, "--samples", shuffled, "--output", str(out),
                         "--method-json", f'{{"{key}": 1}}']) == 0
        pd.testing.assert_frame_equal(pd.read_parquet(out), fn(big, 1))


def test_cli_missing_columns_names_file_and_columns(tmp_path):
    bad = _write(TABLE.drop(columns=["num_tokens", "correct"]), tmp_path / "ungraded.parquet")
    with pytest.raises(SchemaError, match=r"ungraded\.parquet.*num_tokens.*correct"):
        cli.main(["build-dataset", "--method", "lh", "--samples", bad, "--value", "2", "--output", str(tmp_path / "x.parquet")])
    assert not (tmp_path / "x.parquet").exists()
