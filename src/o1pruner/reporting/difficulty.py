"""Length and accuracy against problem difficulty: where each method saves its tokens.

    o1pruner length-by-difficulty --samples-index results/metrics/table2_metrics.csv \\
        --presamples toy=results/toy/presample/graded.parquet \\
        --table results/tables/length_by_difficulty --figure results/figures/length_by_difficulty \\
        --presample-table results/tables/presample_by_difficulty

Difficulty of an evaluation problem: its ``level`` where the data has one (MATH level 1-5, the
toy's number of operations); otherwise (``level`` 0 everywhere, e.g. GSM8K) the quintile of the
reference model's (Baseline's) per-problem accuracy, hardest quintile first. Per (model,
dataset, difficulty bin, method): problems, accuracy (percent), mean length, and the relative
length change against the Baseline on the same problems; when every set has levels, also the
sets pooled (``ALL``), where the toy's levels span all sets. The summary says for each method
whether it shortened the easiest bin more than the hardest (a more negative relative change).

For the pre-samples (``presample/graded.parquet``): the reference model's mean length and
accuracy per level, and how much longer its incorrect samples are – where the disharmony sits.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from o1pruner.evaluation.aes import is_baseline
from o1pruner.evaluation.bootstrap import (
    counts_from_indices,
    draw_indices,
    group_seed,
    per_problem,
)
from o1pruner.reporting.plotting import pyplot, save
from o1pruner.reporting.tables import display_method, method_order
from o1pruner.schemas import require_columns

ROW_COLUMNS = ["problem_id", "correct", "num_tokens"]
N_QUANTILES = 5


def difficulty_bins(baseline_rows: pd.DataFrame) -> tuple[pd.Series, str]:
    """Per problem_id an integer difficulty (1 = easiest) and its kind (``level`` or
    ``reference accuracy quintile``)."""
    require_columns(baseline_rows, ROW_COLUMNS, "baseline evaluation rows")
    by_problem = baseline_rows.groupby("problem_id", sort=False)
    if "level" in baseline_rows.columns and (baseline_rows["level"].astype(int) > 0).any():
        return by_problem["level"].first().astype(int), "level"
    acc = by_problem["correct"].mean().astype(float)
    # quintiles of the accuracy; tied accuracies share a bin, and with at most 5 distinct
    # accuracies (greedy: 0/1 -> two bins) each value is its own bin. Difficulty 1 = easiest = the highest-accuracy bin.
    if acc.nunique() <= N_QUANTILES:  # e.g. greedy: right or wrong; each value is a bin
        q = acc.rank(method="dense").astype(int)
    else:
        q = pd.Series(pd.qcut(acc, N_QUANTILES, labels=False, duplicates="drop"), index=acc.index)
        q = q.rank(method="dense").astype(int)
    return (q.max() - q + 1).astype(int), "reference accuracy quintile (1 = easiest)"


def length_by_difficulty(samples: dict[tuple, pd.DataFrame]) -> pd.DataFrame:
    """Long table: model, dataset, difficulty_kind, difficulty, method, n_problems, acc, length,
    length_change (relative to the Baseline on the same bin; -0.3 = 30 % shorter), acc_change
    (points)."""
    groups: dict[tuple, dict[str, pd.DataFrame]] = {}
    for (model, method, dataset), rows in samples.items():
        groups.setdefault((model, dataset), {})[method] = rows
    out = []
    for (model, dataset), runs in groups.items():
        base = [m for m in runs if is_baseline(m)]
        if len(base) != 1:
            raise ValueError(f"length-by-difficulty: model={model!r} dataset={dataset!r} needs one "
                             f"baseline run, has {len(base)}")
        bins, kind = difficulty_bins(runs[base[0]])
        for method, rows in runs.items():
            require_columns(rows, ROW_COLUMNS, f"evaluation rows of {model}/{method}/{dataset}")
            d = rows["problem_id"].map(bins)
            if d.isna().any():
                raise ValueError(f"length-by-difficulty: {model}/{method}/{dataset} has problems "
                                 "the baseline was not evaluated on")
            g = rows.assign(difficulty=d.astype(int), correct=rows["correct"].astype(float)) \
                .groupby("difficulty")
            t = pd.DataFrame({"n_problems": g["problem_id"].nunique(), "acc": 100 * g["correct"].mean(),
                              "length": g["num_tokens"].mean().astype(float)}).reset_index()
            out.append(t.assign(model=model, dataset=dataset, difficulty_kind=kind, method=method))
    df = pd.concat(out, ignore_index=True)
    base = df[df["method"].map(is_baseline)].set_index(["model", "dataset", "difficulty"])
    key = pd.MultiIndex.from_frame(df[["model", "dataset", "difficulty"]])
    df["length_change"] = df["length"].to_numpy() / base["length"].reindex(key).to_numpy() - 1
    df["acc_change"] = df["acc"].to_numpy() - base["acc"].reindex(key).to_numpy()
    cols = ["model", "dataset", "difficulty_kind", "difficulty", "method", "n_problems", "acc",
            "length", "length_change", "acc_change"]
    # models and sets in their order of appearance (the pooled set last), then difficulty
    rank = lambda col: df[col].map({v: i for i, v in enumerate(dict.fromkeys(df[col]))})  # noqa: E731
    df = df.assign(_m=rank("model"), _d=rank("dataset"))
    return df.sort_values(["_m", "_d", "difficulty"], kind="stable")[cols].reset_index(drop=True)


POOLED = "ALL"


def with_pooled(samples: dict[tuple, pd.DataFrame]) -> dict[tuple, pd.DataFrame]:
    """Add, per model with several evaluation sets that all carry levels, a pooled set ``ALL``
    (the toy's number of operations is one scale across its sets)."""
    out = dict(samples)
    by_model: dict[str, dict[str, dict[str, pd.DataFrame]]] = {}
    for (model, method, dataset), rows in samples.items():
        by_model.setdefault(model, {}).setdefault(method, {})[dataset] = rows
    for model, methods in by_model.items():
        sets = {d for per in methods.values() for d in per}
        if len(sets) < 2 or any("level" not in r.columns or not (r["level"].astype(int) > 0).all()
                                for per in methods.values() for r in per.values()):
            continue
        for method, per in methods.items():
            if set(per) == sets:
                out[(model, method, POOLED)] = pd.concat(
                    [r.assign(problem_id=d + "/" + r["problem_id"].astype(str)) for d, r in per.items()],
                    ignore_index=True)
    return out


def easy_vs_hard(table: pd.DataFrame) -> pd.DataFrame:
    """Per (model, dataset, method other than the Baseline): relative length change on the
    easiest and the hardest bin and whether the easy problems were shortened more."""
    rows = []
    for (model, dataset, method), g in table[~table["method"].map(is_baseline)].groupby(
            ["model", "dataset", "method"], sort=False):
        g = g.sort_values("difficulty")
        easy, hard = g.iloc[0], g.iloc[-1]
        rows.append({"model": model, "dataset": dataset, "method": method,
                     "easiest": int(easy["difficulty"]), "hardest": int(hard["difficulty"]),
                     "easy_length_change": easy["length_change"],
                     "hard_length_change": hard["length_change"],
                     "easy_shortened_more": (bool(easy["length_change"] < hard["length_change"])
                                             if len(g) > 1 else None)})
    return pd.DataFrame(rows)


def _bin_change_replicates(base: pd.DataFrame, method: pd.DataFrame, problems: pd.Index,
                           rng: np.random.Generator, n_boot: int) -> np.ndarray:
    """(B,) relative length change method/Baseline − 1 on one bin, problems resampled (paired)."""
    sums = np.stack([per_problem(r[r["problem_id"].isin(problems)], problems, "difficulty bin")
                     for r in (base, method)])
    w = counts_from_indices(draw_indices(rng, len(problems), n_boot), len(problems))
    length = (w @ sums[:, 1, :].T) / (w @ sums[:, 2, :].T)  # (B, 2): Baseline, method
    return length[:, 1] / length[:, 0] - 1


def easy_hard_intervals(samples: dict[tuple, pd.DataFrame], summary: pd.DataFrame, n_boot: int = 1000,
                        seed: int = 0, confidence: float = 0.95) -> pd.DataFrame:
    """The summary with ``easy_minus_hard`` (easy bin's relative length change minus the hard
    bin's; negative = easy problems shortened more) and its paired-bootstrap interval, problems
    resampled within each bin; ``easy_shortened_more`` becomes ``"yes"``/``"no"`` when the
    interval excludes 0 and ``"unclear"`` when it does not."""
    out = summary.copy()
    q = (1 - confidence) / 2
    cols = {"easy_minus_hard": [], "easy_minus_hard_lo": [], "easy_minus_hard_hi": [], "verdict": []}
    for r in summary.itertuples(index=False):
        if r.easiest == r.hardest:
            for k, v in zip(cols, (np.nan, np.nan, np.nan, "one difficulty bin only")):
                cols[k].append(v)
            continue
        base_key = next(k for k in samples if k[0] == r.model and k[2] == r.dataset and is_baseline(k[1]))
        base, method = samples[base_key], samples[(r.model, r.method, r.dataset)]
        bins, _ = difficulty_bins(base)
        rng = np.random.default_rng(group_seed(seed, r.model, r.dataset, r.method))
        easy = _bin_change_replicates(base, method, bins.index[bins == r.easiest], rng, n_boot)
        hard = _bin_change_replicates(base, method, bins.index[bins == r.hardest], rng, n_boot)
        lo, hi = np.quantile(easy - hard, [q, 1 - q])
        cols["easy_minus_hard"].append(r.easy_length_change - r.hard_length_change)
        cols["easy_minus_hard_lo"].append(float(lo))
        cols["easy_minus_hard_hi"].append(float(hi))
        cols["verdict"].append("yes" if hi < 0 else "no" if lo > 0 else "unclear")
    for k, v in cols.items():
        out[k] = v
    return out


def presample_by_difficulty(graded: pd.DataFrame, model: str) -> pd.DataFrame:
    """The reference model's pre-samples per level: problems, samples, accuracy, mean length, and
    the mean length of its correct and incorrect samples."""
    require_columns(graded, ["problem_id", "level", "num_tokens", "correct"], "pre-samples")
    g = graded.assign(correct=graded["correct"].astype(float), num_tokens=graded["num_tokens"].astype(float))
    by = g.groupby("level")
    out = pd.DataFrame({
        "n_problems": by["problem_id"].nunique(), "n_samples": by.size(),
        "acc": 100 * by["correct"].mean(), "length": by["num_tokens"].mean(),
        "length_correct": g[g["correct"] > 0].groupby("level")["num_tokens"].mean(),
        "length_incorrect": g[g["correct"] == 0].groupby("level")["num_tokens"].mean(),
    }).reset_index().rename(columns={"level": "difficulty"})
    return out.assign(model=model)[["model", "difficulty", *out.columns.drop("difficulty")]]


def _pct(x) -> str:
    return "" if x is None or pd.isna(x) else f"{100 * float(x):+.0f}%"


def markdown(table: pd.DataFrame, summary: pd.DataFrame) -> str:
    """Per (model, dataset): one row per method, one column per difficulty bin with
    ``length (Δ% vs Baseline), acc``; then the easy-vs-hard summary."""
    parts = []
    for (model, dataset), g in table.groupby(["model", "dataset"], sort=False):
        levels = sorted(g["difficulty"].unique())
        kind = g["difficulty_kind"].iloc[0]
        n = g[g["method"].map(is_baseline)].set_index("difficulty")["n_problems"]
        parts.append(f"### {model} on {dataset} (difficulty: {kind})\n")
        header = ["method"] + [f"{kind.split(' ')[0]} {d} (n={int(n.get(d, 0))})" for d in levels]
        lines = ["| " + " | ".join(header) + " |", "| --- |" + " ---: |" * len(levels)]
        for method, m in g.groupby("method", sort=False):
            m = m.set_index("difficulty")
            cells = []
            for d in levels:
                if d not in m.index:
                    cells.append("")
                    continue
                r = m.loc[d]
                change = "" if is_baseline(method) else f" ({_pct(r['length_change'])})"
                cells.append(f"{r['length']:.0f}{change}, {r['acc']:.1f}%")
            lines.append("| " + " | ".join([display_method(method), *cells]) + " |")
        parts.append("\n".join(lines) + "\n")
    parts.append("### Did a method shorten easy problems more than hard ones?\n")
    with_ci = "verdict" in summary.columns
    lines = ["| model | dataset | method | length change, easiest | length change, hardest | easy shortened more |"
             + (" easiest − hardest (95 % interval) |" if with_ci else ""),
             "| --- | --- | --- | ---: | ---: | --- |" + (" ---: |" if with_ci else "")]
    for r in summary.itertuples(index=False):
        if with_ci:
            verdict = r.verdict
            ci = ("" if pd.isna(r.easy_minus_hard) else
                  f" {100 * r.easy_minus_hard:+.0f} pts [{100 * r.easy_minus_hard_lo:+.0f}, "
                  f"{100 * r.easy_minus_hard_hi:+.0f}] |")
        else:
            verdict = {True: "yes", False: "no", None: "one difficulty bin only"}[r.easy_shortened_more]
            ci = ""
        lines.append(f"| {r.model} | {r.dataset} | {display_method(r.method)} | "
                     f"{_pct(r.easy_length_change)} (bin {r.easiest}) | "
                     f"{_pct(r.hard_length_change)} (bin {r.hardest}) | {verdict} |" + (ci or (" |" if with_ci else "")))
    parts.append("\n".join(lines) + "\n")
    parts.append("Cells: mean length in tokens (relative change vs the Baseline on the same "
                 "problems), accuracy. Bin 1 is the easiest."
                 + (" Easy shortened more: yes / no when the paired-bootstrap interval of the easiest "
                    "bin's relative change minus the hardest's (percentage points; negative = easy "
                    "shortened more) excludes 0, unclear when it does not." if with_ci else "") + "\n")
    return "\n".join(parts)


def presample_markdown(df: pd.DataFrame) -> str:
    lines = ["| model | level | problems | samples | acc | length | length (correct) | length (incorrect) |",
             "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"]
    for r in df.itertuples(index=False):
        f = lambda v: "" if pd.isna(v) else f"{v:.0f}"  # noqa: E731
        lines.append(f"| {r.model} | {r.difficulty} | {r.n_problems} | {r.n_samples} | {r.acc:.1f} | "
                     f"{f(r.length)} | {f(r.length_correct)} | {f(r.length_incorrect)} |")
    return "\n".join(lines) + "\n"


def figure(table: pd.DataFrame, presamples: pd.DataFrame | None, stem: Path) -> None:
    """One row per (model, dataset): mean length and accuracy by difficulty, a line per method;
    a last row per model with the reference model's pre-samples."""
    plt = pyplot()
    panels = list(table.groupby(["model", "dataset"], sort=False))
    pre = list(presamples.groupby("model", sort=False)) if presamples is not None and len(presamples) else []
    n_rows = len(panels) + len(pre)
    fig, axes = plt.subplots(n_rows, 2, figsize=(9, 2.8 * n_rows), squeeze=False)
    for i, ((model, dataset), g) in enumerate(panels):
        for method, m in sorted(g.groupby("method", sort=False),
                                key=lambda x: method_order().index(display_method(x[0]))
                                if display_method(x[0]) in method_order() else 99):
            style = {"color": "black", "ls": "--"} if is_baseline(method) else {}
            axes[i, 0].plot(m["difficulty"], m["length"], marker="o", label=display_method(method), **style)
            axes[i, 1].plot(m["difficulty"], m["acc"], marker="o", label=display_method(method), **style)
        xlabel = g["difficulty_kind"].iloc[0]
        axes[i, 0].set_ylabel("mean length (tokens)")
        axes[i, 1].set_ylabel("accuracy (%)")
        axes[i, 1].set_ylim(-2, 102)
        for ax in axes[i]:
            ax.set_title(f"{model} on {dataset}", fontsize=9)
            ax.set_xlabel(xlabel, fontsize=8)
            ax.set_xticks(sorted(g["difficulty"].unique()))
        axes[i, 0].legend(fontsize=7)
    for j, (model, p) in enumerate(pre, start=len(panels)):
        axes[j, 0].plot(p["difficulty"], p["length"], marker="o", color="grey", label="all samples")
        axes[j, 0].plot(p["difficulty"], p["length_correct"], marker="^", color="C2", label="correct")
        axes[j, 0].plot(p["difficulty"], p["length_incorrect"], marker="v", color="C3", label="incorrect")
        axes[j, 0].legend(fontsize=7)
        axes[j, 1].plot(p["difficulty"], p["acc"], marker="o", color="grey")
        axes[j, 0].set_ylabel("mean length (tokens)")
        axes[j, 1].set_ylabel("accuracy (%)")
        axes[j, 1].set_ylim(-2, 102)
        for ax in axes[j]:
            ax.set_title(f"{model}: reference pre-samples (training set)", fontsize=9)
            ax.set_xlabel("level", fontsize=8)
            ax.set_xticks(sorted(p["difficulty"].unique()))
    fig.suptitle("Length and accuracy against difficulty")
    save(fig, stem)
