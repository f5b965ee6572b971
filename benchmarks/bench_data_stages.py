"""Wall time and peak memory of the data stages on a large synthetic graded-samples table.

    .venv/bin/python benchmarks/bench_data_stages.py                  # 200,000 rows
    .venv/bin/python benchmarks/bench_data_stages.py --rows 1000000   # the issue's size

Stages (each in its own subprocess, so each peak RSS is that stage's alone):

* ``parquet_write``: ``DataFrame.to_parquet`` (pyarrow) of the graded table (built in the
  same process; building is not timed),
* ``parquet_read``: ``pd.read_parquet``,
* ``reference_stats``: ``o1pruner.reference_stats.reference_stats`` (L̄_ref, Ā_ref, ... per problem),
* ``build_sft`` / ``build_dpo`` / ``build_lh``: ``o1pruner.methods.datasets`` (λ = 2, 2 samples per problem),
* ``build_sft_vectorised``: the obvious alternative to ``build_sft``'s per-problem loop, for
  comparison (not pipeline code): the same input checks, then one sort and
  ``groupby().head(2)``; its output is checked equal to ``build_sft``'s,
* ``aes``: per-(model, method, dataset) accuracy/length of the table (a groupby) and
  ``o1pruner.evaluation.aes.compute_aes``.

Every stage after the write reads the Parquet file first (not timed); the table reports the
stage's wall time, the process's peak RSS (``ru_maxrss``) and the RSS once the table was in
memory, so ``peak - loaded`` is what the stage itself added. The table has the graded schema
(problem_id, sample_idx 0..15, prompt, problem, response, num_tokens, finish_reason, seed,
gold, extracted, correct) with prompts/responses of a few hundred characters cut from real
solution text (``../shared/data`` when present, else generated words). Stages run in order,
one round after another; medians over ``--rounds``. Writes benchmarks/out/bench_data_stages.json.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402

STAGES = ["parquet_write", "parquet_read", "reference_stats", "build_sft", "build_sft_vectorised", "build_dpo",
          "build_lh", "aes"]
K = 16
METHODS = ["Baseline", "Fast-solving prompt", "SFT", "DPO", "O1-Pruner"]
DATASETS = ["MATH", "GSM8K", "GaoKao"]


def text_pool(seed: int) -> str:
    """A long string of real solution text to cut prompts and responses from."""
    import numpy as np

    parts = []
    for f in sorted(C.SHARED_DATA.glob("*.json")) if C.SHARED_DATA.is_dir() else []:
        for rec in json.loads(f.read_text()):
            parts.append(str(rec.get("ground_truth_solution") or rec.get("problem") or ""))
    text = "\n".join(parts)
    if len(text) < 100_000:  # no shared data: words with a realistic mix
        rng = np.random.default_rng(seed)
        words = ["so", "the", "answer", "is", "let", "me", "check", "wait", "=", "+", "x", "\\frac{1}{2}",
                 "we", "have", "therefore", "step", "compute", "verify", "again", "total"]
        text = " ".join(rng.choice(words, size=400_000).tolist())
    return text


def synthetic_graded(rows: int, seed: int):
    """A graded-samples table of ``rows`` rows: rows/16 problems x 16 samples."""
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(seed)
    pool = text_pool(seed)
    n_problems = -(-rows // K)
    pid_of = np.arange(rows) // K
    sample_idx = np.arange(rows) % K

    def cut(n, lo, hi):
        starts = rng.integers(0, len(pool) - hi, size=n)
        lens = rng.integers(lo, hi, size=n)
        return [pool[s: s + ln] for s, ln in zip(starts.tolist(), lens.tolist())]

    problems = cut(n_problems, 100, 400)
    prompts = [f"<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n"
               f"Solve the problem: {p}<|im_end|>\n<|im_start|>assistant\n" for p in problems]
    golds = [str(g) for g in rng.integers(0, 1000, size=n_problems)]
    acc = rng.beta(2, 1.5, size=n_problems)                     # per-problem difficulty
    correct = rng.random(rows) < acc[pid_of]
    mean_len = rng.integers(150, 2500, size=n_problems)
    num_tokens = np.maximum(1, rng.normal(mean_len[pid_of], 0.35 * mean_len[pid_of])).astype(np.int64)
    responses = [r + f"\nSo the answer is \\boxed{{{golds[p] if c else int(golds[p]) + 1}}}."
                 for r, p, c in zip(cut(rows, 200, 800), pid_of.tolist(), correct.tolist())]
    pids = [f"math_train-{i:07d}" for i in range(n_problems)]
    df = pd.DataFrame({
        "problem_id": [pids[p] for p in pid_of.tolist()],
        "sample_idx": sample_idx.astype(np.int64),
        "prompt": [prompts[p] for p in pid_of.tolist()],
        "problem": [problems[p] for p in pid_of.tolist()],
        "response": responses,
        "num_tokens": num_tokens,
        "finish_reason": np.where(num_tokens > 4000, "length", "stop"),
        "seed": np.zeros(rows, dtype=np.int64),
        "gold": [golds[p] for p in pid_of.tolist()],
    })
    df["extracted"] = [g if c else str(int(g) + 1) for g, c in zip(df["gold"], correct.tolist())]
    df["correct"] = correct
    return df


def metrics_table(df):
    """Evaluation metrics per (model, method, dataset) from the graded rows (the AES input)."""
    import numpy as np

    codes = df["problem_id"].str[-7:].astype(np.int64)
    ev = df.assign(model=np.where(codes % 2 == 0, "toy", "smollm2"),
                   method=np.asarray(METHODS)[(codes // 2 % len(METHODS)).to_numpy()],
                   dataset=np.asarray(DATASETS)[(codes // 10 % len(DATASETS)).to_numpy()])
    m = ev.groupby(["model", "method", "dataset"], sort=True).agg(
        acc=("correct", "mean"), length=("num_tokens", "mean")).reset_index()
    m["acc"] = 100 * m["acc"]
    return m


def sft_vectorised(graded, n_shortest: int = 2):
    """build_sft without a Python loop over problems: same checks, one sort, groupby().head(n)."""
    from o1pruner.methods.datasets import SFT_COLUMNS, _canonical

    df = _canonical(graded)
    c = df[df["correct"]].sort_values(["problem_id", "num_tokens", "sample_idx"], kind="mergesort")
    return c.groupby("problem_id", sort=False).head(n_shortest)[SFT_COLUMNS].reset_index(drop=True)


def run_stage(stage: str, table: Path, rows: int, seed: int) -> dict:
    """One stage in this (child) process: returns wall time and memory."""
    import pandas as pd

    from o1pruner.evaluation.aes import compute_aes
    from o1pruner.methods.datasets import build_dpo, build_lh, build_sft
    from o1pruner.reference_stats import reference_stats

    rss_imports = C.peak_rss_mb()
    out = {}
    if stage == "parquet_write":
        df = synthetic_graded(rows, seed)
        rss_loaded = _rss_now()
        t = time.perf_counter()
        df.to_parquet(table, index=False)
        wall = time.perf_counter() - t
        out["parquet_mb"] = table.stat().st_size / 2**20
    else:
        t = time.perf_counter()
        df = pd.read_parquet(table)
        read_s = time.perf_counter() - t
        rss_loaded = _rss_now()
        t = time.perf_counter()
        if stage == "parquet_read":
            result = df
            wall = read_s
        elif stage == "reference_stats":
            result = reference_stats(df)
        elif stage == "build_sft":
            result = build_sft(df, n_shortest=2)
        elif stage == "build_sft_vectorised":
            result = sft_vectorised(df, n_shortest=2)
        elif stage == "build_dpo":
            result = build_dpo(df, n_chosen=2)
        elif stage == "build_lh":
            result = build_lh(df, 2.0, samples_per_problem=2)
        elif stage == "aes":
            result = compute_aes(metrics_table(df))
        else:
            raise ValueError(stage)
        if stage != "parquet_read":
            wall = time.perf_counter() - t
        out["output_rows"] = len(result)
        if stage.startswith("build_sft"):  # kept to check the two SFT builds agree
            result.to_parquet(table.with_name(f"{stage}.parquet"), index=False)
    out.update(stage=stage, wall_s=wall, peak_rss_mb=C.peak_rss_mb(), rss_loaded_mb=rss_loaded,
               rss_imports_mb=rss_imports)
    return out


def _rss_now() -> float:
    import psutil

    return psutil.Process().memory_info().rss / 2**20


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rows", type=int, default=200_000, help="graded rows (the issue: 1,000,000)")
    ap.add_argument("--rounds", type=int, default=3, help="rounds over all stages (medians)")
    ap.add_argument("--stages", default=",".join(STAGES), help=f"comma list of {STAGES}")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--_stage", help=argparse.SUPPRESS)
    ap.add_argument("--_table", type=Path, help=argparse.SUPPRESS)
    a = ap.parse_args(argv)
    if a._stage:
        print(json.dumps(run_stage(a._stage, a._table, a.rows, a.seed)))
        return 0

    started, info = time.time(), C.machine()
    stages = [s.strip() for s in a.stages.split(",") if s.strip()]
    unknown = [s for s in stages if s not in STAGES]
    if unknown:
        ap.error(f"unknown stage(s) {unknown}; known: {STAGES}")
    if stages and stages[0] != "parquet_write":
        stages = ["parquet_write"] + [s for s in stages if s != "parquet_write"]  # the others read it
    runs: dict[str, list[dict]] = {s: [] for s in stages}
    C.OUT_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=C.OUT_DIR) as tmp:
        table = Path(tmp) / "graded.parquet"
        for r in range(a.rounds):
            for s in stages:
                res = C.run_child([__file__, "--_stage", s, "--_table", str(table), "--rows", str(a.rows),
                                   "--seed", str(a.seed)])
                runs[s].append(res)
                print(f"round {r + 1} {s:20s} {res['wall_s']:8.2f} s  peak {res['peak_rss_mb']:8,.0f} MiB "
                      f"(table loaded {res['rss_loaded_mb']:,.0f})", flush=True)

        sft_equal = None
        if {"build_sft", "build_sft_vectorised"} <= set(stages):
            import pandas as pd

            sft_equal = bool(pd.read_parquet(table.with_name("build_sft.parquet")).equals(
                pd.read_parquet(table.with_name("build_sft_vectorised.parquet"))))

    rows, summary = [], {}
    for s in stages:
        rs = runs[s]
        wall, peak = C.median([x["wall_s"] for x in rs]), C.median([x["peak_rss_mb"] for x in rs])
        loaded = C.median([x["rss_loaded_mb"] for x in rs])
        summary[s] = {"wall_s": wall, "peak_rss_mb": peak, "rss_loaded_mb": loaded,
                      "added_mb": max(0.0, peak - loaded), "output_rows": rs[0].get("output_rows"),
                      "us_per_input_row": 1e6 * wall / a.rows}
        if "parquet_mb" in rs[0]:
            summary[s]["parquet_mb"] = rs[0]["parquet_mb"]
        rows.append([s, wall, 1e6 * wall / a.rows, peak, loaded, max(0.0, peak - loaded),
                     rs[0].get("output_rows", f"{rs[0].get('parquet_mb', 0):.0f} MiB file")])
    print()
    C.print_table(rows, ["stage", "wall s", "µs / row", "peak RSS MiB", "table loaded MiB",
                         "added MiB", "output rows"])
    if sft_equal is not None:
        sft, vec = summary["build_sft"]["wall_s"], summary["build_sft_vectorised"]["wall_s"]
        print(f"\nbuild_sft vs the vectorised alternative: {C.ratio(sft, vec):.0f}x slower; outputs "
              f"{'identical' if sft_equal else 'DIFFER'}")
    print(f"\n{a.rows:,} graded rows ({-(-a.rows // K):,} problems x {K}); median of {a.rounds} round(s); "
          "each stage in its own process (its peak includes imports and the table).")
    C.write_result("bench_data_stages" if a.rows == 200_000 else f"bench_data_stages_{a.rows}", {"rows": a.rows, "rounds": a.rounds, "summary": summary,
                                                "sft_vectorised_output_identical": sft_equal, "runs": runs},
                   started, info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
