"""Training settings of a run (o1pruner.training.settings): schema defaults, precedence, the paper's recipe.

    python -m pytest -q tests/training/test_settings.py
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from o1pruner.cli import main
from o1pruner.config import ConfigError, load, validate
from o1pruner.training.settings import (
    REPORTED_KEYS,
    check_training,
    effective_training_config,
    method_config,
    trained_methods,
    training_defaults,
)

ROOT = Path(__file__).resolve().parents[2]

# train.py's DEFAULT_TRAINING before the defaults moved into the schema, and its merge order:
# the default run must train with exactly these settings (+ the two new keys at their defaults)
LEGACY_DEFAULTS = {
    "mode": "full", "freeze_trainable_layers": 2,
    "lora": {"r": 8, "alpha": 16, "dropout": 0.05, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]},
    "learning_rate": 1e-5, "epochs": 1, "max_steps": -1, "lr_scheduler": "cosine", "warmup_ratio": 0.1,
    "per_device_batch_size": 1, "gradient_accumulation_steps": 8, "cutoff_len": 4096, "overlong": "truncate",
    "precision": "auto", "deepspeed": None, "seed": 0, "logging_steps": 1, "save_steps": 0, "threads": 2,
}


def _legacy_merge(base: dict, override: dict) -> dict:
    out = copy.deepcopy(base)
    for key, value in override.items():
        out[key] = _legacy_merge(out[key], value) if isinstance(value, dict) and isinstance(out.get(key), dict) else value
    return out


def _minimal(**extra) -> dict:
    return {"models": {"m": {"source": "toy"}}, "datasets": {"d": {"source": "toy", "n": 2, "levels": [1]}},
            "train_dataset": "d", "eval_datasets": ["d"], "sampling": {"k": 2}, **extra}


def _cli_json(capsys, *argv) -> dict:
    assert main(list(argv)) == 0
    return json.loads(capsys.readouterr().out)


# ---- defaults: one home, filled once --------------------------------------------------------

def test_defaults_are_those_of_the_old_trainer_plus_the_new_keys():
    import dataclasses

    transformers = pytest.importorskip("transformers")
    defaults = training_defaults()
    assert defaults == {**LEGACY_DEFAULTS, "optimizer": "adamw", "max_grad_norm": 1.0, "prompt": "sampling"}
    field = {f.name: f for f in dataclasses.fields(transformers.TrainingArguments)}["max_grad_norm"]
    assert defaults["max_grad_norm"] == field.default  # transformers' own clipping default


@pytest.mark.parametrize("config", ["config/config.yaml", ".test/config.yaml", "config/smollm2.yaml"])
def test_every_run_of_the_shipped_configs_keeps_its_settings(config):
    cfg = load(ROOT / config)
    raw = yaml.safe_load((ROOT / config).read_text())
    for model in cfg["models"]:
        for method in trained_methods():
            legacy = LEGACY_DEFAULTS
            for layer in (raw.get("training"), (raw.get("methods", {}).get(method) or {}).get("training"),
                          raw["models"][model].get("training")):
                legacy = _legacy_merge(legacy, layer or {})
            expected = {**legacy, "optimizer": "adamw", "max_grad_norm": 1.0, "prompt": "sampling"}
            assert effective_training_config(cfg, model, method) == expected, (config, model, method)


def test_defaults_never_fill_the_lower_layers_so_a_method_value_survives():
    cfg = validate(_minimal(
        training={"learning_rate": 1.0},
        methods={"lh": {"training": {"learning_rate": 2.0}}},
        models={"m": {"source": "toy", "training": {"cutoff_len": 300},
                      "methods": {"dpo": {"training": {"epochs": 3}}}}}))
    # validation filled the top-level training only
    assert cfg["methods"]["lh"]["training"] == {"learning_rate": 2.0}
    assert cfg["models"]["m"]["training"] == {"cutoff_len": 300}
    assert cfg["models"]["m"]["methods"]["dpo"]["training"] == {"epochs": 3}
    assert cfg["training"]["gradient_accumulation_steps"] == 8 and cfg["training"]["learning_rate"] == 1.0
    lh = effective_training_config(cfg, "m", "lh")
    assert lh["learning_rate"] == 2.0 and lh["cutoff_len"] == 300 and lh["epochs"] == 1
    assert effective_training_config(cfg, "m", "dpo")["epochs"] == 3


def test_precedence_training_method_model_model_method():
    layers = {
        "training": {"learning_rate": 1.0, "epochs": 1, "cutoff_len": 100, "seed": 1, "lora": {"r": 4}},
        "methods.lh": {"learning_rate": 2.0, "epochs": 2, "cutoff_len": 200},
        "models.m": {"epochs": 3, "cutoff_len": 300, "lora": {"alpha": 64}},
        "models.m.methods.lh": {"cutoff_len": 400},
    }
    cfg = validate(_minimal(
        training=layers["training"], methods={"lh": {"training": layers["methods.lh"]}},
        models={"m": {"source": "toy", "training": layers["models.m"],
                      "methods": {"lh": {"training": layers["models.m.methods.lh"]}}}}))
    t = effective_training_config(cfg, "m", "lh")
    assert (t["seed"], t["learning_rate"], t["epochs"], t["cutoff_len"]) == (1, 2.0, 3, 400)
    assert t["lora"] == {"r": 4, "alpha": 64, "dropout": 0.05, "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}
    sft = effective_training_config(cfg, "m", "sft")  # the lh layers do not leak into sft
    assert (sft["learning_rate"], sft["epochs"], sft["cutoff_len"]) == (1.0, 3, 300)


def test_method_config_has_the_schema_defaults_and_no_training_block():
    cfg = validate(_minimal(methods={"dpo": {"training": {"epochs": 2}}}))
    assert method_config(cfg, "dpo") == {"n_chosen": 2, "beta": 0.1}
    assert method_config({}, "lh")["epsilon"] == 0.2          # unvalidated input: defaults too
    assert method_config({"methods": {"lh": {"epsilon": 0.3}}}, "lh")["epsilon"] == 0.3
    with pytest.raises(ValueError, match="method must be one of"):
        method_config(cfg, "fast_prompt")


def test_trained_methods_are_the_trainer_table():
    pytest.importorskip("pandas")
    from o1pruner.methods import registry

    assert trained_methods() == tuple(registry.trained())
    assert trained_methods()[:4] == ("sft", "dpo", "lh", "lh_onpolicy")


# ---- checking settings that did not come through validate() ---------------------------------

def test_check_training_fills_defaults_and_names_bad_keys():
    assert check_training({"learning_rate": 3.0}) == {**training_defaults(), "learning_rate": 3.0}
    for bad, where in [({"optimizer": "sgd"}, "training.optimizer"), ({"max_grad_norm": -1}, "training.max_grad_norm"),
                       ({"lerning_rate": 1}, "lerning_rate"), ({"lora": {"r": 0}}, "training.lora.r")]:
        with pytest.raises(ConfigError, match=where):
            check_training(bad)


def test_adam_mini_with_lora_is_refused_naming_the_run():
    with pytest.raises(ConfigError, match="adam_mini does not work with mode lora"):
        check_training({"optimizer": "adam_mini", "mode": "lora"})
    cfg = validate(_minimal(training={"mode": "lora"},
                            models={"m": {"source": "toy", "methods": {"dpo": {"training": {"optimizer": "adam_mini"}}}}}))
    effective_training_config(cfg, "m", "sft")  # adamw: fine
    with pytest.raises(ConfigError, match="m/dpo"):
        effective_training_config(cfg, "m", "dpo")


def test_unknown_model_or_method():
    cfg = validate(_minimal())
    with pytest.raises(KeyError, match="models.nope"):
        effective_training_config(cfg, "nope", "lh")
    with pytest.raises(ValueError, match="method must be one of"):
        effective_training_config(cfg, "m", "ppo")
    with pytest.raises(ConfigError, match=r"models.m.methods.fast_prompt: unknown key"):
        validate(_minimal(models={"m": {"source": "toy", "methods": {"fast_prompt": {}}}}))


# ---- the paper's recipe, per (model, method) ------------------------------------------------

PAPER = {  # config/paper.yaml must give the official runs' settings (examples/math/*.yaml)
    ("marco", "lh"): dict(mode="full", learning_rate=2e-7, epochs=1, per_device_batch_size=1,
                          gradient_accumulation_steps=8, cutoff_len=3072, optimizer="adam_mini", max_grad_norm=10),
    ("marco", "sft"): dict(mode="full", learning_rate=1e-6, epochs=2, per_device_batch_size=2,
                           gradient_accumulation_steps=4, cutoff_len=8192, optimizer="adamw", max_grad_norm=1.0),
    ("marco", "dpo"): dict(mode="full", learning_rate=5e-8, epochs=1, per_device_batch_size=1,
                           gradient_accumulation_steps=4, cutoff_len=3072, optimizer="adam_mini", max_grad_norm=10),
    ("qwq", "lh"): dict(mode="freeze", freeze_trainable_layers=48, learning_rate=2e-6, epochs=1,
                        per_device_batch_size=1, gradient_accumulation_steps=4, cutoff_len=4096,
                        optimizer="adamw", max_grad_norm=10),
    ("qwq", "sft"): dict(mode="freeze", freeze_trainable_layers=48, learning_rate=5e-6, epochs=1,
                         per_device_batch_size=1, gradient_accumulation_steps=4, cutoff_len=4096,
                         optimizer="adamw", max_grad_norm=10),
    ("qwq", "dpo"): dict(mode="freeze", freeze_trainable_layers=36, learning_rate=2e-7, epochs=2,
                         per_device_batch_size=1, gradient_accumulation_steps=4, cutoff_len=3072,
                         optimizer="adamw", max_grad_norm=10),
}


@pytest.mark.parametrize("model, method", sorted(PAPER))
def test_training_config_cli_gives_the_official_recipe(capsys, model, method):
    t = _cli_json(capsys, "training-config", "--config", str(ROOT / "config" / "paper.yaml"),
                  "--model", model, "--method", method)
    assert set(REPORTED_KEYS) <= set(t) and set(t) == set(training_defaults())
    assert {k: t[k] for k in PAPER[model, method]} == PAPER[model, method]
    assert (t["lr_scheduler"], t["warmup_ratio"], t["precision"]) == ("cosine", 0.1, "bf16")
    assert t["deepspeed"] == "config/deepspeed/zero3.json"
    assert method_config(load(ROOT / "config" / "paper.yaml"), "dpo")["beta"] == 0.1


def test_training_config_cli_layers_several_files(capsys, tmp_path):
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(yaml.safe_dump({"models": {"qwq": {"methods": {"dpo": {"training": {"learning_rate": 1e-7}}}}}}))
    t = _cli_json(capsys, "training-config", "--config", str(ROOT / "config" / "paper.yaml"),
                  "--config", str(overlay), "--model", "qwq", "--method", "dpo")
    assert t["learning_rate"] == 1e-7 and t["freeze_trainable_layers"] == 36  # the rest of the layer stays
