"""The method registry (o1pruner.methods.registry): run names, registration errors, and a method
registered from a test module (tests/method_plugin.py) that the workflow builds, trains and
evaluates with no other file touched."""

from __future__ import annotations

import subprocess
import sys

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
