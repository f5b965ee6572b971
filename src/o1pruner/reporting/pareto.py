"""Figure 5 and its table (beyond the paper): accuracy against mean length of every evaluated run,
and which runs are on the Pareto front.

    o1pruner pareto --aes results/metrics/pareto_aes.csv --table results/tables/pareto \
        --figure results/figures/figure5

The input is an AES table with paired-bootstrap intervals (:mod:`o1pruner.evaluation.aes`,
:mod:`o1pruner.evaluation.bootstrap`) over every evaluated run of the workflow: Table 2's methods
and every λ of Table 3's grid, with the ``lambda`` column (the value of a method's run parameter)
keeping runs of one method apart. The runs come from the data: a method registered later
(:mod:`o1pruner.methods.registry`) appears without a change here.

Dominance, per model and evaluation set (and on the AVERAGE), on the point estimates: run ``j``
dominates run ``i`` when ``acc_j ≥ acc_i`` and ``length_j ≤ length_i``, one of the two strictly.
A run is on the front when no run dominates it; two runs at the same point do not dominate each
other, so both stay on the front. Beyond the intervals: ``j``'s worst corner of its intervals
(``acc_lo_j``, ``length_hi_j``) dominates ``i``'s best corner (``acc_hi_i``, ``length_lo_i``) in the
same sense. The intervals are each run's own (marginal) 95 % intervals, not intervals of the
difference between the two runs, so this is a conservative test: a dominance that holds beyond
them holds on the point estimates too.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from o1pruner.evaluation.aes import AVERAGE
from o1pruner.io import write_text
from o1pruner.methods import registry
from o1pruner.reporting.plotting import pyplot, save
from o1pruner.reporting.tables import display_method, markdown_to_html
from o1pruner.schemas import require_columns

# how a run parameter prints in a run's label ("O1-Pruner (λ=2)"), as the papers write it
# (docs/methods.md); others print by their key
PARAM_SYMBOLS = {"lambda": "λ", "alpha": "α", "beta": "β", "weight": "w", "max_tokens": "L_max"}
AXES = ("acc", "length", "aes")
INTERVALS = [f"{c}_{b}" for c in AXES for b in ("lo", "hi")]
KEYS = ["model", "dataset", "run", "label", "method", "lambda"]


def _registered(method: object) -> registry.Method | None:
    """The registry's method of an id (``lh``) or display name (``O1-Pruner``); None if unknown."""
    text = str(method).strip()
    by_display = {m.display.lower(): m for m in registry.METHODS.values()}
    return registry.METHODS.get(text) or by_display.get(text.lower())


def _value(value) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def run_label(method: object, value: float | None = None) -> str:
    """A run as the tables print it: the method's display name, and its run parameter's value
    when it has one (``O1-Pruner (λ=2)``)."""
    name = display_method(method)
    value = _value(value)
    if value is None:
        return name
    m = _registered(method)
    param = m.run_param if m is not None and m.run_param else "lambda"
    return f"{name} ({PARAM_SYMBOLS.get(param, param)}={value:g})"


def run_id(method: object, value: float | None = None) -> str:
    """The workflow's run name (``lh_lambda_2``); the method as given when it is not registered
    or its parameter's value is not known (an AES table without the ``lambda`` column)."""
    m = _registered(method)
    value = _value(value)
    if m is None or (m.run_param and value is None):
        return str(method) if m is None else m.name
    return registry.run_name(m.name, value)


def dominance(acc, length) -> np.ndarray:
    """``D[i, j]``: run ``j`` dominates run ``i`` (accuracy ≥, length ≤, one of them strictly)."""
    acc, length = np.asarray(acc, dtype=float), np.asarray(length, dtype=float)
    a_i, a_j = acc[:, None], acc[None, :]
    l_i, l_j = length[:, None], length[None, :]
    return (a_j >= a_i) & (l_j <= l_i) & ((a_j > a_i) | (l_j < l_i))


