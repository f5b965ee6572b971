"""The length rewards (o1pruner.methods.rewards) against hand-computed values, their registry and
parameters, the table-wide group_rewards and the `o1pruner rewards` command."""

from __future__ import annotations

import math
import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from o1pruner import cli
from o1pruner.config import schema_default
from o1pruner.methods.datasets import build_lh
from o1pruner.methods.rewards import (
    REWARDS,
    Group,
    Reward,
    group_rewards,
    length_harmonizing_reward,
    register_reward,
    reward,
    reward_params,
)
from o1pruner.reference_stats import reference_stats
from o1pruner.schemas import SchemaError

REPO = Path(__file__).resolve().parents[2]


def rewards_of(name: str, num_tokens, correct, truncated=None, ref_mean_length=math.nan, ref_mean_acc=math.nan,
               **params) -> np.ndarray:
    group = Group(np.array(num_tokens), np.array(correct, dtype=bool),
                  None if truncated is None else np.array(truncated, dtype=bool), ref_mean_length, ref_mean_acc)
    return reward(name).apply(group, reward_params(name, params))


def sigmoid(z: float) -> float:
    return 1 / (1 + math.exp(-z))


# ---- lh ----------------------------------------------------------------------------------------

def test_lh_by_hand():
    # L̄_ref = 150, Ā_ref = 0.5, λ = 2:
    #   L 100, right: 150/100 − 1 + 2·(1 − 0.5) = 0.5 + 1 = 1.5
    #   L 200, wrong: 150/200 − 1 + 2·(0 − 0.5) = −0.25 − 1 = −1.25
    #   0 tokens -> L 1, wrong: 150/1 − 1 − 1 = 148
    np.testing.assert_allclose(rewards_of("lh", [100, 200, 0], [True, False, False], ref_mean_length=150,
                                          ref_mean_acc=0.5), [1.5, -1.25, 148.0], rtol=1e-12)
    # λ = 0: the length term alone; λ = 5: 150/100 − 1 + 5·0.5 = 3
    np.testing.assert_allclose(rewards_of("lh", [100], [True], ref_mean_length=150, ref_mean_acc=0.5, **{"lambda": 0}),
                               [0.5])
    np.testing.assert_allclose(rewards_of("lh", [100], [True], ref_mean_length=150, ref_mean_acc=0.5, **{"lambda": 5}),
                               [3.0])


def test_lh_degenerate_groups():
    # all wrong, Ā_ref = 0: the length term only, 200/100 − 1 = 1 and 200/300 − 1 = −1/3
    np.testing.assert_allclose(rewards_of("lh", [100, 300], [False, False], ref_mean_length=200, ref_mean_acc=0),
                               [1.0, -1 / 3])
    # all right, Ā_ref = 1: the same
    np.testing.assert_allclose(rewards_of("lh", [100, 300], [True, True], ref_mean_length=200, ref_mean_acc=1),
                               [1.0, -1 / 3])
    # all one length, at the mean: 0 + λ·(c − Ā_ref) = 2·(±0.5)
    np.testing.assert_allclose(rewards_of("lh", [50, 50], [True, False], ref_mean_length=50, ref_mean_acc=0.5),
                               [1.0, -1.0])
    # a single sample, its own reference: 0
    np.testing.assert_allclose(rewards_of("lh", [70], [True], ref_mean_length=70, ref_mean_acc=1), [0.0])


def test_lh_needs_the_reference_statistics():
    with pytest.raises(ValueError, match="'lh' needs the reference statistics"):
        rewards_of("lh", [100], [True])


def random_graded(seed: int = 0, problems: int = 40) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(problems):
        for j in range(int(rng.integers(1, 9))):
            rows.append({"problem_id": f"p{i:03d}", "sample_idx": j, "prompt": f"<prompt {i}>",
                         "response": f"r{i}/{j}", "num_tokens": int(rng.integers(0, 3000)),
                         "correct": bool(rng.random() < 0.6),
                         "finish_reason": "length" if rng.random() < 0.1 else "stop"})
    return pd.DataFrame(rows).sample(frac=1.0, random_state=seed).reset_index(drop=True)


