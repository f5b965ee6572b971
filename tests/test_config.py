"""Config validation: the shipped configs pass; bad keys/types/values fail naming the key."""

from __future__ import annotations

import copy

import pytest
import yaml

from o1pruner.config import ConfigError, load, validate
from tests.conftest import REPO

CONFIGS = sorted((REPO / "config").glob("*.yaml"))
CONFIGS = [c for c in CONFIGS if c.name != "schema.yaml"]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.name)
def test_shipped_configs_validate(path):
    """A config with models is a whole one; one without is an overlay of the default (length_rewards)."""
    whole = "models" in yaml.safe_load(path.read_text())
    cfg = load(path) if whole else load(REPO / "config" / "config.yaml", path)
    assert cfg["sampling"]["k"] >= 1


@pytest.fixture
def default():
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def test_defaults_filled(default):
    del default["sampling"]["temperature"]
    cfg = validate(default)
    assert cfg["sampling"]["temperature"] == 0.5
    assert cfg["grading"]["timeout"] == 5
    assert cfg["models"]["toy"]["prompt_family"] == "default"


@pytest.mark.parametrize("mutate, key", [
    (lambda c: c["sampling"].update(kk=3), "sampling.kk: unknown key"),
    (lambda c: c.update(samplng={}), "samplng: unknown key"),
    (lambda c: c["sampling"].update(k=0), "sampling.k"),
    (lambda c: c["sampling"].update(k="8"), "sampling.k"),
    (lambda c: c["sampling"].update(temperature=-0.1), "sampling.temperature"),
    (lambda c: c["methods"]["lh"].update({"lambda": -1}), "methods.lh.lambda"),
    (lambda c: c.update(eval_datasets=[]), "eval_datasets"),
    (lambda c: c.update(eval_datasets=["nope"]), "eval_datasets[0]"),
    (lambda c: c.update(train_dataset="nope"), "train_dataset"),
    (lambda c: c["datasets"]["toy_easy"].pop("n"), "datasets.toy_easy.n"),
    (lambda c: c["datasets"]["toy_easy"].update(source="ftp"), "datasets.toy_easy.source"),
    (lambda c: c["models"]["toy"].update(source="gguf"), "models.toy.path"),
    (lambda c: c["training"].update(mode="half"), "training.mode"),
    (lambda c: c["methods"]["lh"].update(clip=[1]), "methods.lh.clip"),
    (lambda c: c["length_disharmony"].update(samples=2), "length_disharmony.samples"),
    (lambda c: c.update(datasets={}), "datasets"),
    (lambda c: c["difficulty_splits"].update(bad=[0, 140]), "difficulty_splits.bad[1]"),
])
def test_bad_config_names_the_key(default, mutate, key):
    bad = copy.deepcopy(default)
    mutate(bad)
    with pytest.raises(ConfigError) as e:
        validate(bad)
    assert key in str(e.value)


def test_not_a_mapping():
    with pytest.raises(ConfigError, match="mapping"):
        validate(["a"])


def test_bad_yaml_names_file(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("a: [1, 2\n")
    with pytest.raises(ConfigError, match="c.yaml: not valid YAML"):
        load(p)


# ---- layered configs (snakemake --configfile A B) -------------------------------------------

def test_an_overlay_with_one_key_layers_over_the_default(tmp_path):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("sampling: {k: 2}\n")
    cfg = load(REPO / "config" / "config.yaml", overlay)
    base = load(REPO / "config" / "config.yaml")
    assert cfg["sampling"]["k"] == 2
    # mappings merge key by key: the rest of sampling and every other block are the default's
    assert {k: v for k, v in cfg["sampling"].items() if k != "k"} == \
        {k: v for k, v in base["sampling"].items() if k != "k"}
    assert cfg["models"] == base["models"]


def test_overlay_lists_replace_and_errors_name_the_merged_key(tmp_path):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("eval_datasets: [toy_easy]\nmethods: {lh: {lambda_grid: [2]}}\n")
    cfg = load(REPO / "config" / "config.yaml", overlay)
    assert cfg["eval_datasets"] == ["toy_easy"] and cfg["methods"]["lh"]["lambda_grid"] == [2]
    assert cfg["methods"]["lh"]["clip"] == [-2, 4]
    overlay.write_text("sampling: {k: 0}\n")
    with pytest.raises(ConfigError, match="sampling.k"):
        load(REPO / "config" / "config.yaml", overlay)


def test_a_key_written_twice_in_an_overlay_names_that_file(tmp_path):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("sampling:\n  k: 2\n  k: 3\n")
    with pytest.raises(ConfigError, match=f"{overlay}.*duplicate key 'k'"):
        load(REPO / "config" / "config.yaml", overlay)


def test_schema_holds_the_defaults_rules_index():
    from o1pruner.config import schema_default

    cfg = load(REPO / ".test" / "config.yaml")
    assert schema_default("methods.lh.clip") == [-2, 4]
    assert schema_default("methods.dpo.beta") == 0.1
    assert schema_default("models.*.resources.train.gpu") == 0
    toy = cfg["models"]["toy"]
    assert toy["resources"]["evaluate"] == {"gpu": 0, "cpus_per_task": 2, "mem_mb": 8000, "runtime": 120}
    with pytest.raises(KeyError, match="sampling.k: the schema has no default"):
        schema_default("sampling.k")
