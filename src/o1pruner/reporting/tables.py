"""The paper's result tables, built from the AES table of :func:`o1pruner.evaluation.aes.compute_aes`.

* :func:`table2` – Table 2 (main results): one row per (model, method), for each dataset and
  then AVERAGE the columns ``<dataset>/Acc``, ``<dataset>/Length``, ``<dataset>/AES``.
* :func:`table3` – Table 3 (ablation on λ): one row per λ of the O1-Pruner runs, with the
  ``AVERAGE/Acc``, ``AVERAGE/Length``, ``AVERAGE/AES`` columns.
* :func:`write_report_table` – ``<stem>.csv`` (full precision) and ``<stem>.md`` (printed precision:
  Acc 1 decimal, Length in whole tokens, AES 2 decimals).

    from o1pruner.evaluation import aes

    from o1pruner.reporting import tables
    tables.write_report_table(tables.table2(aes.compute_aes(metrics)), "results/table2")
"""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd

from o1pruner.evaluation.aes import AVERAGE
from o1pruner.io import write_text
from o1pruner.methods import registry
from o1pruner.schemas import require_columns


def method_display() -> dict[str, str]:
    """method -> the name the paper prints, in the paper's row order (the method registry)."""
    return registry.display_names()


def method_order() -> list[str]:
    return list(method_display().values())

# metric (column suffix) -> (source column in the AES table, Markdown format)
METRIC_COLUMNS = {"Acc": ("acc", "{:.1f}"), "Length": ("length", "{:.0f}"), "AES": ("aes", "{:.2f}")}
# paired difference to the baseline (same problems): points of accuracy, tokens
DIFF_COLUMNS = {"dAcc": ("acc_diff", "{:+.1f}"), "dLength": ("length_diff", "{:+.0f}")}
FORMATS = {m: f for m, (_, f) in {**METRIC_COLUMNS, **DIFF_COLUMNS}.items()}
SIGNIFICANT = "*"  # Markdown mark of a difference whose interval excludes 0


def has_intervals(df: pd.DataFrame) -> bool:
    """Whether an AES table carries the bootstrap columns of :mod:`o1pruner.evaluation.bootstrap`."""
    return all(f"{c}_{b}" in df.columns for c in ("acc", "length", "aes", "acc_diff", "length_diff")
               for b in ("lo", "hi"))


def excludes_zero(lo: float, hi: float) -> bool:
    """A difference holds when its whole interval lies on one side of 0."""
    return bool(lo > 0 or hi < 0)


def _interval_sources(df: pd.DataFrame) -> list[tuple[str, str]]:
    """(column suffix, source column) of the interval columns a table gains."""
    if not has_intervals(df):
        return []
    out = [(f"{m}_{b}", f"{col}_{b}") for m, (col, _) in METRIC_COLUMNS.items() for b in ("lo", "hi")]
    for m, (col, _) in DIFF_COLUMNS.items():
        out += [(m, col), (f"{m}_lo", f"{col}_lo"), (f"{m}_hi", f"{col}_hi")]
    return out


def display_method(method: object) -> str:
    """Paper name of a method given its id (``lh``) or display name (any case); others pass through."""
    text = str(method).strip()
    names = method_display()
    by_lower = {**names, **{v.lower(): v for v in names.values()}}
    return by_lower.get(text.lower(), text)


def _method_rank(name: str) -> int:
    order = method_order()
    return order.index(name) if name in order else len(order)


def _ordered(values: pd.Series) -> list:
    """Distinct values in order of first appearance."""
    return list(dict.fromkeys(values))


