"""Greedy evaluation of one run (a trained model, or the reference model) on the evaluation
datasets, one engine start.

    o1pruner evaluate --model results/toy/runs/lh_lambda_2/model --run lh_lambda_2 \\
        --model-name toy --backend transformers --max-tokens 384 \\
        --problems results/data/toy_medium.parquet results/data/toy_easy.parquet \\
        --samples a.parquet b.parquet --metrics a.json b.json

The Fast-solving prompt baseline is the reference model with ``--speed fast``.

Sampled evaluation (``--sampled-n N``, the standard for R1-style models): after the greedy pass,
N samples per problem at the prompt family's recommended temperature / top_p / top_k (or the
``--sampled-*`` overrides); the metrics JSON gains a ``sampled`` block with avg@N accuracy (the
mean over all samples), the mean length and pass@k (the unbiased estimator of Chen et al. 2021,
k = 1, 2, 4, ... up to N), and ``--sampled-output`` holds the graded samples. The greedy numbers
stay the top-level ``acc``/``length`` (the paper's protocol, what Table 2 shows).

The engine starts once; each dataset is then generated and timed on its own, so the
per-dataset ``generate_s`` and tokens/s (Figure 3) are measured the same way for every
method. Responses are graded by the same grader as the pre-samples. Per dataset it writes
the graded samples and a metrics JSON: accuracy (percent), mean length in tokens, truncation
count, generation time and tokens/s.
"""

from __future__ import annotations

import math

import pandas as pd

from o1pruner.generation.engines import SamplingSpec, load_engine, timed_generate
from o1pruner.generation.sampling import render_prompts, samples_frame
from o1pruner.grading import Grader
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


def pass_at_k(n: int, c: int, k: int) -> float:
    """P(at least one of k samples drawn without replacement from n, c of them correct, is correct)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def sampled_metrics(graded: pd.DataFrame, n: int, spec: SamplingSpec) -> dict:
    """avg@n accuracy, mean length and pass@k of ``n`` samples per problem."""
    per_problem = graded.groupby("problem_id", sort=True)["correct"].agg(["sum", "count"])
    ks = sorted({k for k in (2 ** i for i in range(n.bit_length())) if k <= n} | {n})
    return {
        "n": n, "temperature": spec.temperature, "top_p": spec.top_p, "top_k": spec.top_k,
        "avg_acc": round(100 * float(graded["correct"].mean()), 4) if len(graded) else 0.0,
        "length": round(float(graded["num_tokens"].mean()), 4) if len(graded) else 0.0,
        "truncated": int((graded["finish_reason"] == "length").sum()),
        "pass_at": {str(k): round(100 * float(per_problem.apply(
            lambda r: pass_at_k(int(r["count"]), int(r["sum"]), k), axis=1).mean()), 4)
            for k in ks} if len(per_problem) else {},
    }


def evaluate(model: str, problem_sets: list[pd.DataFrame], backend: str, max_tokens: int,
             family: str = "default", speed: str = "normal", grading_timeout: float = 5.0,
             answer_fallback: str = "none", sampled: SamplingSpec | None = None,
             grading: dict | None = None,
             **engine_kwargs) -> list[tuple[pd.DataFrame, dict, pd.DataFrame | None]]:
    """Graded greedy samples, metrics and (with ``sampled``) graded sampled responses for each
    problem table, from one engine. ``grading``: further :class:`Grader` options (box, scope,
    grader, rel_tol, workers), the same as the pre-samples'."""
    spec = SamplingSpec(n=1, temperature=0.0, top_p=1.0, max_tokens=max_tokens, seed=0)
    # greedy decoding ignores the seed; the sampled pass gets it as the engine seed (all the CPU
    # vLLM engine takes) and per request on CUDA (generation.vllm_sampling_params)
    engine, startup_s = load_engine(backend, model, seed=sampled.seed if sampled else 0, **engine_kwargs)
    out = []
    with Grader(timeout=grading_timeout, answer_fallback=answer_fallback, **(grading or {})) as grader:
        for problems in problem_sets:
            require_columns(problems, PROBLEMS, "problems table")
            prompts = render_prompts(problems, model, family, speed)
            gens, gen_s = timed_generate(engine, prompts, spec)
            graded = grader.grade_frame(samples_frame(problems, prompts, gens, 0))
            metrics = run_metrics(graded, gen_s)
            metrics.update(startup_s=round(startup_s, 3), wall_s=round(startup_s + gen_s, 3),
                           backend=backend, protocol="greedy")
            graded_sampled = None
            if sampled is not None:
                gens, _ = timed_generate(engine, prompts, sampled)
                graded_sampled = grader.grade_frame(samples_frame(problems, prompts, gens, sampled.seed))
                metrics["sampled"] = sampled_metrics(graded_sampled, sampled.n, sampled)
            out.append((graded, metrics, graded_sampled))
    return out
