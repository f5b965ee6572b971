"""The peers' length rewards on O1-Pruner's off-policy trainer: each reward is a registered method
(kimi, arora, budget, shorter_better) whose training set is built like LH's with its reward in
place of the LH reward (o1pruner.methods.datasets.reward_dataset)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from o1pruner.config import ConfigError, load
from o1pruner.methods import registry
from o1pruner.methods.datasets import build_lh, reward_dataset, standardise
from o1pruner.methods.rewards import group_rewards
from o1pruner.reference_stats import reference_stats
from tests.conftest import REPO, job_counts, snakemake

REWARD_METHODS = ["kimi", "arora", "budget", "shorter_better"]


@pytest.fixture
def graded() -> pd.DataFrame:
    rng = np.random.default_rng(5)
    n = 30 * 6
    return pd.DataFrame({"problem_id": np.repeat([f"p{i:02d}" for i in range(30)], 6),
                         "sample_idx": np.tile(range(6), 30), "prompt": "q",
                         "response": [f"r{i}" for i in range(n)], "num_tokens": rng.integers(0, 300, n),
                         "correct": rng.integers(0, 2, n).astype(bool)})


def test_the_lh_reward_through_the_generic_builder_is_build_lh(graded):
    stats = reference_stats(graded)
    mcfg = {"samples_per_problem": 2, "clip": [-2, 4]}
    pd.testing.assert_frame_equal(reward_dataset(graded, stats, mcfg, 7, 2.0, reward="lh"),
                                  build_lh(graded, 2.0, 2, (-2, 4), seed=7, stats=stats), check_exact=True)


@pytest.mark.parametrize("name, value, params", [("kimi", 0.5, {"weight": 1}), ("arora", 0.2, {"alpha": 0.1}),
                                                 ("budget", 150, {"max_tokens": 80}),
                                                 ("shorter_better", 0.01, {"alpha": 2, "beta": 0.001})])
def test_a_reward_method_weights_the_picked_samples_by_its_group_reward(graded, name, value, params):
    m = registry.method(name)
    assert (m.trainer, m.reward, m.run_param in params) == ("lh", name, True)
    stats = reference_stats(graded)
    mcfg = {"samples_per_problem": 3, "clip": [-1.5, 3], **params}
    out = registry.builder(m)(graded, stats, mcfg, 0, value)
    # the reward of each picked sample: its problem's six pre-samples are the group, at the run's value
    full = graded.assign(reward=group_rewards(graded, stats, name, {**params, m.run_param: value}))
    expected = out[["problem_id", "sample_idx"]].merge(full, on=["problem_id", "sample_idx"])["reward"]
    np.testing.assert_array_equal(out["reward"].to_numpy(), expected.to_numpy())
    assert out.groupby("problem_id").size().eq(3).all()
    np.testing.assert_array_equal(out["reward_clipped"], out["reward"].clip(-1.5, 3))
    np.testing.assert_allclose(out["weight"], standardise(out["reward_clipped"].to_numpy()))


def _overlay(tmp_path, **cfg) -> str:
    path = tmp_path / "overlay.yaml"
    path.write_text(yaml.safe_dump({"results": str(tmp_path / "r"), **cfg}))
    return str(path)


def test_budget_has_no_default_and_the_config_says_so(tmp_path):
    with pytest.raises(ConfigError, match=r"evaluation.methods\[1\]: 'budget' needs its block methods.budget"):
        load(REPO / "config" / "config.yaml", _overlay(tmp_path, evaluation={"methods": ["baseline", "budget"]}))
    with pytest.raises(ConfigError, match=r"methods.budget.*max_tokens"):
        load(REPO / "config" / "config.yaml", _overlay(tmp_path, methods={"budget": {"clip": [-2, 4]}}))
    with pytest.raises(ConfigError, match=r"methods.kimi.weight_grid: values repeat"):
        load(REPO / "config" / "config.yaml", _overlay(tmp_path, methods={"kimi": {"weight_grid": [1, 1.0]}}))
    cfg = load(REPO / "config" / "config.yaml", _overlay(tmp_path, methods={"budget": {"max_tokens": 64}}))
    assert cfg["methods"]["budget"]["samples_per_problem"] == 2 and cfg["methods"]["kimi"]["weight"] == 1


def test_every_reward_method_is_built_trained_and_evaluated_by_the_workflow(tmp_path):
    onpolicy = [f"{m}_onpolicy" for m in REWARD_METHODS]
    over = _overlay(tmp_path, evaluation={"methods": ["baseline", "lh", *REWARD_METHODS, *onpolicy]},
                    methods={"budget": {"max_tokens": 80}, "budget_onpolicy": {"max_tokens": 80}})
    res = snakemake("-n", "-p", "--cores", "2", "--configfile", "config/config.yaml", over, "--",
                    f"{tmp_path}/r/tables/table2.csv")
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = job_counts(res.stdout)
    assert jobs["build_dataset"] == jobs["train"] == 9  # lh_lambda_2 and the four rewards on both trainers
    for run in ("kimi_weight_1", "arora_alpha_0.1", "budget_max_tokens_80", "shorter_better_beta_0.001",
                "kimi_onpolicy_weight_1", "arora_onpolicy_alpha_0.1", "budget_onpolicy_max_tokens_80",
                "shorter_better_onpolicy_beta_0.001"):
        assert f"--output {tmp_path}/r/toy/datasets/{run}.parquet" in res.stdout
        assert f"--run {run} " in res.stdout


def test_the_length_rewards_overlay_runs_every_reward_on_both_trainers():
    cfg = load(REPO / "config" / "config.yaml", REPO / "config" / "length_rewards.yaml")
    onpolicy = [f"{m}_onpolicy" for m in ["lh", *REWARD_METHODS]]
    assert set(REWARD_METHODS) | set(onpolicy) <= set(cfg["evaluation"]["methods"])
    assert cfg["evaluation"]["methods"][:6] == ["baseline", "fast_prompt", "sft", "dpo", "lh", "lh_onpolicy"]
    rate = {m: cfg["methods"][m]["training"]["learning_rate"] for m in [*REWARD_METHODS, *onpolicy, "lh"]}
    # each trainer's rate, chosen on toy_val for its LH run
    assert all(rate[m] == rate["lh"] for m in REWARD_METHODS)
    assert all(rate[m] == rate["lh_onpolicy"] and cfg["methods"][m]["training"]["epochs"] == 1 for m in onpolicy)


def test_a_methods_grid_is_a_sweep_of_runs_on_the_pareto_front(tmp_path):
    over = _overlay(tmp_path, evaluation={"methods": ["baseline", "lh", "shorter_better"]},
                    methods={"shorter_better": {"beta": 0.01, "beta_grid": [0.001, 0.05]}})
    res = snakemake("-n", "-p", "--cores", "2", "--configfile", "config/config.yaml", over, "--",
                    f"{tmp_path}/r/tables/pareto.csv")
    assert res.returncode == 0, res.stderr[-3000:]
    for beta in ("0.001", "0.01", "0.05"):  # Table 2's run and the two grid points
        assert f"--run shorter_better_beta_{beta} " in res.stdout
        assert f"{tmp_path}/r/toy/eval/shorter_better_beta_{beta}/toy_hard.json" in res.stdout
