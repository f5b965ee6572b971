"""Greedy evaluation of one model (one method) on one dataset, graded by the same grader.

    o1pruner evaluate --model results/toy/lh_lambda2/model --problems results/data/toy_easy.parquet \\
        --method lh --model-name toy --max-tokens 512 --backend vllm \\
        --samples results/toy/eval/lh/toy_easy.parquet --metrics results/toy/eval/lh/toy_easy.json

Writes per-sample rows (response, num_tokens, finish_reason, extracted, correct) and a
metrics JSON: accuracy (percent), mean length in tokens, and the generation wall time
and tokens/s measured the same way for every method (Figure 3).
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from o1pruner.generation import SamplingSpec
from o1pruner.grading import Grader
from o1pruner.io import write_parquet, write_text
from o1pruner.sampling import sample_problems

METHOD_SPEED = {"fast_prompt": "fast"}  # every other method uses the normal prompt


def evaluate(model: str, problems: pd.DataFrame, backend: str, max_tokens: int,
             family: str = "default", speed: str = "normal", grading_timeout: float = 5.0,
             **gen_kwargs) -> tuple[pd.DataFrame, dict]:
    spec = SamplingSpec(n=1, temperature=0.0, top_p=1.0, max_tokens=max_tokens, seed=0)
    samples = sample_problems(problems, model, spec, backend, family, speed, **gen_kwargs)
    timing = dict(samples.attrs)
    with Grader(timeout=grading_timeout) as grader:
        graded = grader.grade_frame(samples)
    tokens = int(graded["num_tokens"].sum())
    metrics = {
        "n": len(graded),
        "acc": round(100 * float(graded["correct"].mean()), 4) if len(graded) else 0.0,
        "length": round(float(graded["num_tokens"].mean()), 4) if len(graded) else 0.0,
        "truncated": int((graded["finish_reason"] == "length").sum()),
        "tokens": tokens,
        "wall_s": round(timing.get("wall_s", 0.0), 3),
        "startup_s": round(timing.get("startup_s", 0.0), 3),
        "generate_s": round(timing.get("generate_s", 0.0), 3),
        "tokens_per_s": round(tokens / timing["generate_s"], 2) if timing.get("generate_s") else None,
        "backend": backend,
    }
    return graded, metrics


def cli_evaluate(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner evaluate", description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--problems", required=True, type=Path)
    ap.add_argument("--method", required=True)
    ap.add_argument("--model-name", required=True)
    ap.add_argument("--backend", choices=["vllm", "transformers"], default="vllm")
    ap.add_argument("--max-tokens", type=int, default=8192)
    ap.add_argument("--prompt-family", default="default")
    ap.add_argument("--speed", default=None, help="override the method's prompt speed")
    ap.add_argument("--dtype", default="auto")
    ap.add_argument("--max-model-len", type=int, default=None)
    ap.add_argument("--gpus", type=int, default=None)
    ap.add_argument("--grading-timeout", type=float, default=5.0)
    ap.add_argument("--lambda", dest="lam", type=float, default=None)
    ap.add_argument("--samples", required=True, type=Path)
    ap.add_argument("--metrics", required=True, type=Path)
    args = ap.parse_args(argv)
    problems = pd.read_parquet(args.problems)
    speed = args.speed or METHOD_SPEED.get(args.method, "normal")
    graded, metrics = evaluate(args.model, problems, args.backend, args.max_tokens,
                               args.prompt_family, speed, args.grading_timeout, dtype=args.dtype,
                               max_model_len=args.max_model_len, gpus=args.gpus)
    dataset = str(problems["dataset"].iloc[0]) if len(problems) else args.problems.stem
    metrics = {"model": args.model_name, "method": args.method, "dataset": dataset,
               "lambda": args.lam, **metrics}
    write_parquet(graded, args.samples)
    write_text(json.dumps(metrics, indent=2) + "\n", args.metrics)
    print(json.dumps(metrics))
    return 0
