"""Workflow overhead: Snakemake's dry run of the paper's DAG, and the toy run stage by stage.

    .venv/bin/python benchmarks/bench_workflow.py                 # ~1-2 min
    .venv/bin/python benchmarks/bench_workflow.py --rounds 5

1. ``snakemake -n all --configfile config/paper.yaml`` (2 models, 5 methods, the λ grid,
   3 eval datasets, difficulty splits, 64 sampling shards): seconds per dry run (median of
   ``--rounds``) and the number of jobs in the plan. Run with ``--nolock`` so it never
   interferes with a real run in the same folder. When config/paper.yaml is missing, an
   equivalent config is generated in a temp dir from config/config.yaml (``--generate``
   forces that).
2. The default config's real run (``make run``), stage by stage, from the Snakemake
   ``benchmark:`` files under ``<results>/benchmarks/**.tsv``: per rule, jobs, total and
   max seconds, max ``max_rss`` (MiB). Without those files: "run `make run` first".

Writes benchmarks/out/bench_workflow.json.
"""

from __future__ import annotations

import argparse
import copy
import csv
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import _common as C  # noqa: E402


def snakemake_exe() -> str:
    here = Path(sys.executable).parent / "snakemake"
    return str(here) if here.exists() else (shutil.which("snakemake") or "snakemake")


def paper_like_config(base: Path, out: Path) -> Path:
    """From config/config.yaml: 2 models, 5 methods, a 4-value λ grid, 3 eval datasets,
    3 difficulty splits and 64 sampling shards, written to ``out``."""
    import yaml

    cfg = yaml.safe_load(base.read_text())
    toy = next(iter(cfg["models"].values()))
    cfg["models"] = {"toy_a": copy.deepcopy(toy), "toy_b": copy.deepcopy(toy)}
    cfg["sampling"]["shards"] = 64
    cfg["methods"]["lh"]["lambda_grid"] = [0, 1, 2, 5]
    cfg["evaluation"]["methods"] = ["baseline", "fast_prompt", "sft", "dpo", "lh"]
    cfg["difficulty_splits"] = {"easy": [0, 40], "medium": [30, 70], "hard": [60, 100]}
    if len(cfg["eval_datasets"]) < 3:
        raise SystemExit(f"{base}: needs 3 eval datasets to stand in for the paper's config")
    cfg["results"] = str(out.parent / "results")
    out.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return out


# rules with a ``benchmark:`` directive (workflow/rules/*.smk)
BENCHMARKED_RULES = ("reference_model", "sample_shard", "train", "evaluate")
_TOTAL = re.compile(r"^\s*total\s+(\d+)\s*$", re.M)


def dry_run(configfile: Path, forceall: bool = False) -> tuple[float, int, str]:
    """(seconds, planned jobs, output) of one ``snakemake -n all`` (``--forceall``: the whole DAG)."""
    cmd = [snakemake_exe(), "-n", "all", "--configfile", str(configfile), "--nolock", "--cores", "1",
           "--quiet", "rules"] + (["--forceall"] if forceall else [])
    t = time.perf_counter()
    proc = subprocess.run(cmd, cwd=C.REPO, capture_output=True, text=True, env=C.child_env())
    wall = time.perf_counter() - t
    out = proc.stdout + proc.stderr
    if proc.returncode != 0:
        raise SystemExit(f"bench_workflow: `{' '.join(cmd)}` failed (exit {proc.returncode}):\n{out[-3000:]}")
    m = _TOTAL.findall(out)
    if not m:
        raise SystemExit(f"bench_workflow: no job count ('total N') in the dry-run output:\n{out[-3000:]}")
    return wall, int(m[-1]), out


def job_stats(out: str) -> dict[str, int]:
    """Rule -> planned job count from the dry run's "Job stats" table."""
    section = out[out.rfind("Job stats:"):] if "Job stats:" in out else ""
    stats = {}
    for line in section.splitlines()[1:]:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit() and parts[0] not in ("job", "total"):
            stats[parts[0]] = int(parts[1])
    return stats


def results_root() -> Path:
    import yaml

    cfg = yaml.safe_load((C.REPO / "config" / "config.yaml").read_text())
    return C.REPO / cfg.get("results", "results")


