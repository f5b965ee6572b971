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
    cfg = load(path)
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
