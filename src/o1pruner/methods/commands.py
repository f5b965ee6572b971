"""The command line of o1pruner.methods: each ``cli_<name>(argv)`` parses its own arguments and calls the library (o1pruner.cli dispatches to them)."""

from __future__ import annotations

import argparse
import json
import sys

from o1pruner.config import method_defaults
from o1pruner.io import read_table, write_parquet
from o1pruner.methods import datasets, rewards
from o1pruner.methods.datasets import NEEDED
from o1pruner.methods.registry import builder, method
from o1pruner.methods.rewards import check_samples, group_rewards, reward_params
from o1pruner.reference_stats import difficulty_subset, reference_stats
from o1pruner.schemas import require_columns


def cli_build_dataset(argv: list[str]) -> int:
    """o1pruner build-dataset --method lh --samples graded.parquet --stats reference_stats.parquet
    --method-json '{"samples_per_problem": 2, "clip": [-2, 4]}' --value 2 --seed 0 --output lh.parquet"""
    p = argparse.ArgumentParser(prog="o1pruner build-dataset", description=datasets.__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--method", required=True, help="a registered method that trains (sft, dpo, lh, ...)")
    p.add_argument("--samples", required=True, help="graded samples Parquet")
    p.add_argument("--stats", default=None,
                   help="reference_stats.parquet (o1pruner reference-stats; default: computed from --samples)")
    p.add_argument("--method-json", default="{}", help="the keys of methods.<method> its builder reads")
    p.add_argument("--value", type=float, default=None, help="the run parameter's value (lh: λ)")
    p.add_argument("--seed", type=int, default=0, help="seed of any random pick (lh: the per-problem samples)")
    p.add_argument("--difficulty-percentiles", type=float, nargs=2, default=None, metavar=("LO", "HI"),
                   help="keep only problems in this difficulty band (Figure 4)")
    p.add_argument("--output", required=True)
    a = p.parse_args(argv)
    m = method(a.method)
    if m.run_param is not None and a.value is None:
        p.error(f"--value (methods.{m.name}.{m.run_param}) is required for {m.name}")
    graded = read_table(a.samples)
    require_columns(graded, NEEDED, a.samples)
    if a.stats is None:
        stats = reference_stats(graded)
    else:
        stats = read_table(a.stats)
        require_columns(stats, ["problem_id", "mean_length", "mean_acc"], a.stats)
    if a.difficulty_percentiles is not None:
        graded = difficulty_subset(graded, stats, *a.difficulty_percentiles)
    mcfg = {**method_defaults(m.name), **json.loads(a.method_json)}
    df = builder(m)(graded, stats, mcfg, a.seed, a.value)
    write_parquet(df, a.output)
    n_in, n_out = graded["problem_id"].nunique(), df["problem_id"].nunique()
    print(f"build-dataset {m.name}: {len(df)} rows from {n_out}/{n_in} problems -> {a.output}", file=sys.stderr)
    if "reward_clipped" in df.columns and len(df):
        r = df["reward_clipped"]
        print(f"build-dataset {m.name}: clipped reward mean {r.mean():.4f} std {r.std(ddof=0):.4f}; "
              f"{int((df['reward'] != r).sum())} rows clipped", file=sys.stderr)
    return 0


def _param(text: str) -> tuple[str, object]:
    """``KEY=VALUE`` -> (key, value): the value as JSON (``2``, ``0.001``, ``true``), else the text."""
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise ValueError(f"--param {text!r}: expected KEY=VALUE")
    try:
        return key, json.loads(value)
    except json.JSONDecodeError:
        return key, value


def cli_rewards(argv: list[str]) -> int:
    """o1pruner rewards --samples graded.parquet --reward kimi --param weight=0.5
    [--stats reference_stats.parquet] --output rewards.parquet"""
    p = argparse.ArgumentParser(prog="o1pruner rewards", description=rewards.__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", required=True, help="graded samples Parquet (problem_id, num_tokens, correct; "
                   "finish_reason, when there, marks truncated samples)")
    p.add_argument("--reward", required=True, help=f"a registered reward ({', '.join(rewards.REWARDS)})")
    p.add_argument("--param", action="append", default=[], metavar="KEY=VALUE",
                   help="a parameter of the reward (repeatable; lh: lambda=2); the rest take their defaults")
    p.add_argument("--stats", default=None,
                   help="reference_stats.parquet (o1pruner reference-stats; default: computed from --samples)")
    p.add_argument("--output", required=True, help="the graded table with a 'reward' column (Parquet)")
    a = p.parse_args(argv)
    given: dict = {}
    for text in a.param:
        key, value = _param(text)
        if key in given:
            raise ValueError(f"--param {key!r} is given twice")
        given[key] = value
    params = reward_params(a.reward, given)  # an unknown reward or a bad key fails before any file is read
    graded = read_table(a.samples)
    check_samples(graded, a.samples)
    if a.stats is None:
        stats = reference_stats(graded)
    else:
        stats = read_table(a.stats)
        require_columns(stats, rewards.STATS_NEEDED, a.stats)
    try:
        values = group_rewards(graded, stats, a.reward, params)
    except ValueError as e:
        raise ValueError(f"{a.samples} with {a.stats or 'its own reference stats'}: {e}") from e
    out = graded.assign(reward=values)
    write_parquet(out, a.output)
    print(f"rewards {a.reward} {json.dumps(params)}: {len(out)} samples of {graded['problem_id'].nunique()} "
          f"problems, mean {out['reward'].mean():.4f} -> {a.output}", file=sys.stderr)
    return 0
