"""The evaluation metrics of a workflow run as one table: one row per evaluated run and dataset.

    o1pruner collect-metrics --inputs results/toy/eval/*/*.json --output results/metrics.csv

A run id names what was evaluated (:func:`o1pruner.methods.registry.parse_run`): ``baseline``,
``fast_prompt``, ``sft``, ``dpo``, ``lh_lambda_<λ>`` or ``lh_lambda_<λ>_<split>`` (Figure 4's
difficulty subsets).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from o1pruner.methods import registry


def collect_metrics(paths: list[str | Path]) -> pd.DataFrame:
    """One row per metrics JSON: model, run, method, lambda, split, dataset, acc, length, ..."""
    rows = []
    for p in paths:
        try:
            m = json.loads(Path(p).read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise ValueError(f"{p}: unreadable metrics file ({e})") from None
        run = m.get("method")
        method, lam, split = registry.parse_run(run)
        rows.append({"model": m["model"], "run": run, "method": method, "lambda": lam,
                     "split": split, "dataset": m["dataset"], "acc": m["acc"],
                     "length": m["length"], "n": m["n"], "wall_s": m["wall_s"],
                     "generate_s": m["generate_s"], "tokens_per_s": m["tokens_per_s"],
                     "backend": m.get("backend"),
                     # the per-problem graded rows the evaluate job writes next to the JSON
                     "samples": str(Path(p).with_suffix(".parquet"))})
    return pd.DataFrame(rows)


def check_samples(metrics: pd.DataFrame) -> None:
    """Every run's per-problem rows exist (the bootstrap and the difficulty table read them)."""
    missing = [p for p in metrics["samples"] if not Path(p).exists()]
    if missing:
        raise ValueError(f"no per-problem evaluation rows {missing[0]} next to its metrics JSON "
                         f"({len(missing)} missing); the evaluate job writes both")


def aes_input(metrics: pd.DataFrame, with_lambda: bool) -> pd.DataFrame:
    """The columns ``o1pruner aes`` takes; λ kept as a column for the ablation."""
    cols = ["model", "method", "dataset", "acc", "length"] + (["lambda"] if with_lambda else [])
    return metrics[cols].copy()
