"""The command line of o1pruner.training: each ``cli_<name>(argv)`` parses its own arguments and calls the library (o1pruner.cli dispatches to them)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from o1pruner.config import validate
from o1pruner.devices import job_gpus_from_env, require_gpus
from o1pruner.methods import registry
from o1pruner.training import distributed, settings
from o1pruner.training import train as train_module
from o1pruner.training.settings import (  # noqa: F401  (effective_training_config, method_config: API)
    check_training,
    effective_training_config,
    load_configs,
    method_config,
    trained_methods,
)
from o1pruner.training.train import train


def cli_training_config(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner training-config", description=settings.__doc__.split("\n\n")[0])
    ap.add_argument("--config", type=Path, action="append", required=True,
                    help="config file; repeat to layer files (later ones win)")
    ap.add_argument("--model", required=True, help="key under models:")
    ap.add_argument("--method", required=True, choices=trained_methods())
    args = ap.parse_args(argv)
    cfg = load_configs(args.config)
    json.dump(effective_training_config(cfg, args.model, args.method), sys.stdout, sort_keys=True)
    sys.stdout.write("\n")
    return 0


def cli_train(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner train", description=train_module.__doc__.split("\n\n")[0])
    ap.add_argument("--method", required=True, help=f"a registered method that trains: {', '.join(registry.trained())}")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--training-json", help="the run's training settings as JSON (o1pruner training-config)")
    src.add_argument("--config", type=Path, action="append",
                     help="workflow config (YAML); repeat to layer files (needs --model-name)")
    src.add_argument("--config-json", help="a workflow config as JSON (needs --model-name)")
    ap.add_argument("--method-json", default=None,
                    help="with --training-json: methods.<method> without its training block, as JSON")
    ap.add_argument("--model-name", default=None, help="with --config/--config-json: key under models:")
    ap.add_argument("--model-path", required=True, help="HF folder of the model to fine-tune")
    ap.add_argument("--data", required=True, help="the method's training table (o1pruner build-dataset)")
    ap.add_argument("--output", required=True, help="output model folder (written atomically)")
    ap.add_argument("--log-dir", default=None, help="folder for train_<method>.jsonl (default: the output folder)")
    args = ap.parse_args(argv)
    # a job whose rule asked for GPUs (O1PRUNER_JOB_GPUS) stops now if it has none

    require_gpus(job_gpus_from_env(), "train")

    if args.training_json is not None:
        if args.model_name is not None:
            ap.error("--model-name goes with --config/--config-json, not --training-json")
        tcfg = json.loads(args.training_json)
        mcfg = json.loads(args.method_json) if args.method_json else {}
    else:
        if args.model_name is None:
            ap.error("--config/--config-json need --model-name")
        if args.method_json is not None:
            ap.error("--method-json goes with --training-json (a config file has methods: itself)")

        cfg = validate(json.loads(args.config_json)) if args.config_json else load_configs(args.config)
        tcfg = effective_training_config(cfg, args.model_name, args.method)
        mcfg = method_config(cfg, args.method)
        if train_module.trainer_of(args.method).grades:  # it grades its own samples, as the config grades
            mcfg["grading"] = cfg["grading"]
    summary = train(args.method, args.model_path, args.data, args.output, tcfg, mcfg, args.log_dir)
    if distributed.world()[1] == 0:
        keys = ("method", "mode", "optimizer", "examples", "steps", "final_loss", "trainable_params",
                "wall_time_s")
        print(json.dumps({k: summary[k] for k in keys}), file=sys.stderr)
    return 0
