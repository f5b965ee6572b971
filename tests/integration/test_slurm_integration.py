"""A slice of the default DAG on a real SLURM cluster through profiles/slurm.

    python -m pytest tests/integration/test_slurm_integration.py -q                    # needs `sinfo`
    O1PRUNER_START_SLURM=1 python -m pytest tests/integration/test_slurm_integration.py -q   # as root:
        # starts ../shared/tools/local-slurm/start (one node, partitions cpu/gpu, 4 fake A800s)

The slice (SLICE below) runs twice from a tiny config derived from config/config.yaml:
once through `--profile profiles/slurm --profile tests/slurm_overrides.yaml`, once
locally through profiles/local. Checks: every job of the plan was submitted to SLURM
(found in `sacct` by the job name the plugin gives all jobs of a run, the run id, and
the rule in the submit line's `--allowed-rules`); GPU rules asked for a GPU (gres/gpu
in ReqTRES/AllocTRES) on the GPU partition, CPU rules did not; the outputs equal the
local run's. Add a training or evaluation job by adding its target to SLICE: the test
config gives every GPU stage (build, sample, train, evaluate) one GPU.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path

import pandas as pd
import pytest
import yaml

pytestmark = pytest.mark.slurm

REPO = Path(__file__).resolve().parents[2]
START_SCRIPT = REPO.parent / "shared" / "tools" / "local-slurm" / "start"
OVERRIDES = Path(__file__).parents[1] / "slurm_overrides.yaml"
PARTITIONS = yaml.safe_load((Path(__file__).parents[1] / "slurm_partitions.yaml").read_text())["partitions"]
GPU_PARTITIONS = {name for name, p in PARTITIONS.items() if p.get("max_gpu", 0) > 0}

# target (relative to the workdir) -> how to compare it with the local run's:
# "parquet" (assert_frame_equal), "json" (equal objects) or "exists" (outputs with timings)
SLICE = {
    "results/toy/reference_stats.parquet": "parquet",
    # e.g. "results/toy/runs/sft/model/config.json": "json",
    #      "results/toy/eval/baseline/toy_easy.json": "exists",
}
# rules whose jobs take models.<m>.resources.<stage>.gpu; every other rule is CPU-only
GPU_RULES = {"reference_model", "sample_shard", "train", "evaluate"}
ONE_GPU = {"gpu": 1, "gpu_model": "a800", "mem_mb": 3000, "runtime": 15}

SNAKEMAKE_TIMEOUT = 600


def tiny_config() -> dict:
    """config/config.yaml shrunk to seconds: an untrained 1-layer toy, 8 problems x 2 samples."""
    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    toy = cfg["models"]["toy"]
    toy["toy"] = {"steps": 20, "batch_size": 16, "train_problems": 500, "hidden_size": 32,
                  "intermediate_size": 64, "num_layers": 1, "warmup_steps": 2}
    toy["resources"] = {stage: dict(ONE_GPU) for stage in ("build", "sample", "train", "evaluate")}
    cfg["datasets"][cfg["train_dataset"]]["n"] = 8
    cfg["sampling"].update(backend="transformers", k=2, shards=1, max_tokens=128)
    # a training/evaluation target in SLICE also wants e.g. training.max_steps and
    # evaluation.max_tokens shrunk here
    return cfg


# ---- cluster -----------------------------------------------------------------------------

def _ok(*cmd: str) -> bool:
    try:
        return subprocess.run(cmd, capture_output=True, timeout=30).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def _partitions() -> set[str]:
    out = subprocess.run(["sinfo", "-h", "-o", "%R"], capture_output=True, text=True, timeout=30)
    return set(out.stdout.split())


@pytest.fixture(scope="module")
def cluster() -> None:
    """A reachable SLURM with accounting; started from ../shared/tools when asked to."""
    pytest.importorskip("snakemake_executor_plugin_slurm")
    if not _ok("sinfo", "-h"):
        if os.environ.get("O1PRUNER_START_SLURM") != "1":
            pytest.skip("no SLURM (`sinfo` fails); O1PRUNER_START_SLURM=1 starts a local one")
        if not START_SCRIPT.exists():
            pytest.skip(f"{START_SCRIPT} not found")
        subprocess.run([str(START_SCRIPT)], check=True, timeout=600)
    if not _ok("sacct", "-n", "-X", "-S", "now-1minutes"):
        pytest.skip("`sacct` fails: no SLURM accounting (the plugin polls job states with sacct)")
    missing = set(PARTITIONS) - _partitions()
    if missing:
        pytest.skip(f"partitions {sorted(missing)} not in `sinfo`: edit tests/slurm_partitions.yaml")


# ---- runs --------------------------------------------------------------------------------

def _env() -> dict:
    env = dict(os.environ)
    # rules call the `o1pruner` console script: the one next to this interpreter
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.pop("SLURM_JOB_ID", None)
    env["O1PRUNER_FAKE_GPUS"] = "1"  # the local cluster's A800s are a GRES without devices
    return env


class Snakemake:
    """snakemake on the repo's Snakefile in `workdir` (relative log dirs land there), in the
    background; its output goes to `workdir`.log (pipes could fill up and block it)."""

    def __init__(self, workdir: Path, config: Path, *args: str):
        workdir.mkdir(parents=True, exist_ok=True)
        self.log = workdir.with_suffix(".log")
        cmd = [sys.executable, "-m", "snakemake", "-s", str(REPO / "Snakefile"),
               "--configfile", str(config), *args, *SLICE]
        self.t0, self.seconds = time.monotonic(), None
        with open(self.log, "w") as out:
            self.proc = subprocess.Popen(cmd, cwd=workdir, env=_env(), stdout=out,
                                         stderr=subprocess.STDOUT, text=True)

    def done(self) -> bool:
        if self.seconds is None and self.proc.poll() is not None:
            self.seconds = time.monotonic() - self.t0
        return self.seconds is not None

    def result(self) -> tuple[int, str, float]:
        """(exit code, output, seconds)"""
        return self.proc.returncode, self.log.read_text(), self.seconds


def wait_all(*runs: Snakemake) -> None:
    """Wait for all runs; past SNAKEMAKE_TIMEOUT kill them, cancel their SLURM jobs, fail."""
    deadline = time.monotonic() + SNAKEMAKE_TIMEOUT
    while not all([r.done() for r in runs]):  # a list: poll every run, record its end
        if time.monotonic() > deadline:
            for r in runs:
                if not r.done():
                    r.proc.kill()
                    r.proc.wait()
                    _cancel(r.log.read_text())
            pytest.fail(f"snakemake ran over {SNAKEMAKE_TIMEOUT} s, see {[str(r.log) for r in runs]}")
        time.sleep(0.5)


def _run_id(log: str) -> str | None:
    m = re.search(r"SLURM run ID: (\S+)", log)
    return m.group(1) if m else None


def _cancel(log: str) -> None:
    """Cancel what a timed-out run left in the queue (its jobs share the run id as name)."""
    rid = _run_id(log)
    if rid:
        subprocess.run(["scancel", "--name", rid], capture_output=True)


def planned_rules(workdir: Path, config: Path) -> set[str]:
    """Rules of the slice's plan, from a dry run's job table."""
    plan = Snakemake(workdir, config, "--dry-run", "--cores", "1", "--quiet=rules")
    wait_all(plan)
    rc, out, _ = plan.result()
    assert rc == 0, out
    rules = set(re.findall(r"^(\w+)\s+\d+\s*$", out, re.M)) - {"total"}
    assert rules, f"no job table in the dry run:\n{out}"
    return rules


def sacct_jobs(run_id: str, since: str, expected: int) -> list[dict]:
    """The run's jobs from accounting; slurmdbd may lag behind job completion a little."""
    fields = ["JobID", "JobName", "Partition", "ReqTRES", "AllocTRES", "State", "SubmitLine"]
    deadline = time.monotonic() + 60
    while True:
        out = subprocess.run(
            ["sacct", "-X", "-P", "-n", "--name", run_id, "-S", since,
             "--format=" + ",".join(fields)],
            capture_output=True, text=True, check=True).stdout
        jobs = [dict(zip(fields, line.split("|", len(fields) - 1))) for line in out.splitlines() if line]
        if (len(jobs) >= expected and all(j["State"] == "COMPLETED" for j in jobs)) \
                or time.monotonic() > deadline:
            break
        time.sleep(2)
    for j in jobs:
        m = re.search(r"--allowed-rules\s+'?(\w+)", j["SubmitLine"])
        j["rule"] = m.group(1) if m else "?"
    return jobs


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory) -> dict:
    root = tmp_path_factory.mktemp("slurm_slice")
    config = root / "config.yaml"
    config.write_text(yaml.safe_dump(tiny_config(), sort_keys=False))
    rules = planned_rules(root / "plan", config)

    since = datetime.now().strftime("%Y-%m-%dT%H:%M:%S")
    # both at once: the SLURM run mostly waits for status checks
    slurm = Snakemake(root / "slurm", config, "--profile", str(REPO / "profiles" / "slurm"),
                      "--profile", str(OVERRIDES))
    local = Snakemake(root / "local", config, "--profile", str(REPO / "profiles" / "local"))
    wait_all(slurm, local)
    rc, log, t_slurm = slurm.result()
    rc_local, log_local, t_local = local.result()
    assert rc == 0, f"SLURM run failed:\n{log[-6000:]}"
    assert rc_local == 0, f"local run failed:\n{log_local[-6000:]}"
    run_id = _run_id(log)
    assert run_id, f"no 'SLURM run ID' in the log:\n{log[-3000:]}"
    submitted = re.findall(r"submitted with SLURM jobid (\d+)", log)

    jobs = sacct_jobs(run_id, since, expected=len(submitted))
    table = "\n".join(f"{j['JobID']:>6} {j['rule']:<16} {j['Partition']:<6} {j['State']:<10} "
                      f"{j['AllocTRES']}" for j in jobs)
    print(f"\nSLURM run {run_id}: {t_slurm:.0f} s, local run: {t_local:.0f} s\n{table}")
    return dict(root=root, rules=rules, jobs=jobs, submitted=submitted, table=table)


