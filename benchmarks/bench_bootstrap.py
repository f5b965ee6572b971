"""Paired bootstrap of Tables 2-3: the vectorised ``bootstrap_cells`` vs a plain replicate loop.

    .venv/bin/python benchmarks/bench_bootstrap.py                    # the paper's size, ~1 min
    .venv/bin/python benchmarks/bench_bootstrap.py --problems 500 --boot 200

What is compared, on the same synthetic evaluation rows (the paper config's shape: 2 models ×
3 evaluation sets × 5 methods × ``--problems`` problems, greedy: one row per problem) and the
same seeds, so both give the same intervals (checked):

* A, pipeline: ``o1pruner.evaluation.bootstrap.bootstrap_cells`` – one (B, P) matrix of problem counts per
  (model, set), the replicate sums of all runs in one matrix product, AES and quantiles as
  array operations.
* B, plain loop: ``naive_bootstrap_cells`` – per replicate and run, index the per-problem arrays
  with the drawn problems and sum, then the AES replicate by replicate.

Rounds alternate A, B, A, B, ...; the table gives medians and the ratio.
Writes benchmarks/out/bench_bootstrap.json (or bench_bootstrap_<P>x<B>.json for other sizes).
"""

from __future__ import annotations

import argparse
import time

import _common  # noqa: F401  (puts the checkout's src/ on sys.path)
import numpy as np
import pandas as pd
from _common import machine, median, print_table, ratio, write_result

from o1pruner.evaluation.bootstrap import bootstrap_cells, naive_bootstrap_cells

METHODS = ["baseline", "fast_prompt", "sft", "dpo", "lh"]


def synthetic(models: int, sets: int, problems: int, seed: int = 0) -> dict:
    rng = np.random.default_rng(seed)
    out = {}
    for m in range(models):
        for d in range(sets):
            ids = [f"s{d}-{i}" for i in range(problems)]
            base_c = rng.random(problems) < 0.7
            base_t = rng.integers(200, 4000, problems)
            for k, method in enumerate(METHODS):
                flip = rng.random(problems) < 0.1
                c = np.where(flip, ~base_c, base_c) if k else base_c
                t = (base_t * (1 - 0.1 * k) + rng.integers(-50, 50, problems)).clip(1) if k else base_t
                out[(f"model{m}", method, 2.0 if method == "lh" else None, f"set{d}")] = pd.DataFrame(
                    {"problem_id": ids, "correct": c, "num_tokens": t})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=int, default=2)
    ap.add_argument("--sets", type=int, default=3)
    ap.add_argument("--problems", type=int, default=2000)
    ap.add_argument("--boot", type=int, default=1000)
    ap.add_argument("--rounds", type=int, default=3, help="A/B rounds for the vectorised variant")
    ap.add_argument("--naive-rounds", type=int, default=1)
    args = ap.parse_args()
    started, info = time.time(), machine()
    samples = synthetic(args.models, args.sets, args.problems)
    times = {"vectorised": [], "loop": []}
    results = {}
    for r in range(max(args.rounds, args.naive_rounds)):
        if r < args.rounds:
            t = time.perf_counter()
            results["vectorised"] = bootstrap_cells(samples, args.boot, seed=0)
            times["vectorised"].append(time.perf_counter() - t)
        if r < args.naive_rounds:
            t = time.perf_counter()
            results["loop"] = naive_bootstrap_cells(samples, args.boot, seed=0)
            times["loop"].append(time.perf_counter() - t)
    a, b = results["vectorised"], results["loop"]
    cols = [c for c in a.columns if c.endswith(("_lo", "_hi"))]
    max_diff = float(np.nanmax(np.abs(a[cols].to_numpy() - b[cols].to_numpy())))
    ta, tb = median(times["vectorised"]), median(times["loop"])
    print(f"paired bootstrap: {args.models} models x {args.sets} sets x {len(METHODS)} methods x "
          f"{args.problems} problems, B = {args.boot}; {len(a)} cells (incl. AVERAGE)\n")
    print_table([["A vectorised (bootstrap_cells)", ta, len(times["vectorised"]), 1.0],
                 ["B plain loop (naive_bootstrap_cells)", tb, len(times["loop"]), ratio(tb, ta)]],
                ["variant", "median s", "rounds", "x slower than A"])
    print(f"\nsame intervals: max |A - B| over all bounds = {max_diff:.2e}")
    name = "bench_bootstrap" if (args.problems, args.boot) == (2000, 1000) else \
        f"bench_bootstrap_{args.problems}x{args.boot}"
    write_result(name, {"args": vars(args), "times_s": times, "median_s": {"vectorised": ta, "loop": tb},
                        "speedup": ratio(tb, ta), "max_abs_diff": max_diff, "cells": len(a)},
                 started, info)


if __name__ == "__main__":
    main()
