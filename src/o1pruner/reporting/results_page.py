"""The results page: a finished run's tables, from ``results/``, assembled into one Markdown file.

    o1pruner record-machine --output results/machine.json
    o1pruner results-page --results results --config config/config.yaml --output docs/results.md

Numbers in the docs are generated, not typed: the page holds the workflow's own tables (Tables
1-3, the pruning anatomy, the toy's reflection) as the rules wrote them, with headings and short
captions. It computes nothing new but three read-outs of what the run wrote: which paired
differences hold (their interval excludes 0, read from the AES tables' ``*_lo``/``*_hi`` columns),
the runs on the Pareto front per evaluation set (read from ``tables/pareto.csv``) and the run
time (Snakemake's benchmark files). The machine is the one the run recorded in
``results/machine.json`` (rule ``run_machine``, after the reference model was built: on another
CPU the same seed can build a different toy model, so the page must say where its numbers came
from); a results folder without that record gets the rendering machine, and says so.

Rendering is deterministic (no clock is read), so the page of a run can be checked by
rendering it again.
"""

from __future__ import annotations

import json
import math
import os
import platform
import re
import shutil
import subprocess
from datetime import datetime, timezone
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING

from o1pruner.evaluation.aes import AVERAGE
from o1pruner.methods import registry
from o1pruner.reporting.pareto import FORMATS, front_summary, with_interval
from o1pruner.reporting.tables import display_method, excludes_zero, has_intervals
from o1pruner.reporting.trainers import trainer_pairs

if TYPE_CHECKING:  # pandas is imported where used: the Snakefile imports page_inputs at parse time
    import pandas as pd

MACHINE_FILE = "machine.json"


class ResultsMissing(FileNotFoundError):
    """A file the page needs is not in the results folder (the message names every one)."""


# ---------------------------------------------------------------------------
# the machine: recorded by the run, shown by the page
# ---------------------------------------------------------------------------

