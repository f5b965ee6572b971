"""The command line of o1pruner.generation: each ``cli_<name>(argv)`` parses its own arguments and calls the library (o1pruner.cli dispatches to them)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from o1pruner.config import schema_default
from o1pruner.generation import sampling
from o1pruner.generation.sampling import (
    add_engine_args,
    sample_problems,
    select_shard,
    shard_seed,
    spec_from_args,
)
from o1pruner.io import read_table, write_parquet


def _add_spec_args(ap: argparse.ArgumentParser) -> None:
    add_engine_args(ap)
    ap.add_argument("--k", type=int, required=True, help="samples per problem")
    ap.add_argument("--temperature", type=float, default=schema_default("sampling.temperature"))
    ap.add_argument("--top-p", type=float, default=schema_default("sampling.top_p"))
    ap.add_argument("--top-k", type=int, default=schema_default("sampling.top_k"), help="-1: off")
    ap.add_argument("--max-tokens", type=int, default=schema_default("sampling.max_tokens"))
    ap.add_argument("--seed", type=int, default=schema_default("sampling.seed"))
    ap.add_argument("--batch-size", type=int, default=schema_default("sampling.batch_size"))


def cli_sample(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner sample", description=sampling.__doc__.split("\n\n")[0])
    _add_spec_args(ap)
    ap.add_argument("--problems", required=True, type=Path)
    ap.add_argument("--limit", type=int, default=None, help="first N problems only")
    ap.add_argument("--shard", type=int, default=0)
    ap.add_argument("--num-shards", type=int, default=1)
    ap.add_argument("--output", required=True, type=Path)
    args = ap.parse_args(argv)
    problems = read_table(args.problems)
    if args.limit:
        problems = problems.head(args.limit)
    part = select_shard(problems, args.shard, args.num_shards)
    spec = spec_from_args(args, shard_seed(args.seed, args.shard))
    df = sample_problems(part, args.model, spec, args.backend, args.prompt_family, args.speed,
                         dtype=args.dtype, max_model_len=args.max_model_len, gpus=args.gpus)
    write_parquet(df, args.output)
    tokens = int(df["num_tokens"].sum()) if len(df) else 0
    gen_s = df.attrs.get("generate_s", 0.0)
    print(json.dumps({"shard": args.shard, "problems": len(part), "samples": len(df),
                      "tokens": tokens, "wall_s": round(df.attrs.get("wall_s", 0.0), 1),
                      "startup_s": round(df.attrs.get("startup_s", 0.0), 1),
                      "tokens_per_s": round(tokens / gen_s, 1) if gen_s else None}))
    return 0
