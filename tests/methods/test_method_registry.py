"""The method registry (o1pruner.methods.registry): run names, registration errors, and a method
registered from a test module (tests/method_plugin.py) that the workflow builds, trains and
evaluates with no other file touched."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from o1pruner.config import ConfigError, load, method_defaults
from o1pruner.methods import registry
from o1pruner.methods.registry import Method
from tests.conftest import REPO, run_snakemake

PLUGIN = "tests.method_plugin"


@pytest.fixture(autouse=True)
def registry_as_shipped(monkeypatch):
    """Each test sees the shipped methods only, and leaves them so (a plugin it loads is removed)."""
    monkeypatch.setattr(registry, "METHODS", dict(registry.METHODS))
    monkeypatch.delitem(sys.modules, PLUGIN, raising=False)
    yield
    sys.modules.pop(PLUGIN, None)


def test_run_names_round_trip():
    assert registry.run_name("sft") == "sft"
    assert registry.run_name("lh", 2) == "lh_lambda_2" == registry.run_name("lh", 2.0)
    assert registry.run_name("lh", 0.5, "hard") == "lh_lambda_0.5_hard"
    for run in ("baseline", "fast_prompt", "sft", "dpo", "lh_lambda_2", "lh_lambda_0.5_hard"):
        name, value, split = registry.parse_run(run)
        assert registry.run_name(name, value, split) == run
    with pytest.raises(ValueError, match="unknown run id 'lh_2'"):
        registry.parse_run("lh_2")
    # the paper's methods first, in Table 2's order, its reward on-policy, then the peers' rewards
    assert registry.trained()[:4] == ["sft", "dpo", "lh", "lh_onpolicy"]
    assert list(registry.display_names().values())[:6] == ["Baseline", "Fast-solving prompt", "SFT", "DPO", "O1-Pruner",
                                                           "O1-Pruner on-policy (GRPO)"]
    assert registry.run_name("kimi", 0.5) == "kimi_weight_0.5" and registry.parse_run("budget_max_tokens_64") == (
        "budget", 64.0, None)


def test_registration_is_checked():
    with pytest.raises(ValueError, match="lower-case"):
        registry.register(Method("Bad-Name", "x"))
    with pytest.raises(ValueError, match="registered already"):
        registry.register(Method("sft", "Something else"))
    with pytest.raises(ValueError, match="needs a dataset builder"):
        registry.register(Method("no_data", "x", trainer="sft"))


def _plugin_config(tmp_path, **extra) -> dict:
    cfg = {"results": str(tmp_path / "results"), "plugins": [PLUGIN],
           "evaluation": {"methods": ["baseline", "shortest_half"]}, **extra}
    path = tmp_path / "plugin.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_the_schema_takes_a_plugins_method_block(tmp_path):
    cfg = load(REPO / "config" / "config.yaml", _plugin_config(tmp_path, methods={"shortest_half": {"max_ratio": 0.8}}))
    assert cfg["methods"]["shortest_half"]["max_ratio"] == 0.8
    assert method_defaults("shortest_half") == {"max_ratio": 1.0}
    with pytest.raises(ConfigError, match=r"methods.shortest_half.max_ratio"):
        load(REPO / "config" / "config.yaml", _plugin_config(tmp_path, methods={"shortest_half": {"max_ratio": -1}}))
    with pytest.raises(ConfigError, match=r"evaluation.methods\[1\]"):
        load(REPO / "config" / "config.yaml", _plugin_config(tmp_path, evaluation={"methods": ["baseline", "nope"]}))


def test_a_plugin_method_is_built_trained_and_evaluated_by_the_workflow(tmp_path, monkeypatch):
    monkeypatch.setenv("PYTHONPATH", str(REPO))  # the Snakemake process imports tests.method_plugin
    res = run_snakemake("-n", "-p", "--cores", "2", "--configfile", "config/config.yaml",
                        str(_plugin_config(tmp_path)), "--", f"{tmp_path}/results/tables/table2.csv")
    assert res.returncode == 0, res.stderr[-3000:]
    out = res.stdout
    assert "o1pruner build-dataset --method shortest_half" in out and '{"max_ratio": 1.0}' in out
    assert "train --method shortest_half" in out
    assert "--run shortest_half" in out
    assert f"{tmp_path}/results/toy/runs/shortest_half/model" in out


def test_a_plugin_method_builds_its_data_through_the_cli(tmp_path):
    rng = np.random.default_rng(0)
    graded = pd.DataFrame({"problem_id": np.repeat(["a", "b"], 4), "sample_idx": np.tile(range(4), 2),
                           "prompt": "q", "response": [f"r{i}" for i in range(8)],
                           "num_tokens": rng.integers(5, 50, 8), "correct": [True, False] * 4})
    graded.to_parquet(tmp_path / "graded.parquet")
    code = (f"import sys; from o1pruner import cli; sys.exit(cli.main(['build-dataset', '--method', 'shortest_half', "
            f"'--samples', '{tmp_path}/graded.parquet', '--output', '{tmp_path}/out.parquet']))")
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True,
                         env={"PYTHONPATH": f"{REPO}:{REPO / 'src'}", "O1PRUNER_PLUGINS": PLUGIN, "PATH": ""})
    assert res.returncode == 0, res.stderr
    out = pd.read_parquet(tmp_path / "out.parquet")
    mean = graded.groupby("problem_id")["num_tokens"].mean()
    expected = graded[graded["correct"] & (graded["num_tokens"] <= graded["problem_id"].map(mean))]
    assert sorted(out["response"]) == sorted(expected["response"]) and len(out) > 0


# ---- runs are data: a reward x a trainer, defined in the config ----------------------------------

KIMI_G8 = {"reward": "kimi", "trainer": "grpo", "weight": 0.5, "weight_grid": [0.25], "num_generations": 8,
           "training": {"learning_rate": 1.0e-5}}


def _defining(tmp_path, methods: dict, evaluated: list[str]) -> Path:
    path = tmp_path / "defined.yaml"
    path.write_text(yaml.safe_dump({"results": str(tmp_path / "results"), "methods": methods,
                                    "evaluation": {"methods": ["baseline", "lh", *evaluated]}}))
    return path


def test_a_run_defined_in_the_config_is_a_reward_on_a_trainer(tmp_path):
    cfg = load(REPO / "config" / "config.yaml", _defining(tmp_path, {"kimi_g8": KIMI_G8}, ["kimi_g8"]))
    m = registry.method("kimi_g8")
    assert (m.trainer, m.reward, m.run_param, m.display) == ("grpo", "kimi", "weight", "kimi_g8")
    block = cfg["methods"]["kimi_g8"]
    # the reward's keys, its grid, and the on-policy trainer's keys at their defaults
    assert (block["weight"], block["num_generations"], block["clip"], block["max_completion_length"]) == (0.5, 8, [-2, 4], 384)
    assert registry.run_name("kimi_g8", 0.5) == "kimi_g8_weight_0.5" and registry.parse_run("kimi_g8_weight_0.25") == (
        "kimi_g8", 0.25, None)
    off = load(REPO / "config" / "config.yaml", _defining(
        tmp_path, {"sb_strong": {"reward": "shorter_better", "trainer": "lh", "beta": 0.05, "display": "SB β=0.05"}},
        ["sb_strong"]))
    assert registry.method("sb_strong").trainer == "lh" and registry.method("sb_strong").display == "SB β=0.05"
    assert off["methods"]["sb_strong"]["samples_per_problem"] == 2 and "num_generations" not in off["methods"]["sb_strong"]


@pytest.mark.parametrize("block, message", [
    ({"reward": "nope", "trainer": "grpo"}, r"methods.x.reward: 'nope' is no registered reward"),
    ({"reward": "kimi", "trainer": "ppo"}, r"methods.x.trainer: must be one of lh, grpo"),
    ({"reward": "kimi", "trainer": "grpo", "alpha": 1}, r"methods.x"),  # kimi has no alpha
])
def test_a_bad_definition_names_its_key(tmp_path, block, message):
    with pytest.raises(ConfigError, match=message):
        load(REPO / "config" / "config.yaml", _defining(tmp_path, {"x": block}, ["x"]))


def test_a_definition_cannot_take_a_registered_name(tmp_path):
    with pytest.raises(ConfigError, match=r"methods.kimi: 'kimi' is a registered method"):
        load(REPO / "config" / "config.yaml", _defining(tmp_path, {"kimi": {"reward": "arora", "trainer": "lh"}},
                                                        ["kimi"]))


def test_a_defined_run_is_built_trained_and_evaluated_by_the_workflow(tmp_path):
    res = run_snakemake("-n", "-p", "--cores", "2", "--configfile", "config/config.yaml",
                        str(_defining(tmp_path, {"kimi_g8": KIMI_G8}, ["kimi_g8"])), "--",
                        f"{tmp_path}/results/tables/pareto.csv")
    assert res.returncode == 0, res.stderr[-3000:]
    for value in ("0.5", "0.25"):  # Table 2's run and its grid
        assert "build-dataset --method kimi_g8 " in res.stdout and f"--value {value} " in res.stdout
        assert f"--run kimi_g8_weight_{value} " in res.stdout
    assert "train --method kimi_g8 " in res.stdout


def test_every_job_knows_the_defined_runs_from_the_environment(tmp_path):
    """The Snakefile exports the definitions ($O1PRUNER_METHODS); a job's `o1pruner` registers them."""
    code = ("from o1pruner.methods import registry; registry.load_plugins(); "
            "m = registry.method('kimi_g8'); print(m.trainer, m.reward)")
    env = {"PYTHONPATH": str(REPO / "src"), "PATH": "",
           registry.METHODS_ENV: '{"kimi_g8": {"reward": "kimi", "trainer": "grpo"}}'}
    res = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, env=env)
    assert res.returncode == 0, res.stderr
    assert res.stdout.split() == ["grpo", "kimi"]