def test_lh_reward_is_length_harmonizing_reward_exactly():
    graded = random_graded(1)
    stats = reference_stats(graded)
    got = group_rewards(graded, stats, "lh", {"lambda": 1.7})
    ref = stats.set_index("problem_id").loc[graded["problem_id"]]
    want = length_harmonizing_reward(graded["num_tokens"].to_numpy(), graded["correct"].to_numpy(),
                                     ref["mean_length"].to_numpy(), ref["mean_acc"].to_numpy(), 1.7)
    np.testing.assert_array_equal(got, want)
    # and build_lh's unclipped reward column (every sample kept), row for row
    built = build_lh(graded, lam=1.7, samples_per_problem=100, clip=(-1e9, 1e9))
    keyed = graded.assign(r=got).set_index(["problem_id", "sample_idx"])["r"]
    np.testing.assert_array_equal(built["reward"].to_numpy(),
                                  keyed.loc[list(zip(built["problem_id"], built["sample_idx"]))].to_numpy())


# ---- kimi --------------------------------------------------------------------------------------

def test_kimi_by_hand():
    # L 100, 200, 300, 500: L_min 100, L_max 500, λᵢ = 0.5 − (L − 100)/400 = 0.5, 0.25, 0, −0.5
    # correct T, F, T, F: ℓ = λ (right) or min(0, λ) (wrong) = 0.5, 0, 0, −0.5
    # w = 1: c + ℓ = 1.5, 0, 1, −0.5;   w = 2: 2, 0, 1, −1
    args = ([100, 200, 300, 500], [True, False, True, False])
    np.testing.assert_allclose(rewards_of("kimi", *args), [1.5, 0.0, 1.0, -0.5])
    np.testing.assert_allclose(rewards_of("kimi", *args, weight=2), [2.0, 0.0, 1.0, -1.0])
    # 0 tokens -> L 1: L 1, 201: λ = 0.5, −0.5; right, wrong -> 1.5, −0.5
    np.testing.assert_allclose(rewards_of("kimi", [0, 201], [True, False]), [1.5, -0.5])


def test_kimi_degenerate_groups():
    # all wrong, L 100, 300: λ = 0.5, −0.5; ℓ = 0, −0.5
    np.testing.assert_allclose(rewards_of("kimi", [100, 300], [False, False]), [0.0, -0.5])
    # all right: 1 + 0.5, 1 − 0.5
    np.testing.assert_allclose(rewards_of("kimi", [100, 300], [True, True]), [1.5, 0.5])
    # all one length: λ = 0 (L_max = L_min), so c
    np.testing.assert_allclose(rewards_of("kimi", [80, 80, 80], [True, False, True]), [1.0, 0.0, 1.0])
    # a single sample: λ = 0
    np.testing.assert_allclose(rewards_of("kimi", [80], [True]), [1.0])
    np.testing.assert_allclose(rewards_of("kimi", [80], [False]), [0.0])


# ---- arora -------------------------------------------------------------------------------------

def test_arora_by_hand():
    # correct L 100, 200, 300: μ = 200, s = √((100² + 0 + 100²)/3) = √(20000/3), z = ∓100/s = ∓√1.5, 0
    # α = 0.1: 1 − 0.1·σ(−√1.5), 1 − 0.1·0.5, 1 − 0.1·σ(√1.5); the wrong one (L 500): 0
    got = rewards_of("arora", [100, 200, 300, 500], [True, True, True, False])
    z = math.sqrt(1.5)
    np.testing.assert_allclose(got, [1 - 0.1 * sigmoid(-z), 0.95, 1 - 0.1 * sigmoid(z), 0.0], rtol=1e-12)
    assert got[0] + got[2] == pytest.approx(2 - 0.1)  # σ(−z) + σ(z) = 1
    # α = 0.4: 1 − 0.4·σ(±√1.5)
    np.testing.assert_allclose(rewards_of("arora", [100, 200, 300], [True] * 3, alpha=0.4),
                               [1 - 0.4 * sigmoid(-z), 0.8, 1 - 0.4 * sigmoid(z)], rtol=1e-12)