def table2(aes_df: pd.DataFrame, datasets: list[str] | None = None) -> pd.DataFrame:
    """Table 2: rows (model, method) in the paper's method order, columns per dataset then AVERAGE.

    ``aes_df`` needs ``model, method, dataset, acc, length, aes`` (the output of ``compute_aes``
    or the paper's own numbers). ``datasets`` fixes the column order; by default datasets keep
    their order of first appearance. AVERAGE always goes last. A table with several runs of one
    method (a ``lambda`` column) must be filtered to one run per method first.
    """
    require_columns(aes_df, ["model", "method", "dataset", "acc", "length", "aes"], "table2 input")
    df = aes_df.assign(method=aes_df["method"].map(display_method))
    dup = df.duplicated(["model", "method", "dataset"], keep=False)
    if dup.any():
        row = df[dup].iloc[0]
        raise ValueError(f"table2: several rows for model={row['model']!r}, method={row['method']!r}, "
                         f"dataset={row['dataset']!r}; keep one run per method (e.g. one lambda)")
    present = [d for d in _ordered(df["dataset"]) if d != AVERAGE]
    if datasets is None:
        datasets = present
    else:
        unknown = sorted(set(datasets) - set(present))
        if unknown:
            raise ValueError(f"table2: no rows for dataset(s) {unknown}; the table has {present}")
        datasets = [d for d in datasets if d != AVERAGE]
    if (df["dataset"] == AVERAGE).any():
        datasets.append(AVERAGE)
    models = _ordered(df["model"])
    methods = sorted(_ordered(df["method"]), key=_method_rank)  # stable: unknown methods keep order

    cells = df.set_index(["model", "method", "dataset"])
    runs = set(zip(df["model"], df["method"]))
    sources = [(m, col) for m, (col, _) in METRIC_COLUMNS.items()]
    extra = _interval_sources(df)  # after all point columns, so those keep their places
    rows = []
    for model, method in ((m, meth) for m in models for meth in methods if (m, meth) in runs):
        row = {"model": model, "method": method}
        for suffixes in (sources, extra):
            for dataset in datasets:
                key = (model, method, dataset)
                for metric, col in suffixes:
                    row[f"{dataset}/{metric}"] = cells.at[key, col] if key in cells.index else float("nan")
        rows.append(row)
    return pd.DataFrame(rows)


def table3(aes_df: pd.DataFrame) -> pd.DataFrame:
    """Table 3: the λ ablation – AVERAGE Acc/Length/AES of each O1-Pruner run, by model then λ.

    Takes λ from the ``lambda`` column of the O1-Pruner (``lh``) AVERAGE rows.
    """
    require_columns(aes_df, ["model", "method", "dataset", "lambda", "acc", "length", "aes"], "table3 input")
    df = aes_df.assign(method=aes_df["method"].map(display_method))
    runs = df[(df["method"] == method_display()[registry.PAPER_METHOD]) & (df["dataset"] == AVERAGE)]
    if runs.empty:
        raise ValueError(f"table3: no O1-Pruner rows with dataset={AVERAGE!r}; run compute_aes first")
    if runs["lambda"].isna().any():
        idx = runs.index[runs["lambda"].isna()][0]
        raise ValueError(f"table3: O1-Pruner row {idx} (model={runs.at[idx, 'model']!r}) has no lambda")
    dup = runs.duplicated(["model", "lambda"], keep=False)
    if dup.any():
        row = runs[dup].iloc[0]
        raise ValueError(f"table3: several O1-Pruner runs for model={row['model']!r}, "
                         f"lambda={float(row['lambda']):g}")
    model_rank = {m: i for i, m in enumerate(_ordered(df["model"]))}
    runs = runs.assign(_m=runs["model"].map(model_rank), **{"lambda": runs["lambda"].astype(float)})
    runs = runs.sort_values(["_m", "lambda"], kind="stable")
    out = runs[["model", "lambda"]].copy()
    for metric, (col, _) in METRIC_COLUMNS.items():
        out[f"{AVERAGE}/{metric}"] = runs[col]
    for metric, col in _interval_sources(df):
        out[f"{AVERAGE}/{metric}"] = runs[col]
    return out.reset_index(drop=True)


def _format_cell(column: str, value) -> str:
    if isinstance(value, str):
        return value.replace("|", "\\|")
    if value is None or pd.isna(value):
        return ""
    metric = column.rsplit("/", 1)[-1]
    if metric in FORMATS:
        return FORMATS[metric].format(float(value))
    if isinstance(value, float):
        return f"{value:g}"  # λ = 0.5, 2, ...
    return str(value)