def stage_benchmarks(root: Path) -> list[dict]:
    """Per rule, from Snakemake's benchmark TSVs: jobs, total/max s, max max_rss (MiB).

    Files are grouped by rule over all models (``<model>/eval/<run>.tsv`` -> ``evaluate``;
    ``<model>/presample/sample-0-of-2.tsv`` -> ``sample_shard (presample)``).
    """
    files = sorted((root / "benchmarks").rglob("*.tsv"))
    per = defaultdict(lambda: {"jobs": 0, "total_s": 0.0, "max_s": 0.0, "max_rss_mb": 0.0, "files": []})
    for f in files:
        rel = f.relative_to(root / "benchmarks")
        name = _stage_name(rel)
        with f.open() as fh:
            rows = list(csv.DictReader(fh, delimiter="\t"))
        if not rows:
            continue
        s = [float(r["s"]) for r in rows if r.get("s") not in (None, "", "NA", "-")]
        rss = [float(r["max_rss"]) for r in rows if r.get("max_rss") not in (None, "", "NA", "-")]
        d = per[name]
        d["jobs"] += 1
        d["total_s"] += sum(s) / max(1, len(s))  # a benchmark: repeat N file holds N rows
        d["max_s"] = max(d["max_s"], max(s, default=0.0))
        d["max_rss_mb"] = max(d["max_rss_mb"], max(rss, default=0.0))
        d["files"].append(str(rel))
    return [{"stage": k, **v} for k, v in sorted(per.items(), key=lambda kv: -kv[1]["total_s"])]


def _stage_name(rel: Path) -> str:
    """Rule name from a benchmark path (see the ``benchmark:`` directives in workflow/rules)."""
    parts = rel.parts[1:-1]  # below the model folder
    stem = re.sub(r"-\d+-of-\d+$", "", rel.stem)
    if stem == "sample" and parts:
        return f"sample_shard ({parts[-1]})"
    if parts and parts[0] == "eval":
        return "evaluate"
    return stem  # train (runs/<run>/train.tsv), reference_model, ...


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=3, help="dry runs (median reported)")
    ap.add_argument("--configfile", type=Path, default=C.REPO / "config" / "paper.yaml")
    ap.add_argument("--generate", action="store_true",
                    help="use a paper-like config generated from config/config.yaml even if paper.yaml exists")
    ap.add_argument("--results", type=Path, default=None,
                    help="results folder of the default config's run (default: from config/config.yaml)")
    a = ap.parse_args(argv)
    started, info = time.time(), C.machine()

    with tempfile.TemporaryDirectory() as tmp:
        cfg_file, generated = a.configfile, False
        if a.generate or not cfg_file.is_file():
            cfg_file = paper_like_config(C.REPO / "config" / "config.yaml", Path(tmp) / "paper_like.yaml")
            generated = True
            print(f"{a.configfile} {'ignored (--generate)' if a.generate else 'not found'}: using a "
                  f"generated paper-like config ({cfg_file})")
        walls, jobs, out = [], None, ""
        for r in range(a.rounds):
            wall, jobs, out = dry_run(cfg_file)
            walls.append(wall)
            print(f"dry run {r + 1}: {wall:.2f} s, {jobs} jobs", flush=True)
    per_rule = job_stats(out)

    print()
    C.print_table([[f"snakemake -n all ({'generated paper-like config' if generated else cfg_file.name})",
                    jobs, C.median(walls), min(walls), max(walls)]],
                  ["what", "jobs", "median s", "min s", "max s"])
    if per_rule:
        print("\njobs per rule: " + ", ".join(f"{k} {v}" for k, v in sorted(per_rule.items(), key=lambda kv: -kv[1])))

    root = a.results or results_root()
    stages = stage_benchmarks(root) if (root / "benchmarks").is_dir() else []
    expected = None
    if stages and a.results is None:  # how many benchmarked jobs the default run has in all
        plan = job_stats(dry_run(C.REPO / "config" / "config.yaml", forceall=True)[2])
        expected = sum(plan.get(r, 0) for r in BENCHMARKED_RULES)
    print()
    if stages:
        C.print_table([[s["stage"], s["jobs"], s["total_s"], s["max_s"], s["max_rss_mb"]] for s in stages],
                      ["stage (rule)", "jobs", "total s", "max s / job", "max RSS MiB"])
        found = sum(s["jobs"] for s in stages)
        print(f"total over stages: {sum(s['total_s'] for s in stages):,.0f} s "
              f"(from {root.relative_to(C.REPO) if root.is_relative_to(C.REPO) else root}/benchmarks/**.tsv)"
              + (f"; {found} of the default run's {expected} benchmarked jobs"
                 + (" (run incomplete or in progress)" if found < expected else "") if expected else ""))
    else:
        print(f"no Snakemake benchmark files under {root}/benchmarks: run `make run` first to get the "
              "default config's stage-by-stage times")

    result = {"config": str(cfg_file if not generated else "generated from config/config.yaml"),
              "generated_config": generated, "dry_run_jobs": jobs, "dry_run_s": C.median(walls),
              "dry_run_s_all": walls, "jobs_per_rule": per_rule,
              "stages": stages, "benchmarked_jobs_expected": expected, "stages_source": str(root / "benchmarks") if stages else None,
              "stages_missing_reason": None if stages else "run `make run` first"}
    C.write_result("bench_workflow", result, started, info)
    return 0


if __name__ == "__main__":
    sys.exit(main())