def test_arora_degenerate_groups():
    # all wrong: 0
    np.testing.assert_allclose(rewards_of("arora", [100, 300], [False, False]), [0.0, 0.0])
    # one correct: z = 0, 1 − 0.1/2 = 0.95
    np.testing.assert_allclose(rewards_of("arora", [100, 300], [True, False]), [0.95, 0.0])
    # all right, all one length: s = 0, z = 0
    np.testing.assert_allclose(rewards_of("arora", [80, 80], [True, True]), [0.95, 0.95])
    # a single sample
    np.testing.assert_allclose(rewards_of("arora", [80], [True]), [0.95])
    # all right, two lengths: μ = 200, s = 100, z = ∓1
    np.testing.assert_allclose(rewards_of("arora", [100, 300], [True, True]),
                               [1 - 0.1 * sigmoid(-1), 1 - 0.1 * sigmoid(1)], rtol=1e-12)


def test_arora_far_lengths_do_not_overflow():
    # correct L 1000, 1001: s = 0.5; the wrong L 1 has z = −1999, e^1999 would overflow
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        got = rewards_of("arora", [1000, 1001, 1], [True, True, False])
    np.testing.assert_allclose(got, [1 - 0.1 * sigmoid(-1), 1 - 0.1 * sigmoid(1), 0.0], rtol=1e-12)


# ---- budget ------------------------------------------------------------------------------------

def test_budget_by_hand():
    # L_max 300: L 100 right -> 1, 300 right -> 1 (≤), 301 right -> 0, 200 wrong -> 0, 0 tokens (L 1) right -> 1
    args = ([100, 300, 301, 200, 0], [True, True, True, False, True])
    np.testing.assert_allclose(rewards_of("budget", *args, max_tokens=300), [1, 1, 0, 0, 1])
    # truncated (finish_reason "length"): 0 at L = L_max, and also under it
    np.testing.assert_allclose(rewards_of("budget", *args, truncated=[True, True, False, False, False],
                                          max_tokens=300), [0, 0, 0, 0, 1])


def test_budget_degenerate_groups():
    np.testing.assert_allclose(rewards_of("budget", [10, 20], [False, False], max_tokens=100), [0, 0])
    np.testing.assert_allclose(rewards_of("budget", [10, 20], [True, True], max_tokens=100), [1, 1])
    np.testing.assert_allclose(rewards_of("budget", [50, 50], [True, True], max_tokens=50), [1, 1])
    np.testing.assert_allclose(rewards_of("budget", [51], [True], max_tokens=50), [0])


def test_budget_needs_max_tokens():
    with pytest.raises(ValueError, match=r"reward 'budget': parameter 'max_tokens' is required"):
        reward_params("budget", {})


# ---- shorter_better ----------------------------------------------------------------------------

def test_shorter_better_by_hand():
    # correct L 200, 300: L_SOL = 200; α = 2, β = 0.001:
    #   L 100 wrong: 0 − 0.001·100 = −0.1; 200 right: 2 − 0 = 2; 300 right: 2 − 0.1 = 1.9; 500 wrong: −0.3
    args = ([100, 200, 300, 500], [False, True, True, False])
    np.testing.assert_allclose(rewards_of("shorter_better", *args), [-0.1, 2.0, 1.9, -0.3])
    # α = 1, β = 0.01: −1, 1, 0, −3
    np.testing.assert_allclose(rewards_of("shorter_better", *args, alpha=1, beta=0.01), [-1.0, 1.0, 0.0, -3.0])


