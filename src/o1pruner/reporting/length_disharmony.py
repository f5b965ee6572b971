"""The paper's Section 3 "length disharmony" analysis: Table 1 and Figure 1.

    o1pruner length-disharmony --graded results/toy/length_disharmony/graded.parquet --intervals 4 \\
        --per-problem per_problem.parquet --table results/tables/table1 --figure results/figures/figure1 --model toy

Length intervals: each problem's samples are sorted by length and cut into ``intervals``
equal-count groups (shortest first); the accuracy in each group is reported per problem
(Figure 1) and averaged over problems (Table 1).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from o1pruner.reporting.plotting import pyplot, save
from o1pruner.schemas import require_columns


def length_intervals(graded: pd.DataFrame, intervals: int = 4) -> pd.DataFrame:
    """Per problem and interval: accuracy and mean length of that length-quantile group.

    Ties in length are broken by sample_idx so the split is deterministic; with n samples
    per problem, interval i holds ranks [i*n/I, (i+1)*n/I) (``np.array_split`` sizes).
    """
    require_columns(graded, ["problem_id", "sample_idx", "num_tokens", "correct"], "graded samples")
    rows = []
    for pid, g in graded.groupby("problem_id", sort=True):
        if len(g) < intervals:
            raise ValueError(f"problem {pid}: {len(g)} samples cannot fill {intervals} intervals")
        g = g.sort_values(["num_tokens", "sample_idx"], kind="stable")
        for i, part in enumerate(np.array_split(np.arange(len(g)), intervals)):
            sub = g.iloc[part]
            rows.append({"problem_id": pid, "interval": i + 1, "n": len(sub),
                         "accuracy": float(sub["correct"].astype(bool).mean()),
                         "mean_length": float(sub["num_tokens"].mean()),
                         "min_length": int(sub["num_tokens"].min()),
                         "max_length": int(sub["num_tokens"].max())})
    return pd.DataFrame(rows)


def table1(per_problem: pd.DataFrame) -> pd.DataFrame:
    """Table 1: accuracy (percent) and mean length per interval, averaged over problems."""
    t = per_problem.groupby("interval").agg(accuracy=("accuracy", "mean"),
                                            mean_length=("mean_length", "mean"),
                                            problems=("problem_id", "nunique"))
    t["accuracy"] = (100 * t["accuracy"]).round(2)
    t["mean_length"] = t["mean_length"].round(1)
    return t.reset_index()


def figure1(per_problem: pd.DataFrame, stem: Path, title: str = "") -> None:
    """Figure 1: per-problem accuracy in each length interval (PNG + PDF)."""
    plt = pyplot()
    order = (per_problem.groupby("problem_id")["accuracy"].mean().sort_values().index.tolist())
    pos = {pid: i for i, pid in enumerate(order)}
    n_int = int(per_problem["interval"].max())
    width = 0.8 / n_int
    fig, ax = plt.subplots(figsize=(max(6, 0.35 * len(order) + 2), 3.6))
    cmap = plt.get_cmap("viridis")
    for i in range(1, n_int + 1):
        sub = per_problem[per_problem["interval"] == i]
        x = np.array([pos[p] for p in sub["problem_id"]]) + (i - 1 - (n_int - 1) / 2) * width
        ax.bar(x, 100 * sub["accuracy"], width=width, color=cmap((i - 1) / max(1, n_int - 1)),
               label=f"interval {i}" + (" (shortest)" if i == 1 else " (longest)" if i == n_int else ""))
    ax.set_xticks(range(len(order)))
    ax.set_xticklabels([str(i + 1) for i in range(len(order))], fontsize=7)
    ax.set_xlabel("problem (sorted by mean accuracy)")
    ax.set_ylabel("accuracy (%)")
    ax.set_ylim(0, 105)
    ax.set_title(title or "Accuracy by length interval per problem")
    ax.legend(fontsize=7, ncol=n_int, loc="upper left")
    save(fig, stem)