def dominance_beyond_intervals(acc_lo, acc_hi, length_lo, length_hi) -> np.ndarray:
    """``D[i, j]``: ``j`` dominates ``i`` beyond the intervals – ``j``'s worst corner (lowest
    accuracy, longest length of its intervals) dominates ``i``'s best corner."""
    a_worst_j = np.asarray(acc_lo, dtype=float)[None, :]
    a_best_i = np.asarray(acc_hi, dtype=float)[:, None]
    l_worst_j = np.asarray(length_hi, dtype=float)[None, :]
    l_best_i = np.asarray(length_lo, dtype=float)[:, None]
    return ((a_worst_j >= a_best_i) & (l_worst_j <= l_best_i)
            & ((a_worst_j > a_best_i) | (l_worst_j < l_best_i)))


def on_front(acc, length) -> np.ndarray:
    """Whether each run is on the Pareto front: no other run dominates it (:func:`dominance`)."""
    return ~dominance(acc, length).any(axis=1)


def _has_intervals(df: pd.DataFrame) -> bool:
    return all(c in df.columns for c in INTERVALS)


def _ordered(values) -> list:
    return list(dict.fromkeys(values))


def pareto_table(aes_df: pd.DataFrame, datasets: list[str] | None = None) -> pd.DataFrame:
    """One row per (model, evaluation set or AVERAGE, run): its label, accuracy, mean length and
    AES (with their ``_lo``/``_hi`` intervals where the AES table has them), ``on_front`` and the
    runs that dominate it (``dominated_by``; beyond the intervals: ``dominated_beyond_by`` and
    the bool ``dominated_beyond_intervals``). Definitions: the module's docstring.

    ``aes_df`` is the output of ``o1pruner aes`` (``model, method, dataset, acc, length, aes``; an
    optional ``lambda`` column tells apart the runs of one method). Rows: models in order of
    appearance, then ``datasets`` (default: order of appearance) with AVERAGE last, then runs in
    the registry's method order and by parameter value.
    """
    require_columns(aes_df, ["model", "method", "dataset", "acc", "length", "aes"], "pareto_table input")
    if aes_df.empty:
        raise ValueError("pareto_table: the AES table has no rows")
    df = aes_df.copy()
    if "lambda" not in df.columns:
        df["lambda"] = np.nan
    df["lambda"] = df["lambda"].map(_value).astype(float)
    for col in ("acc", "length"):
        bad = ~np.isfinite(pd.to_numeric(df[col], errors="coerce").to_numpy(dtype=float))
        if bad.any():
            row = df[bad].iloc[0]
            raise ValueError(f"pareto_table: {col}={str(row[col])} is not a finite number for "
                             f"model={row['model']!r}, method={row['method']!r}, dataset={row['dataset']!r}")
    df["run"] = [run_id(m, v) for m, v in zip(df["method"], df["lambda"])]
    df["label"] = [run_label(m, v) for m, v in zip(df["method"], df["lambda"])]
    dup = df.duplicated(["model", "dataset", "run"], keep=False)
    if dup.any():
        row = df[dup].iloc[0]
        raise ValueError(f"pareto_table: several rows for model={row['model']!r}, dataset={row['dataset']!r}, "
                         f"run {row['label']!r}; deduplicate the runs first")

    present = [d for d in _ordered(df["dataset"]) if d != AVERAGE]
    order = [d for d in (datasets or present) if d in present and d != AVERAGE]
    order += [d for d in present if d not in order] + ([AVERAGE] if (df["dataset"] == AVERAGE).any() else [])
    method_rank = {name: i for i, name in enumerate(registry.METHODS)}
    df = df.assign(_m=df["model"].map({m: i for i, m in enumerate(_ordered(df["model"]))}),
                   _d=df["dataset"].map({d: i for i, d in enumerate(order)}),
                   _r=df["method"].map(lambda m: method_rank.get(getattr(_registered(m), "name", None),
                                                                 len(method_rank))),
                   _v=df["lambda"].fillna(-np.inf))
    df = df.sort_values(["_m", "_d", "_r", "_v"], kind="stable").reset_index(drop=True)

    intervals = _has_intervals(df)
    cols = KEYS + [c for a in AXES for c in ([a, f"{a}_lo", f"{a}_hi"] if intervals else [a])]
    out = df[cols].copy()
    out["on_front"] = False
    out["dominated_by"] = ""
    if intervals:
        out["dominated_beyond_intervals"] = False
        out["dominated_beyond_by"] = ""
    for _, idx in df.groupby(["_m", "_d"], sort=False).groups.items():
        g = df.loc[idx]
        labels = np.array(g["label"], dtype=object)
        dom = dominance(g["acc"], g["length"])
        out.loc[idx, "on_front"] = ~dom.any(axis=1)
        out.loc[idx, "dominated_by"] = ["; ".join(labels[row]) for row in dom]
        if intervals:
            beyond = dominance_beyond_intervals(g["acc_lo"], g["acc_hi"], g["length_lo"], g["length_hi"])
            out.loc[idx, "dominated_beyond_intervals"] = beyond.any(axis=1)
            out.loc[idx, "dominated_beyond_by"] = ["; ".join(labels[row]) for row in beyond]
    return out