def _with_interval(column: str, value, lo, hi) -> str:
    """``77.7 ± 2.1`` (half the width of the interval); a difference whose interval excludes 0
    gets the :data:`SIGNIFICANT` mark."""
    text = _format_cell(column, value)
    if not text or lo is None or hi is None or pd.isna(lo) or pd.isna(hi):
        return text
    metric = column.rsplit("/", 1)[-1]
    half = (float(hi) - float(lo)) / 2
    text += " ± " + FORMATS[metric].replace("+", "").format(half)
    if metric in DIFF_COLUMNS and excludes_zero(float(lo), float(hi)):
        text += SIGNIFICANT
    return text


def to_markdown(df: pd.DataFrame) -> str:
    """A GitHub Markdown table at the paper's printed precision (no ``tabulate`` needed).

    A column ``X`` with companions ``X_lo`` and ``X_hi`` prints as one column ``X ± half-width``;
    differences to the baseline whose interval excludes 0 are marked (see the note under the
    table).
    """
    cols = [str(c) for c in df.columns]
    paired = {c for c in cols if f"{c}_lo" in cols and f"{c}_hi" in cols}
    header = [c for c in cols if not (c.endswith(("_lo", "_hi")) and c[:-3] in paired)]
    numeric = [pd.api.types.is_numeric_dtype(df[c]) for c in header]
    lines = ["| " + " | ".join(header) + " |",
             "| " + " | ".join("---:" if num else "---" for num in numeric) + " |"]
    for _, row in df.iterrows():
        cells = [_with_interval(c, row[c], row[f"{c}_lo"], row[f"{c}_hi"]) if c in paired
                 else _format_cell(c, row[c]) for c in header]
        lines.append("| " + " | ".join(cells) + " |")
    text = "\n".join(lines) + "\n"
    if paired:
        text += ("\n± = half the width of the 95 % paired-bootstrap interval over problems; "
                 f"dAcc (points) and dLength (tokens) = difference to the Baseline on the same "
                 f"problems, {SIGNIFICANT} = its interval excludes 0.\n")
    return text


def write_report_table(df: pd.DataFrame, stem: str | Path, html_title: str | None = None) -> tuple[Path, Path]:
    """Write ``<stem>.csv`` (full precision) and ``<stem>.md``; returns both paths. With
    ``html_title`` also ``<stem>.html`` (the Markdown as a page the Snakemake report shows)."""
    stem = Path(stem)
    csv_path, md_path = stem.with_name(stem.name + ".csv"), stem.with_name(stem.name + ".md")
    write_text(df.to_csv(index=False), csv_path)  # atomic: a killed job leaves no half table
    md = to_markdown(df)
    write_text(md, md_path)
    if html_title is not None:
        write_text(markdown_to_html(md, html_title), stem.with_name(stem.name + ".html"))
    return csv_path, md_path


_HTML_STYLE = """body{font-family:sans-serif;font-size:13px;margin:12px;color:#222}
table{border-collapse:collapse;margin:6px 0 14px}th,td{border:1px solid #ccc;padding:3px 7px}
th{background:#eef2f7}td.r{text-align:right;white-space:nowrap}tr:nth-child(even) td{background:#fafafa}
h1{font-size:17px}h3{font-size:14px;margin:14px 0 4px}p{max-width:70em}"""


def markdown_to_html(md: str, title: str) -> str:
    """A standalone HTML page of the Markdown this module writes (``###`` headings, pipe
    tables, paragraphs) – the Snakemake report shows HTML inline but only offers .md/.csv for
    download."""
    import html

    out = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
           f"<style>{_HTML_STYLE}</style></head><body><h1>{html.escape(title)}</h1>"]
    lines = md.splitlines()
    i = 0

    def cells(line: str) -> list[str]:
        parts = re.split(r"(?<!\\)\|", line.strip()[1:-1])
        return [p.strip().replace("\\|", "|") for p in parts]

    while i < len(lines):
        line = lines[i]
        if line.startswith("|") and i + 1 < len(lines) and set(lines[i + 1].replace("|", "").strip()) <= set("-: "):
            header, align = cells(line), cells(lines[i + 1])
            right = [a.endswith(":") for a in align]
            out.append("<table><thead><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in header)
                       + "</tr></thead><tbody>")
            i += 2
            while i < len(lines) and lines[i].startswith("|"):
                out.append("<tr>" + "".join(
                    f"<td{' class=r' if r else ''}>{html.escape(c)}</td>"
                    for c, r in zip(cells(lines[i]), right + [False] * 99)) + "</tr>")
                i += 1
            out.append("</tbody></table>")
            continue
        if line.startswith("#"):
            out.append(f"<h3>{html.escape(line.lstrip('#').strip())}</h3>")
        elif line.strip():
            out.append(f"<p>{html.escape(line)}</p>")
        i += 1
    out.append("</body></html>")
    return "\n".join(out) + "\n"


