"""Load and validate a workflow config before any job starts.

    o1pruner validate-config config/config.yaml
    o1pruner validate-config config/config.yaml overlay.yaml   # layered, as --configfile A B

Config files layer as Snakemake layers them (``--configfile A B``: B's keys override A's,
mappings merge key by key, lists and scalars are replaced): each file is checked alone only
for what belongs to a file (valid YAML, a mapping, no key written twice), and the merged
config is validated once.

Validation is the JSON schema in ``schema.yaml`` (unknown keys and wrong types are
errors naming the key's path, e.g. ``sampling.k``) followed by cross-reference checks
the schema cannot express (a dataset named in ``eval_datasets`` must exist, ...).
Defaults from the schema are filled in, so every stage sees the same complete config.

The method names the schema allows come from the method registry
(:mod:`o1pruner.methods.registry`): ``evaluation.methods``, ``models.<m>.methods.<method>``, and
the ``methods.<method>`` block of a method registered by a module under ``plugins:``.
"""

from __future__ import annotations

import copy
import functools
import math
from pathlib import Path
from typing import Any

import yaml

from o1pruner.methods import registry

SCHEMA_PATH = Path(__file__).with_name("schema.yaml")


class ConfigError(ValueError):
    """The config is invalid; the message names the offending key."""


@functools.lru_cache(maxsize=1)
def _schema_file() -> dict:
    return yaml.safe_load(SCHEMA_PATH.read_text())


def _with_methods(schema: dict) -> dict:
    """The schema with the registry's method names put in (in place)."""
    names = list(registry.METHODS)
    evaluated = schema["properties"]["evaluation"]["properties"]["methods"]
    evaluated["items"] = {"enum": names}
    evaluated.setdefault("default", [m.name for m in registry.METHODS.values() if m.paper])
    blocks = schema["$defs"]["methods"]["properties"]
    per_model = schema["$defs"]["model"]["properties"]["methods"]["properties"]
    trainer_keys = schema["$defs"]["trainer_keys"]
    # the paper's λ defaults to the LH reward's (the reward registry: one home of reward defaults)
    blocks[registry.PAPER_METHOD]["properties"]["lambda"]["default"] = \
        registry.rewards.reward("lh").params["lambda"]["default"]
    for m in registry.METHODS.values():
        if m.params is not None:
            # the trainer's keys (samples per problem, clip, G, ...), then the method's own
            props = {**copy.deepcopy(trainer_keys.get(m.trainer, {})), **copy.deepcopy(m.params)}
            if m.trainer:
                props["training"] = {"$ref": "#/$defs/training"}
            required = [k for k, spec in m.params.items() if "default" not in spec]
            block = {"type": "object", "additionalProperties": False, "properties": props}
            # a block with a required key (budget's L_max) has no default: it is absent until given
            blocks[m.name] = dict(block, required=required) if required else dict(block, default={})
        if m.trainer is not None:
            per_model[m.name] = {"$ref": "#/$defs/model_method"}
    return schema


@functools.lru_cache(maxsize=8)
def _schema_for(methods: tuple[str, ...]) -> dict:
    return _with_methods(copy.deepcopy(_schema_file()))


def _schema() -> dict:
    """The schema for the methods registered now (a plugin module may have added some)."""
    return _schema_for(tuple(registry.METHODS))


def load_schema() -> dict:
    return copy.deepcopy(_schema())


def method_defaults(name: str) -> dict:
    """``methods.<name>``'s own keys at their defaults (its ``training`` block left out)."""
    root = _schema()
    block = fill_defaults({}, root["$defs"]["methods"]["properties"].get(name, {}), root)
    block.pop("training", None)
    return block


def schema_default(key: str) -> Any:
    """The schema's default of a dotted key (``methods.lh.clip``; ``*`` for a name, as in
    ``models.*.dtype``): the one home of every config default, also for CLI and API defaults."""
    root = _schema()
    node = root
    for part in key.split("."):
        node = _resolve(node, root)
        node = node.get("additionalProperties", {}) if part == "*" else node.get("properties", {}).get(part, {})
        node = _resolve(node, root)
    if "default" not in node:
        raise KeyError(f"{key}: the schema has no default for this key")
    return copy.deepcopy(node["default"])


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
        if e.validator == "pattern" and "propertyNames" in e.schema_path:
            # a name used in paths and wildcards: name the key itself
            messages.append(f"{_key_path(path + [e.instance])}: name must match {e.validator_value} "
                            "(it becomes part of file paths and Snakemake wildcards)")
            continue
        messages.append(f"{_key_path(path)}: {e.message}")
    return messages + _nonfinite_errors(config)


