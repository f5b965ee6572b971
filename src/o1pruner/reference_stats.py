"""Reference statistics: per problem x, the paper's L̄_ref(x) (mean length in tokens) and Ā_ref(x)
(mean accuracy) of the reference model's K pre-samples, plus the spread of lengths and the shortest
correct length. One table, read by the LH reward (:mod:`o1pruner.methods.datasets`), Table 1's
problems and the difficulty bands.

    o1pruner reference-stats --graded graded.parquet --output reference_stats.parquet
"""

from __future__ import annotations


import pandas as pd

from o1pruner.schemas import REFERENCE_STATS, require_columns


def reference_stats(graded: pd.DataFrame) -> pd.DataFrame:
    """One row per problem: n_samples, mean/min/max/std length, mean_acc, shortest correct."""
    require_columns(graded, ["problem_id", "num_tokens", "correct"], "graded samples")
    g = graded.assign(correct=graded["correct"].astype(bool),
                      num_tokens=graded["num_tokens"].astype(float))
    grouped = g.groupby("problem_id", sort=True)
    out = grouped["num_tokens"].agg(n_samples="size", mean_length="mean", min_length="min",
                                    max_length="max", std_length=lambda s: s.std(ddof=0))
    out["mean_acc"] = grouped["correct"].mean()
    shortest = g[g["correct"]].groupby("problem_id")["num_tokens"].min()
    out["shortest_correct_length"] = shortest.reindex(out.index)  # NaN: no correct sample
    return out.reset_index()[REFERENCE_STATS]
