"""The command line of o1pruner.reporting: each ``cli_<name>(argv)`` parses its own arguments and calls the library (o1pruner.cli dispatches to them)."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import pandas as pd

from o1pruner.config import load
from o1pruner.io import read_records, read_table, write_parquet, write_table, write_text
from o1pruner.reporting import diagnostics, difficulty, trainers
from o1pruner.reporting.diagnostics import find_log, run_method
from o1pruner.reporting.difficulty import (
    easy_hard_intervals,
    easy_vs_hard,
    length_by_difficulty,
    markdown,
    presample_by_difficulty,
    presample_markdown,
    with_pooled,
)
from o1pruner.reporting.figures import (
    figure2,
    figure3,
    figure4,
)
from o1pruner.reporting.length_disharmony import figure1, length_intervals, table1
from o1pruner.reporting.pareto import figure5, front_summary, pareto_table, write_pareto_table
from o1pruner.reporting.results_page import ResultsMissing, machine_record, render
from o1pruner.reporting.tables import (
    markdown_to_html,
    table2,
    table2_vs_paper,
    table2_vs_paper_markdown,
    table3,
    to_markdown,
    write_report_table,
)
from o1pruner.schemas import require_columns


def cli_training_figure(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner training-figure", description=diagnostics.__doc__.split("\n")[0])
    ap.add_argument("--model-dir", required=True, type=Path, help="the trained run's model folder")
    ap.add_argument("--log", type=Path, default=None, help="train_<method>.jsonl (default: from train_summary.json)")
    ap.add_argument("--method", default=None, help="the run's method (default: from train_summary.json)")
    ap.add_argument("--output", required=True, type=Path, help="stem: .png and .pdf")
    ap.add_argument("--title", default=None)
    args = ap.parse_args(argv)
    method = args.method or run_method(args.model_dir)
    log = args.log or find_log(args.model_dir, method)
    entries = read_records(log)
    warnings = diagnostics.figure(entries, method, args.output, args.title or str(args.model_dir))
    print(f"{log}: {len(entries)} log entries, method {method}")
    for w in warnings:
        print(f"WARNING: {w}")
    if not warnings:
        print("no training warnings")
    return 0


def _write(text_csv: pd.DataFrame, md: str, stem: Path, title: str) -> None:
    write_text(text_csv.to_csv(index=False), f"{stem}.csv")
    write_text(md, f"{stem}.md")
    write_text(markdown_to_html(md, title), f"{stem}.html")


def cli_length_by_difficulty(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner length-by-difficulty", description=difficulty.__doc__.split("\n")[0])
    ap.add_argument("--samples-index", required=True, type=Path,
                    help="metrics CSV of `o1pruner collect-metrics` (model, method, dataset, samples)")
    ap.add_argument("--presamples", nargs="*", default=[], help="MODEL=graded.parquet of the pre-samples")
    ap.add_argument("--table", required=True, type=Path, help="stem: .csv and .md")
    ap.add_argument("--figure", required=True, type=Path, help="stem: .png and .pdf")
    ap.add_argument("--presample-table", type=Path, help="stem: .csv and .md")
    ap.add_argument("--bootstrap-samples", type=int, default=0,
                    help="replicates for the interval of easy-minus-hard length change (0: none)")
    ap.add_argument("--bootstrap-seed", type=int, default=0)
    ap.add_argument("--confidence", type=float, default=0.95)
    args = ap.parse_args(argv)
    index = read_table(args.samples_index)
    require_columns(index, ["model", "method", "dataset", "samples"], str(args.samples_index))
    samples = {(m, meth, d): read_table(p) for m, meth, d, p in
               zip(index["model"], index["method"], index["dataset"], index["samples"])}
    samples = with_pooled(samples)
    table = length_by_difficulty(samples)
    summary = easy_vs_hard(table)
    if args.bootstrap_samples:
        summary = easy_hard_intervals(samples, summary, args.bootstrap_samples, args.bootstrap_seed,
                                      args.confidence)
    keep = [c for c in ("easy_shortened_more", "easy_minus_hard", "easy_minus_hard_lo",
                        "easy_minus_hard_hi", "verdict") if c in summary.columns]
    _write(table.merge(summary[["model", "dataset", "method", *keep]],
                       on=["model", "dataset", "method"], how="left"),
           markdown(table, summary), args.table, "Length and accuracy by difficulty")
    pre = None
    if args.presamples:
        pre = pd.concat([presample_by_difficulty(read_table(path), model)
                         for model, path in (s.split("=", 1) for s in args.presamples)], ignore_index=True)
        if args.presample_table:
            _write(pre, presample_markdown(pre), args.presample_table,
                   "Reference pre-samples by difficulty")
    difficulty.figure(table, pre, args.figure)
    print(markdown(table, summary))
    if pre is not None:
        print(presample_markdown(pre))
    return 0




def _bootstrap_args(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--bootstrap-samples", type=int, default=0,
                    help="replicates B for 95 %% error bars (0: none; needs the metrics' samples column)")
    ap.add_argument("--bootstrap-seed", type=int, default=0)
    ap.add_argument("--confidence", type=float, default=0.95)


def cli_figure3(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner figure3")
    ap.add_argument("--metrics", required=True, type=Path)
    ap.add_argument("--output", required=True, type=Path, help="stem: .png and .pdf")
    _bootstrap_args(ap)
    args = ap.parse_args(argv)
    figure3(pd.read_csv(args.metrics), args.output, args.bootstrap_samples, args.bootstrap_seed,
            args.confidence)
    return 0


def cli_figure4(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner figure4")
    ap.add_argument("--metrics", required=True, type=Path)
    ap.add_argument("--splits", required=True, help='JSON: {"easy": [0, 40], ...}')
    ap.add_argument("--output", required=True, type=Path, help="stem: .png and .pdf")
    _bootstrap_args(ap)
    args = ap.parse_args(argv)
    figure4(pd.read_csv(args.metrics), json.loads(args.splits), args.output,
            args.bootstrap_samples, args.bootstrap_seed, args.confidence)
    return 0


def cli_figure2(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner figure2")
    ap.add_argument("--dot", required=True, type=Path, help="snakemake --rulegraph output")
    ap.add_argument("--output", required=True, type=Path, help="stem: .png and .pdf")
    args = ap.parse_args(argv)
    figure2(args.dot.read_text(), args.output)
    return 0


def cli_pareto(argv: list[str]) -> int:
    """``o1pruner pareto --aes pareto_aes.csv --table STEM --figure STEM [--datasets a b c] [--html]``"""
    ap = argparse.ArgumentParser(prog="o1pruner pareto",
                                 description="Figure 5 and its table: accuracy against mean length, the Pareto front")
    ap.add_argument("--aes", required=True, type=Path,
                    help="output of `o1pruner aes` over every evaluated run (with a lambda column)")
    ap.add_argument("--table", required=True, type=Path, help="stem: .csv and .md")
    ap.add_argument("--figure", required=True, type=Path, help="stem: .png and .pdf")
    ap.add_argument("--datasets", nargs="*", default=None, help="panel and section order of the evaluation sets")
    ap.add_argument("--html", action="store_true", help="also write <table stem>.html (for the report)")
    args = ap.parse_args(argv)
    table = pareto_table(read_table(args.aes), datasets=args.datasets)
    write_pareto_table(table, args.table, "Pareto front: accuracy against mean length" if args.html else None)
    figure5(table, args.figure)
    print(front_summary(table).to_string(index=False))
    return 0


def cli_compare_trainers(argv: list[str]) -> int:
    """``o1pruner compare-trainers --pair MODEL OFF_RUN ON_RUN ... --evals-root RESULTS --datasets ...
    --output STEM``"""
    ap = argparse.ArgumentParser(prog="o1pruner compare-trainers", description=trainers.__doc__.split("\n\n")[0])
    ap.add_argument("--pair", nargs=3, action="append", required=True, metavar=("MODEL", "OFF_RUN", "ON_RUN"),
                    help="a reward's off-policy and on-policy runs of one model; repeat per reward")
    ap.add_argument("--evals-root", required=True, type=Path, help="the results folder (<model>/eval/<run>/...)")
    ap.add_argument("--datasets", nargs="+", required=True, help="evaluation sets, in table order")
    ap.add_argument("--output", required=True, type=Path, help="stem: writes .csv and .md")
    ap.add_argument("--bootstrap-samples", type=int, default=1000)
    ap.add_argument("--bootstrap-seed", type=int, default=0)
    ap.add_argument("--confidence", type=float, default=0.95)
    args = ap.parse_args(argv)
    evals = {(m, run, d): read_table(trainers.eval_path(args.evals_root, m, run, d))
             for m, off, on in args.pair for run in (off, on) for d in args.datasets}
    table = trainers.compare(evals, [tuple(p) for p in args.pair], args.datasets, args.bootstrap_samples,
                             args.bootstrap_seed, args.confidence)
    write_table(table, f"{args.output}.csv")
    write_text(trainers.markdown(table, args.confidence), f"{args.output}.md")
    print(table.to_string(index=False))
    return 0


def cli_length_disharmony(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner length-disharmony")
    ap.add_argument("--graded", required=True, type=Path)
    ap.add_argument("--intervals", type=int, default=4)
    ap.add_argument("--model", default="")
    ap.add_argument("--per-problem", type=Path, required=True, help="per-problem Parquet")
    ap.add_argument("--table", type=Path, required=True, help="stem: writes .csv and .md")
    ap.add_argument("--figure", type=Path, required=True, help="stem: writes .png and .pdf")
    args = ap.parse_args(argv)
    per_problem = length_intervals(pd.read_parquet(args.graded), args.intervals)
    write_parquet(per_problem, args.per_problem)
    t1 = table1(per_problem)
    if args.model:
        t1.insert(0, "model", args.model)
    write_report_table(t1, args.table)
    figure1(per_problem, args.figure, f"Figure 1 ({args.model}): accuracy by length interval"
            if args.model else "")
    print(to_markdown(t1))
    return 0


def cli_record_machine(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner record-machine",
                                 description="record this machine (CPU, GPUs, versions, commit) as JSON")
    ap.add_argument("--output", required=True, type=Path)
    args = ap.parse_args(argv)
    record = machine_record()
    write_text(json.dumps(record, indent=1) + "\n", args.output)
    print(json.dumps(record))
    return 0


def cli_results_page(argv: list[str]) -> int:
    ap = argparse.ArgumentParser(prog="o1pruner results-page",
                                 description="a finished run's tables as one Markdown page")
    ap.add_argument("--results", required=True, type=Path, help="the run's results folder")
    ap.add_argument("--config", required=True, nargs="+", help="the run's config file(s), in order")
    ap.add_argument("--output", required=True, type=Path, help="the page (e.g. docs/results.md)")
    args = ap.parse_args(argv)
    try:
        page = render(args.results, load(*args.config), args.config)
    except ResultsMissing as e:
        print(f"o1pruner results-page: {e}", file=sys.stderr)
        return 1
    write_text(page, args.output)
    print(f"wrote {args.output}")
    return 0


def cli_tables(argv: list[str]) -> int:
    """``o1pruner tables --aes aes.csv [--table2 STEM] [--table3 STEM] [--datasets a b c]``."""
    ap = argparse.ArgumentParser(prog="o1pruner tables")
    ap.add_argument("--aes", required=True, type=Path, help="output of `o1pruner aes`")
    ap.add_argument("--table2", type=Path, help="stem for Table 2 (.csv, .md)")
    ap.add_argument("--table3", type=Path, help="stem for Table 3 (.csv, .md)")
    ap.add_argument("--datasets", nargs="*", default=None, help="dataset column order")
    ap.add_argument("--html", action="store_true", help="also write <stem>.html (for the report)")
    args = ap.parse_args(argv)
    df = pd.read_csv(args.aes)
    if args.table2:
        t2 = table2(df, datasets=args.datasets)
        write_report_table(t2, args.table2, "Table 2: main results" if args.html else None)
        print(to_markdown(t2))
    if args.table3:
        t3 = table3(df)
        write_report_table(t3, args.table3, "Table 3: ablation on λ" if args.html else None)
        print(to_markdown(t3))
    return 0


def cli_table2_vs_paper(argv: list[str]) -> int:
    """``o1pruner table2-vs-paper --aes table2_aes.csv --paper paper_table2.csv --output STEM
    [--names JSON]``"""
    ap = argparse.ArgumentParser(prog="o1pruner table2-vs-paper")
    ap.add_argument("--aes", required=True, type=Path, help="our Table 2 AES table (`o1pruner aes`)")
    ap.add_argument("--paper", required=True, type=Path, help="the printed Table 2 (tests/data/paper_table2.csv)")
    ap.add_argument("--output", required=True, type=Path, help="stem: .csv and .md")
    ap.add_argument("--names", default="{}", help='JSON {"models": {ours: paper}, "datasets": {ours: paper}}')
    args = ap.parse_args(argv)
    names = json.loads(args.names)
    cmp = table2_vs_paper(read_table(args.aes), read_table(args.paper), names.get("models"),
                          names.get("datasets"))
    write_text(cmp.to_csv(index=False), f"{args.output}.csv")
    md = table2_vs_paper_markdown(cmp)
    write_text(md, f"{args.output}.md")
    write_text(markdown_to_html(md, "Table 2: ours / printed / difference"), f"{args.output}.html")
    print(md)
    return 0