def test_shorter_better_degenerate_groups():
    # all wrong: L_SOL = mean L = 200: −0.1, −0.1
    np.testing.assert_allclose(rewards_of("shorter_better", [100, 300], [False, False]), [-0.1, -0.1])
    # all right: L_SOL = 100: 2, 2 − 0.2
    np.testing.assert_allclose(rewards_of("shorter_better", [100, 300], [True, True]), [2.0, 1.8])
    # all one length: |L − L_SOL| = 0, so α·c
    np.testing.assert_allclose(rewards_of("shorter_better", [80, 80], [True, False]), [2.0, 0.0])
    # a single sample: L_SOL is its own L
    np.testing.assert_allclose(rewards_of("shorter_better", [80], [False]), [0.0])
    np.testing.assert_allclose(rewards_of("shorter_better", [80], [True]), [2.0])


# ---- every reward ------------------------------------------------------------------------------

def test_every_reward_of_an_empty_group_is_empty():
    for name in REWARDS:
        params = {"max_tokens": 10} if name == "budget" else {}
        assert rewards_of(name, [], [], ref_mean_length=1.0, ref_mean_acc=0.0, **params).shape == (0,)


def test_group_checks_its_arrays():
    with pytest.raises(ValueError, match="must be"):
        Group(np.array([1, 2]), np.array([True]))
    with pytest.raises(ValueError, match="whole numbers >= 0"):
        Group(np.array([-1]), np.array([True]))
    with pytest.raises(ValueError, match="whole numbers >= 0"):
        Group(np.array([1.5]), np.array([True]))
    with pytest.raises(ValueError, match="truncated"):
        Group(np.array([1, 2]), np.array([True, False]), truncated=np.array([True]))
    g = Group([3, 4], [1, 0])
    assert g.num_tokens.dtype == np.int64 and g.correct.dtype == bool and g.truncated is None


def test_registry_entries_are_complete():
    assert list(REWARDS) == ["lh", "kimi", "arora", "budget", "shorter_better"]
    for r in REWARDS.values():
        assert r.source and r.formula, r.name
        for key, spec in r.params.items():
            assert spec["type"] in {"number", "integer"} and spec.get("description"), (r.name, key)
    assert reward("lh").keywords == {"lambda": "lam"}
    assert [r.name for r in REWARDS.values() if r.reference] == ["lh"]


def test_register_reward_checks_the_entry():
    def mine(group, *, scale):
        return scale * group.correct

    scale = {"scale": {"type": "number", "default": 1}}
    with pytest.raises(ValueError, match="no keyword of mine"):
        register_reward(Reward("mine", mine, params={"factor": {"type": "number"}}, source="-", formula="-",
                               display="Mine", run_param="factor"))
    with pytest.raises(ValueError, match="lower-case"):
        register_reward(Reward("Mine", mine, params=scale, source="-", formula="-", display="Mine", run_param="scale"))
    with pytest.raises(ValueError, match="registered already"):
        register_reward(Reward("kimi", mine, params=scale, source="-", formula="-", display="Mine", run_param="scale"))
    with pytest.raises(ValueError, match="run_param 'size' is none of its parameters"):
        Reward("mine", mine, params=scale, source="-", formula="-", display="Mine", run_param="size")
    assert "mine" not in REWARDS and "Mine" not in REWARDS


