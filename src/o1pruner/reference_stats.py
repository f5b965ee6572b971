"""Reference statistics: per problem x, the paper's L̄_ref(x) (mean length in tokens) and Ā_ref(x)
(mean accuracy) of the reference model's K pre-samples, plus the spread of lengths and the shortest
correct length. One table, read by the LH reward (:mod:`o1pruner.methods.datasets`) and the
difficulty bands of Figure 4 (:func:`difficulty_subset`: difficulty = 1 − Ā_ref(x)).

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


def difficulty_subset(graded: pd.DataFrame, stats: pd.DataFrame, lo: float, hi: float) -> pd.DataFrame:
    """Samples of the problems whose difficulty percentile lies in [lo, hi) (Figure 4).

    Difficulty = 1 − Ā_ref(x). Problems are ordered from easiest to hardest (ties broken by
    problem_id, so the cut is deterministic); the problem at position i of n has percentile
    100·i/n. Overlapping bands (the paper: 0–40, 30–70, 60–100) share problems.
    """
    if not 0 <= lo < hi <= 100:
        raise ValueError(f"difficulty percentiles must satisfy 0 <= lo < hi <= 100, got {lo}, {hi}")
    require_columns(stats, ["problem_id", "mean_acc"], "reference stats")
    order = stats.assign(difficulty=1 - stats["mean_acc"]).sort_values(
        ["difficulty", "problem_id"], kind="stable")["problem_id"].tolist()
    n = len(order)
    keep = {pid for i, pid in enumerate(order) if lo <= 100 * i / n < hi or (hi == 100 and i == n - 1)}
    return graded[graded["problem_id"].isin(keep)]
