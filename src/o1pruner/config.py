"""Load and validate a workflow config before any job starts.

    o1pruner validate-config config/config.yaml

Validation is the JSON schema in ``schema.yaml`` (unknown keys and wrong types are
errors naming the key's path, e.g. ``sampling.k``) followed by cross-reference checks
the schema cannot express (a dataset named in ``eval_datasets`` must exist, ...).
Defaults from the schema are filled in, so every stage sees the same complete config.
"""

from __future__ import annotations

import argparse
import copy
from pathlib import Path
from typing import Any

import yaml

SCHEMA_PATH = Path(__file__).with_name("schema.yaml")


class ConfigError(ValueError):
    """The config is invalid; the message names the offending key."""


def load_schema() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _key_path(parts) -> str:
    out = ""
    for p in parts:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else str(p))
    return out or "<root>"


def _resolve(schema: dict, root: dict) -> dict:
    ref = schema.get("$ref")
    if ref and ref.startswith("#/"):
        node = root
        for part in ref[2:].split("/"):
            node = node[part]
        return node
    return schema


def fill_defaults(config: Any, schema: dict, root: dict | None = None) -> Any:
    """Insert schema ``default`` values for missing keys, recursively (in place)."""
    root = root or schema
    schema = _resolve(schema, root)
    if not isinstance(config, dict) or schema.get("type") not in (None, "object"):
        return config
    for key, sub in schema.get("properties", {}).items():
        sub = _resolve(sub, root)
        if key not in config and "default" in sub:
            config[key] = copy.deepcopy(sub["default"])
        if key in config:
            fill_defaults(config[key], sub, root)
    extra = schema.get("additionalProperties")
    if isinstance(extra, dict):
        for key, value in config.items():
            if key not in schema.get("properties", {}):
                fill_defaults(value, extra, root)
    return config


def _schema_errors(config: dict, schema: dict) -> list[str]:
    import jsonschema

    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.path)))
    messages = []
    for e in errors:
        path = list(e.path)
        if e.validator == "additionalProperties":
            # name the unknown key itself, not only its parent
            known = set(_resolve(e.schema, schema).get("properties", {}))
            for key in sorted(set(e.instance) - known):
                messages.append(f"{_key_path(path + [key])}: unknown key")
            continue
        messages.append(f"{_key_path(path)}: {e.message}")
    return messages


def _reference_errors(config: dict) -> list[str]:
    errors = []
    datasets = config.get("datasets", {})
    if config["train_dataset"] not in datasets:
        errors.append(f"train_dataset: {config['train_dataset']!r} is not in datasets "
                      f"({sorted(datasets)})")
    for i, name in enumerate(config["eval_datasets"]):
        if name not in datasets:
            errors.append(f"eval_datasets[{i}]: {name!r} is not in datasets ({sorted(datasets)})")
    if len(set(config["eval_datasets"])) != len(config["eval_datasets"]):
        errors.append("eval_datasets: names repeat")
    ld = config.get("length_disharmony")
    if ld and ld["dataset"] not in datasets:
        errors.append(f"length_disharmony.dataset: {ld['dataset']!r} is not in datasets")
    if ld and ld["samples"] < ld["intervals"]:
        errors.append(f"length_disharmony.samples: {ld['samples']} samples cannot fill "
                      f"{ld['intervals']} intervals")
    for name, ds in datasets.items():
        need = {"toy": ["n", "levels"], "local": ["path"], "hub": ["hub_id", "split"]}[ds["source"]]
        for key in need:
            if key not in ds:
                errors.append(f"datasets.{name}.{key}: required for source {ds['source']!r}")
    for name, m in config.get("models", {}).items():
        if m["source"] in ("hf", "gguf") and "path" not in m:
            errors.append(f"models.{name}.path: required for source {m['source']!r}")
    return errors


def validate(config: dict) -> dict:
    """Return a validated copy of ``config`` with defaults filled; raise ConfigError."""
    if not isinstance(config, dict):
        raise ConfigError(f"<root>: the config must be a mapping, got {type(config).__name__}")
    schema = load_schema()
    config = fill_defaults(copy.deepcopy(config), schema)
    errors = _schema_errors(config, schema)
    if not errors:
        errors = _reference_errors(config)
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors))
    return config


def load(path: str | Path) -> dict:
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    try:
        return validate(raw)
    except ConfigError as e:
        raise ConfigError(f"{path}: {e}") from None


def cli_validate(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner validate-config")
    ap.add_argument("config", type=Path)
    args = ap.parse_args(argv)
    load(args.config)
    print(f"{args.config}: ok")
    return 0
