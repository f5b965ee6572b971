"""The effective training settings of one run (model × method), and the command that prints them.

    o1pruner training-config --config config/paper.yaml --model marco --method dpo
    o1pruner training-config --config config/paper.yaml --config overlay.yaml --model qwq --method lh

prints one JSON object: every ``training`` key of that run (what ``o1pruner train
--training-json`` takes). Several ``--config`` files layer as ``snakemake --configfile A B`` does.

Precedence (later wins; mappings such as ``lora`` merge key by key, other values are replaced):

1. the schema's defaults (``src/o1pruner/schema.yaml``, top-level ``training``: their only home)
2. ``training``                                  shared by every run
3. ``methods.<method>.training``                 this method, every model
4. ``models.<model>.training``                   this model, every method (mode, deepspeed, ...)
5. ``models.<model>.methods.<method>.training``  this model and this method (the official recipe
   differs per pair: e.g. Marco-o1's DPO uses Adam-mini at lr 5e-8, its SFT AdamW at 1e-6)

Only layer 1 carries defaults: the layers 3-5 refer to a defaults-free part of the schema, so no
default can hide a value set on a less specific layer.

Beyond the schema (types, ranges, enums), one rule spans keys: ``optimizer: adam_mini`` is refused
with ``mode: lora``. Adam-mini picks its learning-rate blocks from parameter NAMES of full weight
matrices (q/k: one rate per attention head); LoRA's ``q_proj.lora_A`` factors are no such blocks
(adam-mini 1.1 crashes on them, 1.0.4 gives each factor one rate): that is not Adam-mini.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from o1pruner.config import ConfigError, fill_defaults, load, load_schema, merge
from o1pruner.methods import registry

# What a run's training settings must contain, at least (``o1pruner training-config``'s contract)
REPORTED_KEYS = ("mode", "freeze_trainable_layers", "learning_rate", "epochs", "per_device_batch_size",
                 "gradient_accumulation_steps", "cutoff_len", "optimizer", "max_grad_norm",
                 "lr_scheduler", "warmup_ratio")


def trained_methods() -> tuple[str, ...]:
    """The methods that train a model (the method registry): sft, dpo, lh, and any registered."""
    return tuple(registry.trained())


def training_defaults() -> dict:
    """Every training key with its schema default (the top-level ``training`` of the schema)."""
    schema = load_schema()
    return fill_defaults({}, schema["properties"]["training"], schema)


def check_training(tcfg: dict, where: str = "training") -> dict:
    """``tcfg`` with the schema defaults filled in, checked against the schema; raise ConfigError.

    For settings that did not come through :func:`o1pruner.config.validate` (``--training-json``,
    a dict in a test): the same types, ranges and enums, and the one cross-key rule.
    """
    import jsonschema

    schema = load_schema()
    tcfg = merge(training_defaults(), tcfg)
    validator = jsonschema.Draft202012Validator({"$defs": schema["$defs"], **schema["$defs"]["training"]})
    errors = [f"{where}.{'.'.join(map(str, e.path))}: {e.message}" if e.path else f"{where}: {e.message}"
              for e in sorted(validator.iter_errors(tcfg), key=lambda e: list(map(str, e.path)))]
    if tcfg["optimizer"] == "adam_mini" and tcfg["mode"] == "lora":
        errors.append(f"{where}.optimizer: adam_mini does not work with mode lora (Adam-mini's "
                      "learning-rate blocks are parts of full weight matrices, e.g. attention heads of "
                      "q_proj; LoRA's lora_A/lora_B factors have no such parts); use optimizer adamw, "
                      "or mode full/freeze")
    if errors:
        raise ConfigError("invalid training settings:\n  " + "\n  ".join(errors))
    return tcfg


def _check_names(cfg: dict, model_name: str, method: str) -> None:
    methods = trained_methods()
    if method not in methods:
        raise ValueError(f"method must be one of {methods}, got {method!r}")
    models = cfg.get("models", {})
    if model_name not in models:
        raise KeyError(f"models.{model_name}: not in the config (models: {sorted(models)})")


def training_layers(cfg: dict, model_name: str, method: str) -> list[tuple[str, dict]]:
    """The layers 2-5 of the module docstring, least specific first, as (config path, block)."""
    _check_names(cfg, model_name, method)
    model = cfg["models"][model_name]

    def block(node: Any) -> dict:
        return (node or {}).get("training") or {}

    return [
        ("training", cfg.get("training") or {}),
        (f"methods.{method}.training", block((cfg.get("methods") or {}).get(method))),
        (f"models.{model_name}.training", block(model)),
        (f"models.{model_name}.methods.{method}.training", block((model.get("methods") or {}).get(method))),
    ]


def effective_training_config(cfg: dict, model_name: str, method: str) -> dict:
    """Every training setting of the run (``model_name``, ``method``), precedence as above."""
    tcfg: dict = {}
    known = set(training_defaults())
    for where, layer in training_layers(cfg, model_name, method):
        unknown = sorted(set(layer) - known)
        if unknown:  # a config that skipped validation
            raise KeyError(f"{where}: unknown key(s) {unknown}")
        tcfg = merge(tcfg, layer)
    return check_training(tcfg, f"training of {model_name}/{method}")


def method_config(cfg: dict, method: str) -> dict:
    """``methods.<method>`` without its ``training`` block, schema defaults filled: the method's own
    parameters (``beta`` for DPO, ``epsilon`` for LH; the data builders' keys come along)."""
    if method not in trained_methods():
        raise ValueError(f"method must be one of {trained_methods()}, got {method!r}")
    schema = load_schema()
    mcfg = {k: copy.deepcopy(v) for k, v in ((cfg.get("methods") or {}).get(method) or {}).items()
            if k != "training"}
    return fill_defaults(mcfg, schema["$defs"]["methods"]["properties"][method], schema)


def load_configs(paths: list[str | Path]) -> dict:
    """The validated config of one file, or of several layered in order (``--configfile A B``)."""

    return load(*paths)
