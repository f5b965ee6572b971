"""Pre-sampling: K solutions per problem from the reference model, one shard at a time.

    o1pruner sample --model results/toy/model --problems results/data/toy_train.parquet \\
        --backend transformers --k 8 --temperature 0.5 --top-p 0.8 --max-tokens 384 \\
        --shard 0 --num-shards 2 --output results/toy/presample/samples-0-of-2.parquet

Problems are dealt to shards round-robin (row i goes to shard i mod n), so shards are
balanced across difficulty and a cluster can spread 5,000 problems x 16 samples over
many GPU jobs. Each shard is an independent job with its own seed
(``seed + 1000003 * shard``) and writes its Parquet atomically: a finished shard is never
recomputed and a killed one leaves nothing a later rule could take as complete.
"""

from __future__ import annotations

import argparse

import pandas as pd

from o1pruner.config import schema_default
from o1pruner.generation.engines import SamplingSpec, generate
from o1pruner.prompts import PROMPT_FAMILIES, SPEED_PROMPTS, render
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
                         "thinking_tokens": g.thinking_tokens, "answer_tokens": g.answer_tokens,
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


def add_engine_args(ap: argparse.ArgumentParser, stage: str = "sampling") -> None:
    """Engine and prompt flags of `o1pruner sample` and `o1pruner evaluate` (the workflow builds
    both from one helper, common.smk's engine_args); defaults are the schema's."""
    ap.add_argument("--model", required=True, help="HF folder or hub id")
    ap.add_argument("--backend", choices=["vllm", "transformers"], default=schema_default(f"{stage}.backend"))
    ap.add_argument("--prompt-family", choices=sorted(PROMPT_FAMILIES),
                    default=schema_default("models.*.prompt_family"))
    ap.add_argument("--speed", choices=sorted(SPEED_PROMPTS), default="normal",
                    help="speed prompt appended to the question (the Fast-solving prompt baseline)")
    ap.add_argument("--dtype", default=schema_default("models.*.dtype"))
    ap.add_argument("--max-model-len", type=int, default=None)
    ap.add_argument("--gpus", type=int, default=None, help="vLLM tensor_parallel_size")


def spec_from_args(args, seed: int) -> SamplingSpec:
    if args.k < 1:
        raise SystemExit(f"--k must be >= 1, got {args.k}")
    if args.temperature < 0:
        raise SystemExit(f"--temperature must be >= 0, got {args.temperature}")
    return SamplingSpec(n=args.k, temperature=args.temperature, top_p=args.top_p, top_k=args.top_k,
                        max_tokens=args.max_tokens, seed=seed, batch_size=args.batch_size)