# ---- checks ------------------------------------------------------------------------------

def test_every_planned_job_ran_on_slurm(runs):
    jobs = runs["jobs"]
    assert sorted(j["JobID"] for j in jobs) == sorted(runs["submitted"]), runs["table"]
    assert all(j["State"] == "COMPLETED" for j in jobs), runs["table"]
    assert {j["rule"] for j in jobs} == runs["rules"], runs["table"]
    # the slice must exercise both kinds, or the two tests below prove nothing
    assert runs["rules"] & GPU_RULES and runs["rules"] - GPU_RULES


def _gpu_tres(job: dict) -> bool:
    return "gres/gpu" in job["ReqTRES"] or "gres/gpu" in job["AllocTRES"]


def test_gpu_rules_asked_for_gpus_on_the_gpu_partition(runs):
    gpu_jobs = [j for j in runs["jobs"] if j["rule"] in GPU_RULES]
    assert gpu_jobs, runs["table"]
    for j in gpu_jobs:
        assert _gpu_tres(j), f"{j['rule']} (job {j['JobID']}) requested no GPU:\n{runs['table']}"
        assert j["Partition"] in GPU_PARTITIONS, runs["table"]


def test_cpu_rules_asked_for_no_gpu(runs):
    cpu_jobs = [j for j in runs["jobs"] if j["rule"] not in GPU_RULES]
    assert cpu_jobs, runs["table"]
    for j in cpu_jobs:
        assert not _gpu_tres(j), f"{j['rule']} (job {j['JobID']}) requested a GPU:\n{runs['table']}"
        assert j["Partition"] not in GPU_PARTITIONS, runs["table"]


@pytest.mark.parametrize("target", list(SLICE))
def test_results_equal_a_local_run(runs, target):
    a, b = runs["root"] / "slurm" / target, runs["root"] / "local" / target
    assert a.exists() and b.exists()
    if SLICE[target] == "parquet":
        pd.testing.assert_frame_equal(pd.read_parquet(a), pd.read_parquet(b))
    elif SLICE[target] == "json":
        assert json.loads(a.read_text()) == json.loads(b.read_text())
