"""The paper's Figures 2, 3 and 4 (Figure 1: :mod:`o1pruner.reporting.length_disharmony`).

    o1pruner figure2 --rulegraph rulegraph.dot --output results/figures/figure2
    o1pruner figure3 --metrics results/metrics.csv --output results/figures/figure3
    o1pruner figure4 --metrics results/metrics_splits.csv --output results/figures/figure4

The metrics table they read: :mod:`o1pruner.evaluation.metrics`.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from o1pruner.evaluation.bootstrap import bootstrap_group, group_seed
from o1pruner.io import read_table
from o1pruner.methods import registry
from o1pruner.reporting.plotting import pyplot, save


def run_replicates(metrics: pd.DataFrame, n_boot: int, seed: int) -> dict[tuple, dict[str, np.ndarray]]:
    """Paired-bootstrap replicates of every (model, run, dataset) of a metrics table with a
    ``samples`` column: ``{(model, run, dataset): {"acc", "length", ...}}`` (see
    :mod:`o1pruner.evaluation.bootstrap`; the same draw of problems for all runs of a model and dataset)."""
    out = {}
    for (model, dataset), g in metrics.groupby(["model", "dataset"], sort=False):
        runs = {(run, None): read_table(path) for run, path in zip(g["run"], g["samples"])}
        rng = np.random.default_rng(group_seed(seed, model, dataset))
        for (run, _), r in bootstrap_group(runs, n_boot, rng, {"alpha": 1, "beta": 3, "gamma": 5},
                                           "paper", f"model={model!r} dataset={dataset!r}").items():
            out[(model, run, dataset)] = r
    return out


def _has_samples(metrics: pd.DataFrame) -> bool:
    return "samples" in metrics.columns and metrics["samples"].map(lambda p: Path(str(p)).exists()).all()


def _errors(values, lo, hi):
    """matplotlib yerr (2, n) from point values and interval bounds."""
    v = np.asarray(values, dtype=float)
    return np.vstack([v - np.asarray(lo, dtype=float), np.asarray(hi, dtype=float) - v]).clip(min=0)


def figure3(metrics: pd.DataFrame, stem: Path, n_boot: int = 0, seed: int = 0,
            confidence: float = 0.95) -> None:
    """Figure 3: generation time over the evaluation sets, per method and model.

    With ``n_boot`` and the per-problem rows (``samples`` column), each bar gets the 95 %
    interval of the time over a bootstrap of problems, at the run's measured throughput: a
    replicate's time on a dataset is ``generate_s × length_replicate / length``.
    """
    plt = pyplot()
    total = (metrics.groupby(["model", "method"], sort=False)["generate_s"].sum().unstack(0))
    total = total.reindex([m for m in registry.METHODS if m in total.index])
    err = None
    if n_boot and _has_samples(metrics):
        reps = run_replicates(metrics, n_boot, seed)
        q = (1 - confidence) / 2
        lo, hi = total.copy(), total.copy()
        for (model, method), g in metrics.groupby(["model", "method"], sort=False):
            t = sum(row.generate_s * reps[(model, row.run, row.dataset)]["length"] / row.length
                    for row in g.itertuples(index=False))
            lo.loc[method, model], hi.loc[method, model] = np.quantile(t, [q, 1 - q])
        err = (lo, hi)
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    x = np.arange(len(total.index))
    width = 0.8 / max(1, total.shape[1])
    for i, model in enumerate(total.columns):
        yerr = _errors(total[model], err[0][model], err[1][model]) if err else None
        bars = ax.bar(x + (i - (total.shape[1] - 1) / 2) * width, total[model], width, label=model,
                      yerr=yerr, capsize=3 if err else 0)
        ax.bar_label(bars, fmt="%.1f", fontsize=7)
    ax.set_xticks(x)
    ax.set_xticklabels([registry.display_names()[m] for m in total.index], fontsize=8)
    ax.set_ylabel("generation time (s), all eval sets")
    ax.set_title("Figure 3: inference time per method" + (" (95 % bootstrap interval)" if err else ""))
    ax.legend(fontsize=8)
    save(fig, stem)


def difficulty_band_label(lo: float, hi: float) -> str:
    """A difficulty band in words that cannot be read backwards: our percentiles run from the
    easiest problem (0) to the hardest (100), while the official split script sorts by ascending
    accuracy, so its ``subset_0_40`` is the HARDEST 40 % (our [60, 100])."""
    if lo == 0 and hi == 100:
        return "all problems"
    if lo == 0:
        return f"easiest {hi:g} %"
    if hi == 100:
        return f"hardest {100 - lo:g} %"
    return f"{lo:g}-{hi:g} %\n(easiest first)"


def figure4(metrics: pd.DataFrame, splits: dict[str, list[float]], stem: Path, n_boot: int = 0,
            seed: int = 0, confidence: float = 0.95) -> None:
    """Figure 4: accuracy and length of LH trained on difficulty subsets (+ baseline); with
    ``n_boot`` and the per-problem rows, 95 % bootstrap intervals over problems."""
    plt = pyplot()
    reps = run_replicates(metrics, n_boot, seed) if n_boot and _has_samples(metrics) else None
    q = (1 - confidence) / 2
    models = list(dict.fromkeys(metrics["model"]))
    fig, axes = plt.subplots(len(models), 2, figsize=(8, 3.2 * len(models)), squeeze=False)
    for row, model in enumerate(models):
        sub = metrics[metrics["model"] == model]
        labels, picked = [], []
        base = sub[sub["method"] == "baseline"]
        if len(base):
            labels.append("Baseline")
            picked.append(base.iloc[0])
        for name, (lo, hi) in splits.items():
            s = sub[sub["split"] == name]
            if len(s):
                labels.append(f"{name}\n{difficulty_band_label(lo, hi)}")
                picked.append(s.iloc[0])
        dataset = sub["dataset"].iloc[0] if len(sub) else ""
        for ax, col, ylabel in ((axes[row, 0], "acc", "accuracy (%)"),
                                (axes[row, 1], "length", "mean length (tokens)")):
            vals = [r[col] for r in picked]
            yerr = None
            if reps is not None:
                bounds = np.array([np.quantile(reps[(model, r["run"], r["dataset"])][col], [q, 1 - q])
                                   for r in picked]).reshape(-1, 2)
                yerr = _errors(vals, bounds[:, 0], bounds[:, 1])
            bars = ax.bar(range(len(vals)), vals, color=["grey"] + ["C0"] * (len(vals) - 1),
                          yerr=yerr, capsize=3 if yerr is not None else 0)
            ax.bar_label(bars, fmt="%.1f", fontsize=7)
            ax.set_xticks(range(len(vals)))
            ax.set_xticklabels(labels, fontsize=7)
            ax.set_ylabel(ylabel)
            if ylabel.startswith("accuracy"):
                ax.set_ylim(0, 105)
            ax.set_title(f"{model} on {dataset}", fontsize=9)
    fig.suptitle("Figure 4: O1-Pruner trained on difficulty subsets (difficulty percentiles)"
                 + ("\nerror bars: 95 % bootstrap interval over problems" if reps is not None else ""))
    save(fig, stem)


def parse_rulegraph(dot: str) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """Nodes (id -> rule name) and edges of ``snakemake --rulegraph`` DOT output."""
    nodes = dict(re.findall(r'^\s*(\d+)\[label\s*=\s*"([^"]+)"', dot, flags=re.M))
    edges = re.findall(r"^\s*(\d+)\s*->\s*(\d+)", dot, flags=re.M)
    if not nodes:
        raise ValueError("no rules found in the rule graph (is it snakemake --rulegraph output?)")
    return nodes, edges


def figure2(dot: str, stem: Path) -> None:
    """Figure 2: the workflow's rule graph, drawn in layers from inputs to ``all``."""
    import networkx as nx

    nodes, edges = parse_rulegraph(dot)
    g = nx.DiGraph()
    g.add_nodes_from(nodes)
    g.add_edges_from(edges)
    layers = list(nx.topological_generations(g))
    pos = {}
    for depth, layer in enumerate(layers):
        for i, n in enumerate(sorted(layer, key=lambda n: nodes[n])):
            pos[n] = (i - (len(layer) - 1) / 2, -depth)
    plt = pyplot()
    width = max(len(layer) for layer in layers)
    fig, ax = plt.subplots(figsize=(max(6, 2.3 * width), 1.1 * len(layers) + 1))
    nx.draw_networkx_edges(g, pos, ax=ax, arrows=True, arrowsize=10, edge_color="grey",
                           node_size=2500)
    for n, (x, y) in pos.items():
        ax.text(x, y, nodes[n], ha="center", va="center", fontsize=8,
                bbox={"boxstyle": "round", "fc": "#e8f0fe", "ec": "#4a6fa5"})
    ax.set_axis_off()
    ax.set_title("Figure 2: the O1-Pruner workflow (snakemake --rulegraph)")
    save(fig, stem)