def test_reward_params_fill_defaults_and_name_bad_keys():
    assert reward_params("lh", {}) == {"lambda": schema_default("methods.lh.lambda")}
    assert reward_params("kimi", None) == {"weight": 1}
    assert reward_params("arora", {}) == {"alpha": 0.1}
    assert reward_params("shorter_better", {"beta": 0.01}) == {"alpha": 2, "beta": 0.01}
    assert reward_params("budget", {"max_tokens": 4096}) == {"max_tokens": 4096}
    cases = [
        ("kimi", {"lambda": 1}, r"reward 'kimi': unknown parameter 'lambda'; it takes 'weight'"),
        ("lh", {"lam": 1}, r"reward 'lh': unknown parameter 'lam'"),
        ("lh", {"lambda": -1}, r"reward 'lh': parameter 'lambda': -1 is less than the minimum of 0"),
        ("lh", {"lambda": "two"}, r"reward 'lh': parameter 'lambda': 'two' is not of type 'number'"),
        ("arora", {"alpha": 1.5}, r"reward 'arora': parameter 'alpha'"),
        ("arora", {"alpha": math.nan}, r"reward 'arora': parameter 'alpha': nan is not a finite number"),
        ("budget", {"max_tokens": 10.5}, r"reward 'budget': parameter 'max_tokens'"),
        ("budget", {"max_tokens": 0}, r"reward 'budget': parameter 'max_tokens'"),
        ("nope", {}, r"unknown reward 'nope'; registered: lh, kimi"),
    ]
    for name, given, message in cases:
        with pytest.raises(ValueError, match=message):
            reward_params(name, given)


# ---- group_rewards -----------------------------------------------------------------------------

def test_group_rewards_groups_by_problem_in_row_order():
    graded = random_graded(2)
    stats = reference_stats(graded)
    got = group_rewards(graded, stats, "shorter_better", {})
    for pid, rows in graded.groupby("problem_id").groups.items():
        sub = graded.loc[rows]
        np.testing.assert_array_equal(got[graded.index.get_indexer(rows)],
                                      rewards_of("shorter_better", sub["num_tokens"], sub["correct"]))
    # the finish_reason column marks truncated samples
    budget = group_rewards(graded, stats, "budget", {"max_tokens": 2000})
    want = graded["correct"] & (graded["num_tokens"] <= 2000) & (graded["finish_reason"] != "length")
    np.testing.assert_array_equal(budget, want.astype(float).to_numpy())
    assert (budget[(graded["finish_reason"] == "length").to_numpy()] == 0).all()
    without = group_rewards(graded.drop(columns="finish_reason"), stats, "budget", {"max_tokens": 2000})
    np.testing.assert_array_equal(without, (graded["correct"] & (graded["num_tokens"] <= 2000)).astype(float))


def test_group_rewards_errors():
    graded = random_graded(3, problems=4)
    stats = reference_stats(graded)
    with pytest.raises(ValueError, match=r"reference stats: no row for problem\(s\) \['p003'\]"):
        group_rewards(graded, stats[stats["problem_id"] != "p003"], "kimi", {})
    with pytest.raises(ValueError, match="duplicate problem_id"):
        group_rewards(graded, pd.concat([stats, stats.iloc[:1]]), "kimi", {})
    with pytest.raises(SchemaError, match=r"graded samples: missing column\(s\) \['correct'\]"):
        group_rewards(graded.drop(columns="correct"), stats, "kimi", {})
    with pytest.raises(ValueError, match="'correct' is missing"):
        group_rewards(graded.assign(correct=graded["correct"].astype(object).where(graded.index > 0)),
                      stats, "kimi", {})
    with pytest.raises(ValueError, match="'num_tokens' is negative"):
        group_rewards(graded.assign(num_tokens=-graded["num_tokens"] - 1), stats, "kimi", {})
    with pytest.raises(ValueError, match="reward 'kimi': unknown parameter 'alpha'"):
        group_rewards(graded, stats, "kimi", {"alpha": 1})


# ---- o1pruner rewards ----------------------------------------------------------------------------

def _write(df: pd.DataFrame, path: Path) -> str:
    df.to_parquet(path, index=False)
    return str(path)


