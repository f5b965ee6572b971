"""The command line of o1pruner.evaluation: each ``cli_<name>(argv)`` parses its own arguments and calls the library (o1pruner.cli dispatches to them)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from o1pruner.config import schema_default
from o1pruner.evaluation import aes
from o1pruner.evaluation import evaluate as evaluate_module
from o1pruner.evaluation.aes import AVERAGE, DEFAULT_WEIGHTS, VARIANTS, compute_aes
from o1pruner.evaluation.bootstrap import (
    attach_intervals,
    bootstrap_cells,
    eval_set_size,
    samples_from_index,
)
from o1pruner.evaluation.evaluate import evaluate
from o1pruner.evaluation.metrics import aes_input, check_samples, collect_metrics
from o1pruner.generation.engines import SamplingSpec
from o1pruner.generation.sampling import add_engine_args
from o1pruner.grading import ANSWER_FALLBACKS, BOXES, GRADERS, SCOPES
from o1pruner.hooks import add_annotate_arg, import_object
from o1pruner.io import read_table, write_parquet, write_table, write_text
from o1pruner.methods import registry
from o1pruner.prompts import family as prompt_family


def cli_aes(argv: list[str]) -> int:
    """o1pruner aes --input metrics.csv --output aes.csv [--variant paper|table2] [--alpha 1 --beta 3 --gamma 5]"""
    p = argparse.ArgumentParser(prog="o1pruner aes", description=aes.__doc__.split("\n")[0])
    p.add_argument("--input", required=True, help="metrics table (.csv/.parquet): model, method, dataset, acc, length")
    p.add_argument("--output", required=True, help="AES table (.csv/.parquet)")
    p.add_argument("--variant", choices=VARIANTS, default="paper",
                   help="paper: formula as written (default); table2: reading that reproduces Table 2")
    for name, value in DEFAULT_WEIGHTS.items():
        p.add_argument(f"--{name}", type=float, default=value, help=f"AES weight {name} (default {value:g})")
    p.add_argument("--samples-index", type=Path, default=None,
                   help="metrics CSV of `o1pruner collect-metrics` (model, method, lambda, dataset, "
                        "samples): adds paired-bootstrap intervals from the per-problem rows")
    p.add_argument("--bootstrap-samples", type=int, default=1000, help="bootstrap replicates B")
    p.add_argument("--bootstrap-seed", type=int, default=0)
    p.add_argument("--confidence", type=float, default=0.95)
    args = p.parse_args(argv)
    metrics = read_table(args.input)
    result = compute_aes(metrics, args.alpha, args.beta, args.gamma, args.variant)
    if args.samples_index is not None:
        index = read_table(args.samples_index)
        if "lambda" not in metrics.columns:  # Table 2: one run per method, λ is not a key
            index = index.drop(columns="lambda", errors="ignore")
        ci = bootstrap_cells(samples_from_index(index),
                             args.bootstrap_samples, args.bootstrap_seed, args.confidence,
                             args.alpha, args.beta, args.gamma, args.variant)
        result = attach_intervals(result, ci)
        print(f"paired bootstrap over problems: B={args.bootstrap_samples}, "
              f"seed={args.bootstrap_seed}, {args.confidence:.0%} percentile intervals")
    write_table(result, args.output)
    avg = result[result["dataset"] == AVERAGE]
    for row in avg.itertuples(index=False):
        line = f"{row.model}  {row.method}: AVERAGE acc {row.acc:.1f}  length {row.length:.0f}  AES {row.aes:.2f}"
        if "aes_lo" in avg.columns:
            line += (f"  [95% AES {row.aes_lo:.2f}, {row.aes_hi:.2f}; acc − baseline {row.acc_diff:+.1f} "
                     f"[{row.acc_diff_lo:+.1f}, {row.acc_diff_hi:+.1f}]]")
        print(line)
    print(f"wrote {len(result)} rows to {args.output}")
    return 0


def cli_eval_set_size(argv: list[str]) -> int:
    """o1pruner eval-set-size --samples-index metrics.csv [--method lh] [--half-width 3]"""
    ap = argparse.ArgumentParser(prog="o1pruner eval-set-size", description=eval_set_size.__doc__.split("\n")[0])
    ap.add_argument("--samples-index", required=True, help="metrics CSV of `o1pruner collect-metrics`")
    ap.add_argument("--method", default=registry.PAPER_METHOD, help="the method whose gain is measured")
    ap.add_argument("--half-width", type=float, default=3.0, help="points of accuracy")
    args = ap.parse_args(argv)
    index = read_table(args.samples_index).drop(columns="lambda", errors="ignore")
    out = eval_set_size(samples_from_index(index), args.method, args.half_width)
    print(out.to_string(index=False, float_format=lambda x: f"{x:.4g}"))
    return 0


def cli_evaluate(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner evaluate", description=evaluate_module.__doc__.split("\n\n")[0])
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
    ap.add_argument("--box", choices=BOXES, default=schema_default("grading.box"))
    ap.add_argument("--scope", choices=SCOPES, default=schema_default("grading.scope"))
    ap.add_argument("--grader", choices=GRADERS, default=schema_default("grading.grader"))
    ap.add_argument("--rel-tol", type=float, default=schema_default("grading.rel_tol"))
    ap.add_argument("--workers", type=int, default=schema_default("grading.workers"))
    ap.add_argument("--sampled-n", type=int, default=schema_default("evaluation.samples"),
                    help="samples per problem for sampled evaluation (avg@n, pass@k); 0: greedy only")
    ap.add_argument("--sampled-temperature", type=float, default=None, help="default: the prompt family's")
    ap.add_argument("--sampled-top-p", type=float, default=None, help="default: the prompt family's")
    ap.add_argument("--sampled-top-k", type=int, default=None, help="default: the prompt family's (-1: off)")
    ap.add_argument("--sampled-seed", type=int, default=0)
    ap.add_argument("--sampled-output", nargs="+", type=Path, default=None,
                    help="graded sampled responses, one per --problems")
    add_annotate_arg(ap)
    args = ap.parse_args(argv)
    annotate = import_object(args.annotate) if args.annotate else None
    if not len(args.problems) == len(args.samples) == len(args.metrics):
        ap.error("--problems, --samples and --metrics need the same number of paths")
    sampled = None
    if args.sampled_n > 0:
        if not args.sampled_output or len(args.sampled_output) != len(args.problems):
            ap.error("--sampled-n needs one --sampled-output path per --problems")
        rec = prompt_family(args.prompt_family).sampling
        pick = lambda value, key: rec[key] if value is None else value  # noqa: E731
        sampled = SamplingSpec(n=args.sampled_n, temperature=pick(args.sampled_temperature, "temperature"),
                               top_p=pick(args.sampled_top_p, "top_p"), top_k=pick(args.sampled_top_k, "top_k"),
                               max_tokens=args.max_tokens, seed=args.sampled_seed)
    sets = [read_table(p) for p in args.problems]
    results = evaluate(args.model, sets, args.backend, args.max_tokens, args.prompt_family, args.speed,
                       args.timeout, args.answer_fallback, sampled,
                       dict(box=args.box, scope=args.scope, grader=args.grader, rel_tol=args.rel_tol,
                            workers=args.workers), dtype=args.dtype,
                       max_model_len=args.max_model_len, gpus=args.gpus)
    sampled_out = args.sampled_output or [None] * len(sets)
    for path, problems, samples_out, metrics_out, sampled_path, (graded, metrics, graded_sampled) in zip(
            args.problems, sets, args.samples, args.metrics, sampled_out, results):
        dataset = str(problems["dataset"].iloc[0]) if len(problems) else path.stem
        metrics = {"model": args.model_name, "method": args.run, "dataset": dataset, **metrics}
        if annotate is not None:
            graded = annotate(graded)
            graded_sampled = None if graded_sampled is None else annotate(graded_sampled)
        write_parquet(graded, samples_out)
        if graded_sampled is not None:
            write_parquet(graded_sampled, sampled_path)
        write_text(json.dumps(metrics, indent=2) + "\n", metrics_out)
        print(json.dumps(metrics))
    return 0


def cli_collect_metrics(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner collect-metrics")
    ap.add_argument("--inputs", nargs="+", required=True, type=Path)
    ap.add_argument("--output", required=True, type=Path)
    ap.add_argument("--aes-input", type=Path, help="also write the `o1pruner aes` input CSV")
    ap.add_argument("--with-lambda", action="store_true")
    ap.add_argument("--check-samples", action="store_true",
                    help="fail unless each JSON's per-problem Parquet (the `samples` column) exists")
    args = ap.parse_args(argv)
    df = collect_metrics(args.inputs)
    if args.check_samples:
        check_samples(df)
    write_text(df.to_csv(index=False), args.output)
    if args.aes_input:
        write_text(aes_input(df, args.with_lambda).to_csv(index=False), args.aes_input)
    print(f"{len(df)} runs -> {args.output}")
    return 0