def _nonfinite_errors(node: Any, path: tuple = ()) -> list[str]:
    """NaN and ±inf (YAML ``.nan``, ``.inf``) pass every JSON-schema minimum; no key takes them."""
    if isinstance(node, float) and not math.isfinite(node):
        return [f"{_key_path(path)}: must be a finite number, got {node}"]
    if isinstance(node, dict):
        return [m for k, v in node.items() for m in _nonfinite_errors(v, path + (k,))]
    if isinstance(node, list):
        return [m for i, v in enumerate(node) for m in _nonfinite_errors(v, path + (i,))]
    return []


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
    for i, name in enumerate(config["evaluation"]["methods"]):
        if name not in config.get("methods", {}) and registry.METHODS[name].trainer is not None:
            errors.append(f"evaluation.methods[{i}]: {name!r} needs its block methods.{name} "
                          "(a key without a default, e.g. methods.budget.max_tokens)")
    for name, block in config.get("methods", {}).items():
        if "clip" in block and not block["clip"][0] < block["clip"][1]:
            errors.append(f"methods.{name}.clip: lower bound {block['clip'][0]} must be below the upper "
                          f"bound {block['clip'][1]}")
        param = registry.METHODS[name].run_param if name in registry.METHODS else None
        grid = [f"{float(v):g}" for v in block.get(f"{param}_grid", [])] if param else []
        if len(set(grid)) != len(grid):  # 2 and 2.0 are one run (results/.../lh_lambda_2)
            errors.append(f"methods.{name}.{param}_grid: values repeat ({grid})")
    for name, band in config.get("difficulty_splits", {}).items():
        if not band[0] < band[1]:  # an empty band would train LH on no problem at all
            errors.append(f"difficulty_splits.{name}: lower percentile {band[0]} must be below "
                          f"the upper {band[1]}")
    for name, m in config.get("models", {}).items():
        if m["source"] in ("hf", "gguf") and "path" not in m:
            errors.append(f"models.{name}.path: required for source {m['source']!r}")
    return errors


def validate(config: dict) -> dict:
    """Return a validated copy of ``config`` with defaults filled; raise ConfigError."""
    if not isinstance(config, dict):
        raise ConfigError(f"<root>: the config must be a mapping, got {type(config).__name__}")
    plugins = config.get("plugins") or []
    try:  # a malformed list is the schema's to report
        if isinstance(plugins, list) and all(isinstance(m, str) for m in plugins):
            registry.load_plugins(plugins)
    except (ImportError, ValueError) as e:
        raise ConfigError(f"plugins: {e}") from None
    try:  # the runs the config defines as a reward x a trainer (methods.<name>: {reward, trainer})
        registry.define_methods(config.get("methods") if isinstance(config.get("methods"), dict) else None)
    except ValueError as e:
        raise ConfigError(str(e)) from None
    schema = load_schema()
    config = fill_defaults(copy.deepcopy(config), schema)
    errors = _schema_errors(config, schema)
    if not errors:
        errors = _reference_errors(config)
    if errors:
        raise ConfigError("invalid config:\n  " + "\n  ".join(errors))
    return config


class _UniqueKeyLoader(yaml.SafeLoader):
    """SafeLoader that rejects a key written twice in one mapping (PyYAML keeps the last silently)."""

    def construct_mapping(self, node, deep=False):
        seen = set()
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            if key in seen:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark)
            seen.add(key)
        return super().construct_mapping(node, deep)


def load_yaml(path: str | Path) -> dict:
    """One config file: YAML, a mapping, no key written twice (the error names file and line)."""
    path = Path(path)
    try:
        raw = yaml.load(path.read_text(), Loader=_UniqueKeyLoader)
    except yaml.YAMLError as e:
        raise ConfigError(f"{path}: not valid YAML: {e}") from None
    if not isinstance(raw, dict):  # an empty file is None
        raise ConfigError(f"{path}: <root>: the config must be a mapping, got {type(raw).__name__}")
    return raw


def merge(base: dict, override: dict) -> dict:
    """``override`` layered over ``base`` the way Snakemake merges ``--configfile A B``."""
    out = copy.deepcopy(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = copy.deepcopy(value)
    return out


def load(*paths: str | Path) -> dict:
    """The validated config of one file, or of several layered in order."""
    if not paths:
        raise ConfigError("no config file given")
    merged: dict = {}
    for path in paths:
        merged = merge(merged, load_yaml(path))
    try:
        return validate(merged)
    except ConfigError as e:
        where = ", ".join(map(str, paths))
        raise ConfigError(f"{where}: {e}") from None
