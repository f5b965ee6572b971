# Helpers of report.smk only (rules and functions live in separate files, as `snakemake --lint`
# asks); included by report.smk, after common.smk.

BOOT = config["bootstrap"]
REPORT = config["report"]


def _samples_of(metrics_jsons):
    """The per-problem graded rows the evaluate job writes next to each metrics JSON."""
    return [p[: -len(".json")] + ".parquet" for p in metrics_jsons]


def _aes_metrics_jsons(wc):
    """Metrics JSONs behind {prefix}aes_input.csv (the same list as its collect-metrics rule)."""
    if wc.prefix.endswith("table2_"):
        return _table2_metrics()
    if wc.prefix.endswith("table3_"):
        return _table3_metrics()
    lam = re.search(r"lambda_([0-9.]+)/$", wc.prefix).group(1)
    return [p for m in MODELS for run in ("baseline", lh_run(m, lam)) for p in eval_metrics(m, run)]


def trained_runs(model):
    """Every run of the DAG that trains a model (Table 2, the λ grid, the difficulty splits)."""
    runs = [r for r in table2_runs(model) if r not in ("baseline", "fast_prompt")]
    if "lh" in config.get("methods", {}):
        runs += [lh_run(model, l) for l in lambda_grid()]
        runs += [lh_run(model, split=s) for s in config.get("difficulty_splits", {})]
    return [r for r in dict.fromkeys(runs) if r in ("sft", "dpo") or r.startswith("lh_")]


def report_targets():
    """Outputs of this file beyond all_targets() of common.smk: intervals, difficulty,
    diagnostics, ours-vs-paper."""
    if not config.get("methods"):
        return []
    targets = [f"{RESULTS}/tables/length_by_difficulty.csv", f"{RESULTS}/figures/length_by_difficulty.png"]
    targets += [f"{RESULTS}/figures/training_{m}_{r}.png" for m in MODELS for r in trained_runs(m)]
    if REPORT["compare_to_paper"]:
        targets.append(f"{RESULTS}/tables/table2_vs_paper.md")
    return targets


# `rule all` takes all_targets(); add this file's targets to it (common.smk is shared code)
_core_all_targets = all_targets


def all_targets():
    return _core_all_targets() + report_targets()