def cpu_model(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """The CPU's marketing name ("AMD EPYC 7B13"), from /proc/cpuinfo where there is one."""
    try:
        for line in cpuinfo.read_text(errors="replace").splitlines():
            key, _, value = line.partition(":")
            if key.strip() in ("model name", "Model", "cpu model") and value.strip():
                return value.strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown"


def _gpus() -> list[str]:
    """GPU names from nvidia-smi (no torch import: this runs in a light job); [] without one."""
    if not shutil.which("nvidia-smi"):
        return []
    try:
        out = subprocess.run(["nvidia-smi", "--query-gpu=name", "--format=csv,noheader"],
                             capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return []
    return [line.strip() for line in out.stdout.splitlines() if line.strip()] if out.returncode == 0 else []


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "not installed"


def _commit(repo: Path) -> str:
    """The checkout's commit, marked when the working tree differs from it; "unknown" outside git."""
    def git(*args: str) -> str | None:
        try:
            out = subprocess.run(["git", "-C", str(repo), *args], capture_output=True, text=True, timeout=30)
        except (OSError, subprocess.TimeoutExpired):
            return None
        return out.stdout.strip() if out.returncode == 0 else None

    head = git("rev-parse", "--short=12", "HEAD")
    if head is None:
        return "unknown"
    return head + (" (with uncommitted changes)" if git("status", "--porcelain", "--untracked-files=no") else "")


def machine_record() -> dict:
    """What the page says about where a run happened: CPU, GPUs, versions, commit, time."""
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    repo = Path(os.environ.get("O1PRUNER_ROOT") or Path(__file__).resolve().parents[3])
    return {"cpu_model": cpu_model(), "logical_cpus": os.cpu_count(), "usable_cpus": usable,
            "gpus": _gpus(), "os": f"{platform.system()} {platform.release()}",
            "python": platform.python_version(), "torch": _version("torch"),
            "transformers": _version("transformers"), "commit": _commit(repo),
            "recorded_at": datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")}


# ---------------------------------------------------------------------------
# what the page needs from a run
# ---------------------------------------------------------------------------

def toy_models(config: dict) -> list[str]:
    return [m for m, c in config["models"].items() if c["source"] == "toy"]


def page_inputs(config: dict, results: str | Path) -> dict[str, list[Path]]:
    """The run's files the page shows, by section: the same conditions as the workflow's
    ``all`` target (workflow/rules/common.smk), so a finished run has every one of them.
    The Snakemake rule ``results_page`` takes its inputs from here."""
    r = Path(results)
    models = list(config["models"])
    tables = r / "tables"
    out: dict[str, list[Path]] = {}
    if config.get("length_disharmony"):
        out["table1"] = [tables / f"table1_{m}.md" for m in models]
    out["table2"] = [tables / "table2.md", r / "metrics" / "table2_aes.csv"]
    paper = registry.method(registry.PAPER_METHOD)
    if config["methods"][paper.name][f"{paper.run_param}_grid"]:  # Table 3: the paper method's grid
        out["table3"] = [tables / "table3.md", r / "metrics" / "table3_aes.csv"]
    out["pareto"] = [tables / "pareto.csv"]
    if trainer_pairs(config["evaluation"]["methods"]):  # a reward on both trainers
        out["trainers"] = [tables / "trainers.md", tables / "trainers.csv"]
    toys = toy_models(config)
    if toys:
        out["anatomy"] = [tables / "pruning_anatomy.md"]
        out["reflection"] = [tables / f"toy_reflection_{m}.{ext}" for m in toys for ext in ("md", "json")]
    return out


def check_inputs(inputs: dict[str, list[Path]]) -> None:
    missing = [str(p) for paths in inputs.values() for p in paths if not p.is_file()]
    if missing:
        raise ResultsMissing("the results page needs files the run has not written (run the workflow "
                             "to its `all` target first):\n  " + "\n  ".join(missing))


# ---------------------------------------------------------------------------
# read-outs: differences that hold, run time, the machine
# ---------------------------------------------------------------------------

# AES-table column -> (label on the page, number format)
DIFFERENCES = {"acc_diff": ("accuracy − Baseline (points)", "{:+.1f}"),
               "length_diff": ("length − Baseline (tokens)", "{:+.0f}")}


def _interval_text(fmt: str, value: float, lo: float, hi: float) -> str:
    if math.isnan(value):  # e.g. no problem with samples on both sides of its median
        return "n/a"
    return f"{fmt.format(value)} [{fmt.format(lo)}, {fmt.format(hi)}]"


def differences(aes: pd.DataFrame, only_dataset: str | None = None) -> pd.DataFrame:
    """Every method's paired difference to the Baseline with its interval and whether it holds.

    ``aes`` is an AES table with intervals (``metrics/table2_aes.csv``); ``only_dataset`` keeps
    one dataset (AVERAGE for the λ ablation, whose per-dataset cells Table 3 does not print)."""
    import pandas as pd


    if not has_intervals(aes):
        raise ValueError("the AES table has no interval columns (acc_diff_lo, ...): "
                         "it was written without the bootstrap")
    df = aes[aes["method"].map(display_method) != "Baseline"]
    if only_dataset is not None:
        df = df[df["dataset"] == only_dataset]
    rows = []
    for _, row in df.iterrows():
        run = display_method(row["method"])
        if "lambda" in df.columns and pd.notna(row["lambda"]):
            run += f" λ={float(row['lambda']):g}"
        for col, (label, fmt) in DIFFERENCES.items():
            lo, hi = float(row[f"{col}_lo"]), float(row[f"{col}_hi"])
            rows.append({"model": row["model"], "method": run, "dataset": row["dataset"], "difference": label,
                         "value [interval]": _interval_text(fmt, float(row[col]), lo, hi),
                         "holds": "yes" if excludes_zero(lo, hi) else "no"})
    return pd.DataFrame(rows, columns=["model", "method", "dataset", "difference", "value [interval]", "holds"])


def _holds_text(lo: float, hi: float) -> str:
    return "holds" if excludes_zero(lo, hi) else "within the noise"


def in_short(pareto: pd.DataFrame, trainers: pd.DataFrame | None = None) -> str:
    """Generated sentences over the AVERAGE cells: which runs are on the accuracy-length front
    (with their intervals), which are dominated beyond the intervals, and each reward's on-policy
    run against its off-policy one (the paired differences and whether they hold)."""
    lines = []
    for model, g in pareto[pareto["dataset"] == AVERAGE].groupby("model", sort=False):
        front = g[g["on_front"].astype(bool)].sort_values("length", kind="stable")
        points = "; ".join(f"{r['label']}: {with_interval(FORMATS['acc'], r, 'acc')} % at "
                           f"{with_interval(FORMATS['length'], r, 'length')} tokens" for _, r in front.iterrows())
        lines.append(f"- **{model}, average over the evaluation sets:** {len(front)} of {len(g)} runs are on the "
                     f"accuracy–length front (shortest first): {points}.")
        if "dominated_beyond_intervals" in g.columns:
            beyond = g[g["dominated_beyond_intervals"].astype(bool)]["label"].tolist()
            lines.append(f"- **{model}:** {len(beyond)} of the {len(g) - len(front)} dominated runs are dominated "
                         "beyond the intervals" + (f" ({', '.join(beyond)})." if beyond else "."))
    if trainers is not None:
        for _, r in trainers[trainers["dataset"] == AVERAGE].iterrows():
            lines.append(
                f"- **{r['reward']} on-policy against off-policy ({r['model']}, average):** accuracy "
                f"{r['acc_off']:.1f} → {r['acc_on']:.1f} %, {r['acc_diff']:+.1f} [{r['acc_diff_lo']:+.1f}, "
                f"{r['acc_diff_hi']:+.1f}] points ({_holds_text(r['acc_diff_lo'], r['acc_diff_hi'])}); length "
                f"{r['length_off']:.1f} → {r['length_on']:.1f} tokens, {r['length_diff']:+.1f} "
                f"[{r['length_diff_lo']:+.1f}, {r['length_diff_hi']:+.1f}] "
                f"({_holds_text(r['length_diff_lo'], r['length_diff_hi'])}).")
    return "\n".join(lines) + "\n"


REFLECTION_DIFFERENCE = "more_minus_fewer"


def reflection_differences(model: str, value: dict) -> pd.DataFrame:
    """Per level group of ``toy-reflection``'s JSON: more minus fewer re-checks, and whether it holds."""
    import pandas as pd


    rows = []
    for group, r in value.items():
        point, lo, hi = r[REFLECTION_DIFFERENCE]
        holds = "yes" if excludes_zero(lo, hi) else ("no interval" if math.isnan(lo) else "no")
        rows.append({"model": model, "group": group, "levels": ",".join(map(str, r["levels"])),
                     "more − fewer checks (points)": _interval_text("{:+.1f}", point, lo, hi),
                     "problems with both": r["paired_problems"], "holds": holds})
    return pd.DataFrame(rows)


def _step(rel: Path) -> tuple[int, str]:
    """(pipeline rank, label) of a benchmark file under results/benchmarks/: shards are one step."""
    label = re.sub(r"-\d+-of-\d+$", "", rel.with_suffix("").as_posix())
    stage = {"reference_model": 0, "sample": 1, "train": 2}.get(rel.stem.split("-")[0])
    if stage is None:  # <model>/eval/<run>.tsv; anything else last
        stage = 3 if rel.parent.name == "eval" else 4
    return stage, label


def run_time(results: Path) -> pd.DataFrame | None:
    """Seconds per step from Snakemake's benchmark files (wall time, CPU time, peak memory);
    None where the run wrote none."""
    import pandas as pd

    bench = results / "benchmarks"
    files = sorted(bench.rglob("*.tsv")) if bench.is_dir() else []
    if not files:
        return None
    steps: dict[tuple[int, str], list[pd.Series]] = {}
    for f in files:
        steps.setdefault(_step(f.relative_to(bench)), []).append(pd.read_csv(f, sep="\t").iloc[-1])
    rows = []
    for (_, label), runs in sorted(steps.items()):
        df = pd.DataFrame(runs).apply(pd.to_numeric, errors="coerce")
        rows.append({"step": label, "jobs": len(df), "wall s": df["s"].sum(),
                     "CPU s": df["cpu_time"].sum(), "peak RSS MB": df["max_rss"].max()})
    table = pd.DataFrame(rows)
    total = {"step": "all benchmarked jobs", "jobs": table["jobs"].sum(), "wall s": table["wall s"].sum(),
             "CPU s": table["CPU s"].sum(), "peak RSS MB": table["peak RSS MB"].max()}
    return pd.concat([table, pd.DataFrame([total])], ignore_index=True)


def _machine(results: Path) -> tuple[dict, str]:
    """(record, where it came from): the run's own, else this machine's now."""
    path = results / MACHINE_FILE
    if path.is_file():
        return json.loads(path.read_text()), "recorded by the run (rule `run_machine`, after the reference model was built)"
    record = machine_record()
    record.pop("recorded_at")  # the page must not change with the clock
    return record, (f"**not recorded by the run** ({path} is missing): this is the machine that "
                    "rendered the page, which need not be the one that ran the workflow")


# ---------------------------------------------------------------------------
# the page
# ---------------------------------------------------------------------------

def markdown_table(df: pd.DataFrame, formats: dict[str, str] | None = None) -> str:
    import pandas as pd

    formats = formats or {}

    def cell(col: str, v) -> str:
        if v is None or (isinstance(v, float) and pd.isna(v)):
            return ""
        return formats[col].format(v) if col in formats else str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(c, v) for c, v in zip(df.columns, row)) + " |"
              for row in df.itertuples(index=False)]
    return "\n".join(lines) + "\n"


def _section(title: str, caption: str, *bodies: str) -> str:
    return "\n".join([f"## {title}", "", caption, "", *(b.rstrip("\n") + "\n" for b in bodies)])


def machine_section(results: Path) -> str:
    import pandas as pd

    record, source = _machine(results)
    rows = [("CPU", record["cpu_model"]),
            ("logical CPUs (usable by the run)", f"{record['logical_cpus']} ({record['usable_cpus']})"),
            ("GPUs", ", ".join(record["gpus"]) or "none"), ("OS", record["os"]),
            ("Python / torch / transformers", f"{record['python']} / {record['torch']} / {record['transformers']}"),
            ("commit", record["commit"])]
    if "recorded_at" in record:
        rows.append(("recorded", record["recorded_at"]))
    table = markdown_table(pd.DataFrame(rows, columns=["", "machine"]))
    return _section("Where the run happened", f"The machine {source}. The toy reference model is "
                    "trained on the CPU: its numbers can differ on another CPU model.", table)


def run_time_section(results: Path) -> str:
    table = run_time(results)
    if table is None:
        return _section("Run time", f"No benchmark files under {results / 'benchmarks'}: no run time recorded.")
    caption = ("Seconds per step, from Snakemake's benchmark files (`results/benchmarks/`); a step's shards "
               "and runs are summed. Jobs run side by side on the run's cores, so the workflow's wall time "
               "is less than the sum, and the light jobs (grading, statistics, tables) are not benchmarked.")
    return _section("Run time", caption, markdown_table(
        table, {"wall s": "{:.0f}", "CPU s": "{:.0f}", "peak RSS MB": "{:.0f}"}))


CAPTIONS = {
    "in_short": ("In short",
                 "Sentences generated from the tables below (AVERAGE cells; [lo, hi]: {conf} paired-bootstrap "
                 "intervals over problems)."),
    "table1": ("Table 1: length disharmony ({model})",
               "Each training problem's pre-samples sorted by length and cut into equal-count intervals "
               "(shortest first): accuracy (%) and mean length (tokens) per interval, averaged over problems."),
    "table2": ("Table 2: main results",
               "Greedy accuracy (%), mean length (tokens) and AES of each method per evaluation set, and "
               "their AVERAGE (intervals: the note under the table)."),
    "table3": ("Table 3: ablation on λ",
               "AVERAGE accuracy, length and AES of O1-Pruner at each λ of the grid."),
    "differences": ("Which differences hold",
                    "Each method's paired difference to the Baseline on the same problems, with its {conf} "
                    "bootstrap interval; it holds when the interval excludes 0 (Table 3: AVERAGE only)."),
    "pareto": ("Pareto front",
               "Per evaluation set and the AVERAGE, the runs no other run beats on both accuracy and mean "
               "length (accuracy ≥ and length ≤, one strictly; on the point estimates), from the shortest to "
               "the longest, out of every evaluated run (Table 2's and each λ of the grid); last column: the "
               "runs whose dominance holds beyond the {conf} intervals. Every run's numbers: "
               "`tables/pareto.md`, Figure 5: `figures/figure5.png`."),
    "trainers": ("One reward, two trainers: on-policy against off-policy",
                 "For each reward evaluated on both trainers (O1-Pruner's off-policy PPO-clip on the "
                 "pre-samples, and GRPO on the policy's own samples), the on-policy run's accuracy and length "
                 "against the off-policy run's on the same problems, with {conf} paired-bootstrap intervals."),
    "anatomy": ("Pruning anatomy",
                "Where each run prunes: re-checks, corrections and wrong work lines per greedy response, per "
                "run (every run of the Pareto front's) and evaluation set; redundant_removed_pct and corrections_kept_pct are against the Baseline on the same set."),
    "reflection": ("Does the reflection pay? ({model})",
                   "The reference model's pre-samples per level group, each statistic point [95 % interval] "
                   "over problems: accuracy, more minus fewer re-checks than the problem's median (paired "
                   "within problems), samples with a correction and their accuracy; below it, whether more − fewer "
                   "holds (its interval excludes 0)."),
}


def _titled(key: str, conf: str, body: str, *more: str, **names: str) -> str:
    """A section of the page: heading and caption of ``CAPTIONS[key]``, then the tables."""
    heading, caption = CAPTIONS[key]
    return _section(heading.format(**names), caption.format(conf=conf), body, *more)


def _model_of(path: Path, prefix: str) -> str:
    return path.stem.removeprefix(prefix)


def render(results: str | Path, config: dict, config_names: list[str]) -> str:
    """The page of the finished run in ``results`` made with ``config`` (named ``config_names``)."""
    import pandas as pd


    results = Path(results)
    inputs = page_inputs(config, results)
    check_inputs(inputs)
    conf = f"{100 * config['bootstrap']['confidence']:g} %"
    parts = [f"# Results: {', '.join(config_names)}", "",
             "Generated from the run's files by `o1pruner results-page` (`make results-page`); "
             "no number on this page is typed by hand.", "",
             machine_section(results), run_time_section(results)]
    trainer_table = pd.read_csv(inputs["trainers"][1]) if "trainers" in inputs else None
    parts.append(_titled("in_short", conf, in_short(pd.read_csv(inputs["pareto"][0]), trainer_table)))
    for path in inputs.get("table1", []):
        parts.append(_titled("table1", conf, path.read_text(), model=_model_of(path, "table1_")))
    table2_md, table2_aes = inputs["table2"]
    parts.append(_titled("table2", conf, table2_md.read_text()))
    diffs = [differences(pd.read_csv(table2_aes))]
    if "table3" in inputs:
        table3_md, table3_aes = inputs["table3"]
        parts.append(_titled("table3", conf, table3_md.read_text()))
        diffs.append(differences(pd.read_csv(table3_aes), only_dataset=AVERAGE))
    parts.append(_titled("differences", conf, markdown_table(pd.concat(diffs))))
    parts.append(_titled("pareto", conf, markdown_table(front_summary(pd.read_csv(inputs["pareto"][0])))))
    if "trainers" in inputs:
        parts.append(_titled("trainers", conf, inputs["trainers"][0].read_text()))
    if "anatomy" in inputs:
        parts.append(_titled("anatomy", conf, inputs["anatomy"][0].read_text()))
        for md in (p for p in inputs["reflection"] if p.suffix == ".md"):
            model = _model_of(md, "toy_reflection_")
            value = json.loads(md.with_suffix(".json").read_text())
            parts.append(_titled("reflection", conf, md.read_text(),
                                 markdown_table(reflection_differences(model, value)), model=model))
    return "\n".join(parts)