def table2_vs_paper(aes_df: pd.DataFrame, paper: pd.DataFrame, models: dict[str, str] | None = None,
                    datasets: dict[str, str] | None = None) -> pd.DataFrame:
    """Ours beside the printed Table 2: per (model, method, dataset incl. AVERAGE) and metric,
    ``ours``, ``printed`` and ``diff = ours − printed``.

    ``models`` / ``datasets`` map our names to the paper's (``marco`` → ``Marco-o1-7B``,
    ``math500`` → ``MATH``); names not in a map are kept. Cells the paper does not print (or we
    did not run) are left out.
    """
    require_columns(aes_df, ["model", "method", "dataset", "acc", "length", "aes"], "table2_vs_paper input")
    require_columns(paper, ["model", "method", "dataset", "acc", "length", "aes"], "printed Table 2")
    ours = aes_df.assign(model=aes_df["model"].map(lambda m: (models or {}).get(m, m)),
                         dataset=aes_df["dataset"].map(lambda d: (datasets or {}).get(d, d)),
                         method=aes_df["method"].map(display_method))
    printed = paper.assign(method=paper["method"].map(display_method))
    keys = ["model", "method", "dataset"]
    both = ours.merge(printed, on=keys, suffixes=("", "_printed"), how="inner")
    if both.empty:
        raise ValueError("table2_vs_paper: no cell of ours matches the printed Table 2 by (model, "
                         f"method, dataset); ours has models {sorted(set(ours['model']))} and datasets "
                         f"{sorted(set(ours['dataset']))} – map them with report.paper_names")
    rows = []
    for metric, (col, _) in METRIC_COLUMNS.items():
        part = both[keys].copy()
        part["metric"] = metric
        part["ours"] = both[col].astype(float)
        part["printed"] = both[f"{col}_printed"].astype(float)
        part["diff"] = part["ours"] - part["printed"]
        rows.append(part)
    out = pd.concat(rows, ignore_index=True)
    order = {m: i for i, m in enumerate(method_order())}
    dorder = {d: i for i, d in enumerate(_ordered(printed["dataset"]))}
    morder = {m: i for i, m in enumerate(_ordered(printed["model"]))}
    out = out.assign(_m=out["model"].map(morder), _r=out["method"].map(order).fillna(99),
                     _d=out["dataset"].map(dorder))
    return out.sort_values(["_m", "_r", "_d"], kind="stable").drop(columns=["_m", "_r", "_d"]) \
        .reset_index(drop=True)


def table2_vs_paper_markdown(cmp: pd.DataFrame) -> str:
    """One row per (model, method), one column per (dataset, metric): ``ours / printed / diff``."""
    cols = list(dict.fromkeys(zip(cmp["dataset"], cmp["metric"])))
    lines = ["| model | method | " + " | ".join(f"{d}/{m}" for d, m in cols) + " |",
             "| --- | --- |" + " ---: |" * len(cols)]
    cells = cmp.set_index(["model", "method", "dataset", "metric"])
    for model, method in dict.fromkeys(zip(cmp["model"], cmp["method"])):
        row = []
        for d, m in cols:
            key = (model, method, d, m)
            if key not in cells.index:
                row.append("")
                continue
            c = cells.loc[key]
            f = METRIC_COLUMNS[m][1]
            row.append(f"{f.format(c['ours'])} / {f.format(c['printed'])} / "
                       f"{'+' if c['diff'] >= 0 else '−'}{f.format(abs(c['diff']))}")
        lines.append(f"| {model} | {method} | " + " | ".join(row) + " |")
    return ("\n".join(lines) + "\n\nEach cell: ours / printed in the paper (Table 2, arXiv "
            "2501.12570) / ours − printed. Acc in %, Length in tokens.\n")
