"""Pre-sampling: K solutions per problem from the reference model, one shard at a time.

    o1pruner sample --model results/toy/model --problems results/toy/data/toy_train.parquet \\
        --k 8 --temperature 0.5 --top-p 0.8 --max-tokens 512 --shard 0 --num-shards 4 \\
        --output results/toy/presample/toy_train/shard-0-of-4.parquet

Problems are dealt to shards round-robin (row i goes to shard i mod n), so shards are
balanced across difficulty and a cluster can spread 5,000 problems x 16 samples over
many GPU jobs. Each shard is an independent job with its own seed
(``seed + 1000003 * shard``) and writes its Parquet atomically: a finished shard is never
recomputed and a killed one leaves nothing a later rule could take as complete.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from o1pruner.generation import SamplingSpec, generate
from o1pruner.io import write_parquet
from o1pruner.prompts import render
from o1pruner.schemas import PROBLEMS, SAMPLES, require_columns


def shard_seed(seed: int, shard: int) -> int:
    return seed + 1_000_003 * shard


def select_shard(problems: pd.DataFrame, shard: int, num_shards: int) -> pd.DataFrame:
    if not 0 <= shard < num_shards:
        raise ValueError(f"shard {shard} is outside 0..{num_shards - 1}")
    return problems.iloc[shard::num_shards]


def render_prompts(problems: pd.DataFrame, model: str, family: str = "default",
                   speed: str = "normal") -> list[str]:
    """Each problem through the official prompt and the model's chat template."""
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(model)
    return [render(tok, q, family, speed) for q in problems["problem"]]


def samples_frame(problems: pd.DataFrame, prompts: list[str], gens, seed: int) -> pd.DataFrame:
    """SAMPLES rows (problem-major, sample_idx 0..n-1) from generations per problem."""
    rows = []
    for (_, p), prompt, outs in zip(problems.iterrows(), prompts, gens):
        for j, g in enumerate(outs):
            rows.append({"problem_id": p["problem_id"], "sample_idx": j, "prompt": prompt,
                         "problem": p["problem"], "response": g.text, "num_tokens": g.num_tokens,
                         "finish_reason": g.finish_reason, "seed": seed,
                         "gold": p["answer"], "level": int(p["level"])})
    return pd.DataFrame(rows, columns=SAMPLES + ["level"])


def sample_problems(problems: pd.DataFrame, model: str, spec: SamplingSpec, backend: str,
                    family: str = "default", speed: str = "normal", **gen_kwargs) -> pd.DataFrame:
    """SAMPLES rows for every problem of the table; timing in ``df.attrs``."""
    require_columns(problems, PROBLEMS, "problems table")
    prompts = render_prompts(problems, model, family, speed)
    gens, timing = generate(backend, model, prompts, spec, **gen_kwargs)
    df = samples_frame(problems, prompts, gens, spec.seed)
    df.attrs.update(timing)
    return df


def _add_spec_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--model", required=True, help="HF folder or hub id")
    ap.add_argument("--backend", choices=["vllm", "transformers"], default="vllm")
    ap.add_argument("--k", type=int, default=1)
    ap.add_argument("--temperature", type=float, default=0.5)
    ap.add_argument("--top-p", type=float, default=0.8)
    ap.add_argument("--max-tokens", type=int, default=8192)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=64)
    ap.add_argument("--prompt-family", default="default")
    ap.add_argument("--speed", default="normal")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--max-model-len", type=int, default=None)
    ap.add_argument("--gpus", type=int, default=None, help="vLLM tensor_parallel_size")


def spec_from_args(args, seed: int) -> SamplingSpec:
    if args.k < 1:
        raise SystemExit(f"--k must be >= 1, got {args.k}")
    if args.temperature < 0:
        raise SystemExit(f"--temperature must be >= 0, got {args.temperature}")
    return SamplingSpec(n=args.k, temperature=args.temperature, top_p=args.top_p,
                        max_tokens=args.max_tokens, seed=seed, batch_size=args.batch_size)


def cli_sample(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner sample", description=__doc__.split("\n\n")[0])
    _add_spec_args(ap)
    ap.add_argument("--problems", required=True, type=Path)
    ap.add_argument("--limit", type=int, default=None, help="first N problems only")
    ap.add_argument("--shard", type=int, default=0)
    ap.add_argument("--num-shards", type=int, default=1)
    ap.add_argument("--output", required=True, type=Path)
    args = ap.parse_args(argv)
    problems = pd.read_parquet(args.problems)
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