def front_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per (model, evaluation set or AVERAGE): the runs on the front from the shortest to the
    longest, and the runs dominated beyond the intervals (where the table has them)."""
    require_columns(table, ["model", "dataset", "label", "length", "on_front"], "front_summary input")
    rows = []
    for (model, dataset), g in table.groupby(["model", "dataset"], sort=False):
        front = g[g["on_front"].astype(bool)].sort_values("length", kind="stable")
        row = {"model": model, "dataset": dataset, "on the front (shortest first)": ", ".join(front["label"]),
               "runs": len(g)}
        if "dominated_beyond_intervals" in g.columns:
            beyond = g[g["dominated_beyond_intervals"].astype(bool)]
            row["dominated beyond the intervals"] = ", ".join(beyond["label"]) or "none"
        rows.append(row)
    return pd.DataFrame(rows)


def with_interval(fmt: str, row: pd.Series, col: str) -> str:
    text = fmt.format(row[col])
    lo, hi = row.get(f"{col}_lo"), row.get(f"{col}_hi")
    if lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return text
    return f"{text} [{fmt.format(lo)}, {fmt.format(hi)}]"


FORMATS = {"acc": "{:.1f}", "length": "{:.0f}", "aes": "{:.2f}"}


def pareto_markdown(table: pd.DataFrame) -> str:
    """The table as Markdown: one section per model and evaluation set (AVERAGE last), each run's
    accuracy, length and AES with their intervals, whether it is on the front and which runs
    dominate it (``*``: beyond the intervals)."""
    intervals = "dominated_beyond_by" in table.columns
    parts = []
    for (model, dataset), g in table.groupby(["model", "dataset"], sort=False):
        lines = [f"### {model} · {dataset}", "",
                 "| run | Acc | Length | AES | front | dominated by |", "| --- | ---: | ---: | ---: | --- | --- |"]
        for _, row in g.iterrows():
            beyond = set(filter(None, str(row["dominated_beyond_by"]).split("; "))) if intervals else set()
            by = [f"{name}*" if name in beyond else name
                  for name in filter(None, str(row["dominated_by"]).split("; "))]
            cells = [row["label"], *(with_interval(FORMATS[c], row, c) for c in AXES),
                     "yes" if row["on_front"] else "", ", ".join(by)]
            lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
        parts.append("\n".join(lines) + "\n")
    note = ("A run is on the front when no other run of the same model and evaluation set has accuracy ≥ "
            "and mean length ≤ its own, one of them strictly (point estimates).")
    if intervals:
        note += (" [lo, hi]: 95 % paired-bootstrap interval over problems; * = the dominance holds beyond "
                 "the intervals (the dominating run's lowest accuracy and longest length of its intervals "
                 "still dominate this run's highest accuracy and shortest length).")
    return "\n".join(parts) + "\n" + note + "\n"


def write_pareto_table(table: pd.DataFrame, stem: str | Path, html_title: str | None = None) -> list[Path]:
    """``<stem>.csv`` (full precision) and ``<stem>.md``; with ``html_title`` also ``<stem>.html``."""
    stem = Path(stem)
    md = pareto_markdown(table)
    paths = [stem.with_name(stem.name + ".csv"), stem.with_name(stem.name + ".md")]
    write_text(table.to_csv(index=False), paths[0])
    write_text(md, paths[1])
    if html_title is not None:
        paths.append(stem.with_name(stem.name + ".html"))
        write_text(markdown_to_html(md, html_title), paths[2])
    return paths


# ---- Figure 5 ------------------------------------------------------------------------------

MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*", "h", "<", ">")
# label offsets (points) tried in turn around a run's marker, near ones first, with their alignment
LABEL_SPOTS = tuple((f * dx, f * dy, ha, va) for f in (1, 2.2) for dx, dy, ha, va in (
    (7, 5, "left", "bottom"), (7, -5, "left", "top"), (-7, 5, "right", "bottom"),
    (-7, -5, "right", "top"), (0, 9, "center", "bottom"), (0, -9, "center", "top")))


def _shade(color, k: int, n: int):
    """The ``k``-th of ``n`` shades of ``color``: dark to light, one hue per method."""
    import matplotlib.colors as mcolors

    rgb = np.array(mcolors.to_rgb(color))
    if n <= 1:
        return tuple(rgb)
    t = k / (n - 1)  # 0: darker, 1: lighter
    dark, light = rgb * 0.6, rgb + (1 - rgb) * 0.4
    return tuple(dark + (light - dark) * t)


# the marker of a run's trainer (None: evaluated untrained); unknown trainers take MARKERS in turn
TRAINER_MARKERS = {None: "s", "sft": "v", "dpo": "^", "lh": "o", "grpo": "D"}


def _family(method: object) -> tuple[str, str | None]:
    """(hue key, trainer) of a method: the reward it trains on (lh and lh_onpolicy, kimi and
    kimi_onpolicy share a hue), else the method itself; its trainer picks the marker."""
    m = _registered(method)
    if m is None:
        return str(method), "?"
    return m.reward or m.name, m.trainer


def run_styles(table: pd.DataFrame) -> dict[str, dict]:
    """label -> marker and colour, the same in every panel: a hue per reward or method (a reward's
    off- and on-policy runs share it), a marker per trainer (:data:`TRAINER_MARKERS`: off-policy
    circles, on-policy diamonds), a shade of the hue per run of a method (its parameter's values,
    low to high: dark to light)."""
    plt = pyplot()
    palette = plt.get_cmap("tab10").colors
    runs = table.drop_duplicates("label")
    hues: dict[str, int] = {}
    extra: dict[object, str] = {}
    styles = {}
    for method, g in runs.groupby("method", sort=False):
        hue, trainer = _family(method)
        color = palette[hues.setdefault(hue, len(hues)) % len(palette)]
        marker = TRAINER_MARKERS.get(trainer) or extra.setdefault(trainer, MARKERS[len(extra) % len(MARKERS)])
        g = g.sort_values("lambda", kind="stable", na_position="first")
        for k, label in enumerate(g["label"]):
            styles[label] = {"marker": marker, "color": _shade(color, k, len(g))}
    return styles


def _overlap(box, boxes) -> float:
    """Area (display units²) that ``box`` shares with ``boxes``."""
    return sum(max(0.0, min(box.x1, b.x1) - max(box.x0, b.x0)) * max(0.0, min(box.y1, b.y1) - max(box.y0, b.y0))
               for b in boxes)


def _place_labels(ax, points: list[tuple[float, float, str, bool, tuple]], avoid: list) -> None:
    """Label each point ``(x, y, text, on the front, colour)`` at the first of :data:`LABEL_SPOTS`
    where the text overlaps no label placed before it, no marker and not the front's line, inside
    the axes; where none is free, at the spot with the least overlap (markers and the line weigh
    more than labels), drawn under the markers. Front runs are labelled
    first, in bold; each label in its run's colour, darkened to read."""
    renderer = ax.figure.canvas.get_renderer()
    inside = ax.get_window_extent(renderer)
    placed = []
    for x, y, text, front, color in sorted(points, key=lambda p: not p[3]):
        style = {"fontsize": 7 if front else 6.5, "fontweight": "bold" if front else "normal",
                 "color": tuple(0.7 * np.asarray(color[:3])), "zorder": 2.5,  # under the markers
                 "textcoords": "offset points",
                 "bbox": {"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none", "alpha": 0.75}}
        best = None
        for dx, dy, ha, va in LABEL_SPOTS:
            t = ax.annotate(text, (x, y), xytext=(dx, dy), ha=ha, va=va, **style)
            box = t.get_window_extent(renderer)
            outside = box.width * box.height - _overlap(box, [inside])
            cost = _overlap(box, placed) + 20 * _overlap(box, avoid) + 10 * outside
            if best is None or cost < best[0]:
                if best is not None:
                    best[1].remove()
                best = (cost, t, box)
            else:
                t.remove()
            if cost == 0:
                break
        placed.append(best[2].padded(2 * ax.figure.dpi / 72))  # 2 points between labels