def test_cli_round_trip(tmp_path):
    graded = random_graded(4)
    src = _write(graded, tmp_path / "graded.parquet")
    out = tmp_path / "kimi.parquet"
    assert cli.main(["rewards", "--samples", src, "--reward", "kimi", "--param", "weight=0.5",
                     "--output", str(out)]) == 0
    back = pd.read_parquet(out)
    assert list(back.columns) == [*graded.columns, "reward"]
    pd.testing.assert_frame_equal(back.drop(columns="reward"), graded)
    np.testing.assert_array_equal(back["reward"], group_rewards(graded, reference_stats(graded), "kimi",
                                                                {"weight": 0.5}))

    # lh through its config name, with a stats file that overrides the samples' own statistics
    stats = pd.DataFrame({"problem_id": sorted(graded["problem_id"].unique()), "mean_length": 100.0,
                          "mean_acc": 0.0})
    out = tmp_path / "lh.parquet"
    assert cli.main(["rewards", "--samples", src, "--reward", "lh", "--param", "lambda=1", "--stats",
                     _write(stats, tmp_path / "stats.parquet"), "--output", str(out)]) == 0
    want = 100 / np.maximum(graded["num_tokens"], 1) - 1 + graded["correct"]  # λ = 1, Ā_ref = 0
    np.testing.assert_allclose(pd.read_parquet(out)["reward"], want, rtol=1e-12)

    # budget: the value parses as JSON (an integer), finish_reason "length" scores 0
    out = tmp_path / "budget.parquet"
    assert cli.main(["rewards", "--samples", src, "--reward", "budget", "--param", "max_tokens=1500",
                     "--output", str(out)]) == 0
    b = pd.read_parquet(out)
    np.testing.assert_array_equal(b["reward"], (b["correct"] & (b["num_tokens"] <= 1500)
                                                & (b["finish_reason"] != "length")).astype(float))


def test_cli_errors_name_the_file_or_key(tmp_path):
    graded = random_graded(5, problems=3)
    src = _write(graded, tmp_path / "graded.parquet")
    out = str(tmp_path / "out.parquet")

    def run(*args):
        return cli.main(["rewards", "--samples", src, "--output", out, *args])

    with pytest.raises(ValueError, match=r"unknown reward 'nope'; registered: lh, kimi, arora, budget, shorter_better"):
        run("--reward", "nope")
    with pytest.raises(ValueError, match=r"reward 'kimi': unknown parameter 'wieght'"):
        run("--reward", "kimi", "--param", "wieght=1")
    with pytest.raises(ValueError, match=r"reward 'kimi': parameter 'weight': 'heavy' is not of type 'number'"):
        run("--reward", "kimi", "--param", "weight=heavy")
    with pytest.raises(ValueError, match=r"reward 'budget': parameter 'max_tokens' is required"):
        run("--reward", "budget")
    with pytest.raises(ValueError, match=r"--param 'weight' is given twice"):
        run("--reward", "kimi", "--param", "weight=1", "--param", "weight=2")
    with pytest.raises(ValueError, match=r"--param 'weight': expected KEY=VALUE"):
        run("--reward", "kimi", "--param", "weight")
    bad = _write(graded.drop(columns="num_tokens"), tmp_path / "ungraded.parquet")
    with pytest.raises(SchemaError, match=r"ungraded\.parquet: missing column\(s\) \['num_tokens'\]"):
        cli.main(["rewards", "--samples", bad, "--reward", "kimi", "--output", out])
    stats = _write(reference_stats(graded).iloc[:2], tmp_path / "stats.parquet")
    with pytest.raises(ValueError, match=re.escape(f"{src} with {stats}: reference stats: no row for problem(s)")):
        run("--reward", "kimi", "--stats", stats)
    nostats = _write(reference_stats(graded).drop(columns="mean_acc"), tmp_path / "nostats.parquet")
    with pytest.raises(SchemaError, match=r"nostats\.parquet: missing column\(s\) \['mean_acc'\]"):
        run("--reward", "kimi", "--stats", nostats)
    assert not Path(out).exists()


def test_every_reward_has_its_docs_section():
    text = (REPO / "docs" / "methods.md").read_text(encoding="utf-8")
    for name in REWARDS:
        assert re.search(rf"^### `{name}`", text, re.M), f"docs/methods.md: no '### `{name}`' section"
