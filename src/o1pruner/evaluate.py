"""Greedy evaluation of one run (a trained model, or the reference model) on the evaluation
datasets, one engine start.

    o1pruner evaluate --model results/toy/runs/lh_lambda_2/model --run lh_lambda_2 \\
        --model-name toy --backend transformers --max-tokens 384 \\
        --problems results/data/toy_medium.parquet results/data/toy_easy.parquet \\
        --samples a.parquet b.parquet --metrics a.json b.json

The Fast-solving prompt baseline is the reference model with ``--speed fast``.

The engine starts once; each dataset is then generated and timed on its own, so the
per-dataset ``generate_s`` and tokens/s (Figure 3) are measured the same way for every
method. Responses are graded by the same grader as the pre-samples. Per dataset it writes
the graded samples and a metrics JSON: accuracy (percent), mean length in tokens, truncation
count, generation time and tokens/s.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pandas as pd

from o1pruner.config import schema_default
from o1pruner.generation import SamplingSpec, load_engine, timed_generate
from o1pruner.grading import ANSWER_FALLBACKS, Grader
from o1pruner.io import read_table, write_parquet, write_text
from o1pruner.sampling import add_engine_args, render_prompts, samples_frame
from o1pruner.schemas import PROBLEMS, require_columns


def run_metrics(graded: pd.DataFrame, generate_s: float) -> dict:
    tokens = int(graded["num_tokens"].sum())
    n = len(graded)
    return {
        "n": n,
        "acc": round(100 * float(graded["correct"].mean()), 4) if n else 0.0,
        "length": round(float(graded["num_tokens"].mean()), 4) if n else 0.0,
        "truncated": int((graded["finish_reason"] == "length").sum()),
        "tokens": tokens,
        "generate_s": round(generate_s, 3),
        "tokens_per_s": round(tokens / generate_s, 2) if generate_s > 0 else None,
    }


def evaluate(model: str, problem_sets: list[pd.DataFrame], backend: str, max_tokens: int,
             family: str = "default", speed: str = "normal", grading_timeout: float = 5.0,
             answer_fallback: str = "none", **engine_kwargs) -> list[tuple[pd.DataFrame, dict]]:
    """Graded greedy samples and metrics for each problem table, from one engine."""
    spec = SamplingSpec(n=1, temperature=0.0, top_p=1.0, max_tokens=max_tokens, seed=0)
    engine, startup_s = load_engine(backend, model, seed=0, **engine_kwargs)
    out = []
    with Grader(timeout=grading_timeout, answer_fallback=answer_fallback) as grader:
        for problems in problem_sets:
            require_columns(problems, PROBLEMS, "problems table")
            prompts = render_prompts(problems, model, family, speed)
            gens, gen_s = timed_generate(engine, prompts, spec)
            graded = grader.grade_frame(samples_frame(problems, prompts, gens, 0))
            metrics = run_metrics(graded, gen_s)
            metrics.update(startup_s=round(startup_s, 3), wall_s=round(startup_s + gen_s, 3),
                           backend=backend)
            out.append((graded, metrics))
    return out


def cli_evaluate(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner evaluate", description=__doc__.split("\n\n")[0])
    add_engine_args(ap, "evaluation")
    ap.add_argument("--run", required=True, help="run id: baseline, fast_prompt, sft, dpo, lh_lambda_2, ...")
    ap.add_argument("--model-name", required=True)
    ap.add_argument("--problems", required=True, nargs="+", type=Path)
    ap.add_argument("--samples", required=True, nargs="+", type=Path)
    ap.add_argument("--metrics", required=True, nargs="+", type=Path)
    ap.add_argument("--max-tokens", type=int, default=schema_default("evaluation.max_tokens"))
    ap.add_argument("--timeout", type=float, default=schema_default("grading.timeout"),
                    help="seconds per math-verify comparison")
    ap.add_argument("--answer-fallback", choices=ANSWER_FALLBACKS, default=schema_default("grading.answer_fallback"))
    args = ap.parse_args(argv)
    if not len(args.problems) == len(args.samples) == len(args.metrics):
        ap.error("--problems, --samples and --metrics need the same number of paths")
    sets = [read_table(p) for p in args.problems]
    results = evaluate(args.model, sets, args.backend, args.max_tokens, args.prompt_family, args.speed,
                       args.timeout, args.answer_fallback, dtype=args.dtype,
                       max_model_len=args.max_model_len, gpus=args.gpus)
    for path, problems, samples_out, metrics_out, (graded, metrics) in zip(
            args.problems, sets, args.samples, args.metrics, results):
        dataset = str(problems["dataset"].iloc[0]) if len(problems) else path.stem
        metrics = {"model": args.model_name, "method": args.run, "dataset": dataset, **metrics}
        write_parquet(graded, samples_out)
        write_text(json.dumps(metrics, indent=2) + "\n", metrics_out)
        print(json.dumps(metrics))
    return 0