def _marker_boxes(ax, xs, ys, size: float = 4.0) -> list:
    """Display-space boxes around markers (``size`` points each side)."""
    from matplotlib.transforms import Bbox

    pad = size * ax.figure.dpi / 72
    out = []
    for x, y in ax.transData.transform(np.column_stack([xs, ys])):
        out.append(Bbox([[x - pad, y - pad], [x + pad, y + pad]]))
    return out


def _line_boxes(ax, xs, ys, per_segment: int = 12) -> list:
    """Small boxes along the front's line, so that no label is written across it."""
    xs, ys = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    if len(xs) < 2:
        return []
    t = np.linspace(0, 1, per_segment)[:, None]
    px = (xs[:-1] + t * (xs[1:] - xs[:-1])).ravel()
    py = (ys[:-1] + t * (ys[1:] - ys[:-1])).ravel()
    return _marker_boxes(ax, px, py, size=1.5)


# more runs than this: panels two to a row, the legend under them, only the front's runs labelled
# in the panels (the others by their marker and colour in the legend)
CROWDED = 8


def figure5(table: pd.DataFrame, stem: str | Path) -> None:
    """Figure 5: accuracy (y) against mean length (x) of every run, one panel per model and
    evaluation set plus AVERAGE; error bars: the intervals of ``table`` (where it has them); runs
    on the front filled and joined from the shortest to the longest, dominated runs hollow; each run
    in its colour and marker (:func:`run_styles`) and named in the legend. Up to :data:`CROWDED`
    runs, every run is labelled in the panels (front runs first, in bold), one row of panels per
    model with the legend beside them; beyond, the panels go two to a row, the legend under them,
    and only the front's runs are labelled.

    ``table`` is the output of :func:`pareto_table`.
    """
    require_columns(table, ["model", "dataset", "label", "method", "lambda", "acc", "length", "on_front"],
                    "figure5 input")
    plt = pyplot()
    from matplotlib.lines import Line2D

    models = _ordered(table["model"])
    datasets = _ordered(table["dataset"])
    intervals = _has_intervals(table)
    styles = run_styles(table)
    crowded = len(styles) > CROWDED
    n_cols = min(2, len(datasets)) if crowded else len(datasets)
    rows_per_model = -(-len(datasets) // n_cols)
    n_rows = rows_per_model * len(models)
    if crowded:
        legend_rows = -(-(len(styles) + 2) // 3)
        fig = plt.figure(figsize=(5.2 * n_cols + 0.6, 4.2 * n_rows + 0.8 + 0.2 * legend_rows))
        grid = fig.add_gridspec(n_rows, n_cols)
    else:
        fig = plt.figure(figsize=(3.6 * n_cols + 2.6, 3.5 * n_rows + 0.5))
        grid = fig.add_gridspec(n_rows, n_cols + 1, width_ratios=[1] * n_cols + [0.75])
    panels = []
    for r, model in enumerate(models):
        for c, dataset in enumerate(datasets):
            ax = fig.add_subplot(grid[r * rows_per_model + c // n_cols, c % n_cols])
            g = table[(table["model"] == model) & (table["dataset"] == dataset)]
            for _, row in g.iterrows():
                s = styles[row["label"]]
                front = bool(row["on_front"])
                err = {}
                if intervals:
                    err = {"xerr": [[max(row["length"] - row["length_lo"], 0)], [max(row["length_hi"] - row["length"], 0)]],
                           "yerr": [[max(row["acc"] - row["acc_lo"], 0)], [max(row["acc_hi"] - row["acc"], 0)]]}
                ax.errorbar([row["length"]], [row["acc"]], **err, fmt=s["marker"], color=s["color"],
                            mfc=s["color"] if front else "white", mec=s["color"], mew=1.3,
                            ms=7 if front else 6, ecolor=(*s["color"], 0.45), elinewidth=1, capsize=2,
                            zorder=4 if front else 3)
            front = g[g["on_front"].astype(bool)].sort_values("length", kind="stable")
            if len(front) > 1:
                ax.plot(front["length"], front["acc"], color="0.2", lw=1.2, ls="--", zorder=2)
            ax.set_title(f"{model} · {dataset}" if len(models) > 1 else str(dataset), fontsize=9,
                         fontweight="bold" if dataset == AVERAGE else "normal")
            ax.set_xlabel("mean length (tokens)", fontsize=8)
            if c % n_cols == 0:
                ax.set_ylabel("accuracy (%)", fontsize=8)
            ax.tick_params(labelsize=7)
            ax.grid(alpha=0.25, lw=0.5)
            ax.margins(x=0.2, y=0.15)
            panels.append((ax, g, front))
    handles = [Line2D([], [], ls="none", marker=s["marker"], color=s["color"], mfc=s["color"], ms=7, label=label)
               for label, s in styles.items()]
    handles += [Line2D([], [], color="0.2", lw=1.2, ls="--", label="Pareto front (filled)"),
                Line2D([], [], ls="none", marker="o", color="0.4", mfc="white", ms=6, label="dominated (hollow)")]
    title = "Figure 5: accuracy against mean length of every evaluated run"
    if intervals:
        title += "\nerror bars: 95 % paired-bootstrap intervals over problems; front on point estimates"
    fig.suptitle(title, fontsize=10)
    rect = (0, 0, 1, 1)
    if crowded:
        legend = fig.legend(handles=handles, loc="lower center", ncol=3, fontsize=7.5, frameon=False)
        fig.canvas.draw()  # the legend's height, then room for it under the panels
        rect = (0, legend.get_window_extent().height / fig.get_window_extent().height + 0.01, 1, 1)
    else:
        legend_ax = fig.add_subplot(grid[:, -1])
        legend_ax.set_axis_off()
        legend_ax.legend(handles=handles, loc="center left", fontsize=8, frameon=False, borderaxespad=0)
    fig.tight_layout(rect=rect)
    for ax, g, front in panels:  # after the layout, so the overlap checks see the final axes
        avoid = _marker_boxes(ax, g["length"], g["acc"]) + _line_boxes(ax, front["length"], front["acc"])
        shown = g[g["on_front"].astype(bool)] if crowded else g
        points = [(row["length"], row["acc"], row["label"], bool(row["on_front"]), styles[row["label"]]["color"])
                  for _, row in shown.iterrows()]
        _place_labels(ax, points, avoid)
    save(fig, stem, rect)
