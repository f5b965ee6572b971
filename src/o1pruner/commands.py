"""The command line of o1pruner: each ``cli_<name>(argv)`` parses its own arguments and calls the library (o1pruner.cli dispatches to them)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from o1pruner.config import load
from o1pruner.io import write_parquet
from o1pruner.models import convert_gguf
from o1pruner.problems import DatasetError, load_dataset
from o1pruner.reference_stats import reference_stats


def cli_validate(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner validate-config")
    ap.add_argument("config", type=Path, nargs="+", help="config file(s), later ones layered over earlier")
    args = ap.parse_args(argv)
    load(*args.config)
    print(f"{', '.join(map(str, args.config))}: ok")
    return 0


def cli_convert_gguf(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner convert-gguf")
    ap.add_argument("--gguf", required=True, help="file path or pkg:<module>/<file>")
    ap.add_argument("--output", required=True, type=Path)
    args = ap.parse_args(argv)
    out = convert_gguf(args.gguf, args.output)
    print(f"converted {args.gguf} -> {out}")
    return 0


def cli_prepare(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner prepare-data")
    src = ap.add_mutually_exclusive_group(required=True)
    src.add_argument("--config", type=Path, help="config file holding datasets.<dataset>")
    src.add_argument("--spec", help="the dataset's config entry as JSON (what the workflow passes)")
    ap.add_argument("--dataset", required=True)
    ap.add_argument("--output", required=True, type=Path)
    ap.add_argument("--base-dir", type=Path, default=Path("."))
    args = ap.parse_args(argv)
    if args.spec:
        spec = json.loads(args.spec)
    else:
        datasets = load(args.config)["datasets"]
        if args.dataset not in datasets:
            raise SystemExit(f"--dataset {args.dataset!r} is not in {args.config} datasets")
        spec = datasets[args.dataset]
    try:
        df = load_dataset(args.dataset, spec, args.base_dir)
    except DatasetError as e:  # the message names file and row; a traceback adds nothing
        print(f"o1pruner prepare-data: error: {e}", file=sys.stderr)
        return 1
    write_parquet(df, args.output)
    print(f"{args.dataset}: {len(df)} problems, {df.attrs.get('skipped', 0)} skipped -> {args.output}")
    return 0


def cli_reference_stats(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner reference-stats")
    ap.add_argument("--graded", required=True, type=Path, nargs="+")
    ap.add_argument("--output", required=True, type=Path)
    args = ap.parse_args(argv)
    graded = pd.concat([pd.read_parquet(p) for p in args.graded], ignore_index=True)
    stats = reference_stats(graded)
    write_parquet(stats, args.output)
    print(f"reference stats: {len(stats)} problems, mean length {stats['mean_length'].mean():.1f}, "
          f"mean acc {stats['mean_acc'].mean():.3f} -> {args.output}")
    return 0
