"""The command line of o1pruner.toy: each ``cli_<name>(argv)`` parses its own arguments and calls the library (o1pruner.cli dispatches to them)."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import time
from dataclasses import asdict
from pathlib import Path

import pandas as pd

from o1pruner.config import load
from o1pruner.io import read_table, write_table, write_text
from o1pruner.reporting.results_page import cpu_model
from o1pruner.toy import anatomy, check, model
from o1pruner.toy.anatomy import (
    COUNT_COLUMNS,
    add_anatomy,
    eval_key,
    pruning_anatomy,
    reflection_table,
    reflection_value,
    write_markdown,
)
from o1pruner.toy.check import check_seed, render
from o1pruner.toy.model import ToyConfig, train_toy


def cli_toy_reflection(argv: list[str]) -> int:


    ap = argparse.ArgumentParser(prog="o1pruner toy-reflection",
                                 description="does the toy's reflection pay? (graded toy samples)")
    ap.add_argument("--graded", required=True, nargs="+", type=Path)
    ap.add_argument("--group", action="append", default=[], metavar="NAME=L1,L2",
                    help="a group of levels (repeatable), e.g. easy=2,3 hard=6,7,8")
    ap.add_argument("--bootstrap-samples", type=int, default=1000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--output", default=None, help="JSON file (default: stdout only)")
    ap.add_argument("--markdown", default=None, help="the same as a Markdown table")
    args = ap.parse_args(argv)
    graded = pd.concat([read_table(p) for p in args.graded], ignore_index=True)
    if not set(COUNT_COLUMNS) <= set(graded.columns):
        graded = add_anatomy(graded)
    groups = {g.split("=")[0]: [int(v) for v in g.split("=")[1].split(",")] for g in args.group}
    value = reflection_value(graded, groups, args.bootstrap_samples, args.seed)
    text = json.dumps(value, indent=1)
    if args.output:
        write_text(text + "\n", args.output)
    if args.markdown:
        write_markdown(reflection_table(value), Path(args.markdown))
    print(text)
    return 0


def cli_pruning_anatomy(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner pruning-anatomy", description=anatomy.__doc__.split("\n\n")[0])
    ap.add_argument("--evals", nargs="+", required=True, type=Path,
                    help="evaluation parquets results/<model>/eval/<run>/<dataset>.parquet")
    ap.add_argument("--output", required=True, help="output stem: writes <stem>.csv and <stem>.md")
    ap.add_argument("--baseline", default="baseline")
    args = ap.parse_args(argv)
    evals = {eval_key(p): read_table(p) for p in args.evals}
    table = pruning_anatomy(evals, args.baseline)
    write_table(table, f"{args.output}.csv")
    write_markdown(table, Path(f"{args.output}.md"))
    print(table.to_string(index=False))
    return 0


def cli_toy_check(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner toy-check", description=check.__doc__.split("\n\n")[0])
    ap.add_argument("--config", default="config/config.yaml")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--workdir", type=Path, default=Path("results/toy_check"))
    ap.add_argument("--group", action="append", default=["easy=2,3", "hard=6,7,8"], metavar="NAME=L1,L2")
    ap.add_argument("--overrides", default="{}", help="ToyConfig fields (JSON) over the config's toy block")
    ap.add_argument("--output", type=Path, default=None, help="Markdown file for the table")
    args = ap.parse_args(argv)
    cfg = load(args.config)
    groups = {g.split("=")[0]: [int(v) for v in g.split("=")[1].split(",")] for g in args.group}
    rows = []
    for seed in args.seeds:
        t0 = time.time()
        rows.append(check_seed(cfg, seed, args.workdir, groups, json.loads(args.overrides)))
        print(json.dumps(rows[-1]), f"({time.time() - t0:.0f} s)", flush=True)
    text = render(rows, cpu_model())
    print(text)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text)
    return 0


def cli_build(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner build-toy", description=model.__doc__.split("\n\n")[0])
    ap.add_argument("--output", required=True, type=Path)
    ap.add_argument("--overrides", default="{}", help="ToyConfig fields as JSON (lists included)")
    for f, v in asdict(ToyConfig()).items():
        if isinstance(v, bool):
            ap.add_argument(f"--{f.replace('_', '-')}", choices=["true", "false"], default=None)
        elif not isinstance(v, (list, dict)):
            ap.add_argument(f"--{f.replace('_', '-')}", type=type(v), default=None)
    args = ap.parse_args(argv)
    overrides = json.loads(args.overrides)
    unknown = sorted(set(overrides) - set(ToyConfig.__dataclass_fields__))
    if unknown:
        raise SystemExit(f"build-toy: unknown ToyConfig field(s) {unknown}")
    bools = {f for f, v in asdict(ToyConfig()).items() if isinstance(v, bool)}
    flags = {k: (v == "true" if k in bools else v) for k, v in vars(args).items()
             if k in ToyConfig.__dataclass_fields__ and v is not None}
    cfg = ToyConfig(**{**overrides, **flags})
    tmp = args.output.with_name(args.output.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    info = train_toy(cfg, tmp)
    shutil.rmtree(args.output, ignore_errors=True)
    os.replace(tmp, args.output)  # a killed build never leaves a folder that looks complete
    print(json.dumps({k: info[k] for k in ("params", "final_loss", "train_tokens", "wall_s")}))
    return 0
