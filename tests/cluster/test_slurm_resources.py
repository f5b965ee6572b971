"""SLURM placement and retries (issue 21, item 10): every job asks one node, and a retried GPU job
doubles mem_mb and runtime only up to the limits of profiles/slurm/partitions.yaml."""

from __future__ import annotations

import re
from types import SimpleNamespace

import pytest
import yaml

from o1pruner.cluster.retries import partition_limits, retried
from tests.conftest import REPO

PARTITIONS = REPO / "profiles" / "slurm" / "partitions.yaml"


def test_partition_limits_of_the_shipped_file():
    # the gpu partition: 1,000,000 MB and 4-00:00:00 (5,760 minutes); the cpu partition sets none,
    # so a CPU job (which either partition takes) is not capped
    assert partition_limits(PARTITIONS, 8) == {"mem_mb": 1_000_000, "runtime": 5760}
    assert partition_limits(PARTITIONS, 0) == {}
    assert partition_limits(PARTITIONS, 9) == {}      # no partition takes it: nothing to cap by
    assert partition_limits(None, 4) == {}


def test_the_largest_limit_among_the_partitions_that_fit(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text(yaml.safe_dump({"partitions": {
        "small": {"max_gpu": 4, "max_mem_mb": 500_000, "max_runtime": 600},
        "big": {"max_gpu": 8, "max_mem_mb": 2_000_000, "max_runtime": "1-00:00:00"}}}))
    assert partition_limits(f, 4) == {"mem_mb": 2_000_000, "runtime": 1440}
    assert partition_limits(f, 8) == {"mem_mb": 2_000_000, "runtime": 1440}
    f.write_text("not_partitions: {}\n")
    with pytest.raises(ValueError, match="p.yaml: cannot read its partitions"):
        partition_limits(f, 1)


def test_retried_doubles_up_to_the_limit_never_below_the_first_ask():
    assert retried(512_000, 1, 1_000_000) == 512_000
    assert retried(512_000, 2, 1_000_000) == 1_000_000
    assert retried(512_000, 3, None) == 1_536_000
    assert retried(1_200_000, 2, 1_000_000) == 1_200_000   # the first ask stays (check-plan's business)


def _dry_run_resources(tmp_path, attempt: int) -> dict[str, str]:
    """resources of the train job in `snakemake -n --profile profiles/slurm --attempt N`.

    A dry run has no executor settings (snakemake sets them when a real run starts), so the
    partition file comes the plugin's other way, $SNAKEMAKE_SLURM_PARTITIONS (set by the caller)."""
    from tests.conftest import snakemake

    over = tmp_path / "over.yaml"
    over.write_text(yaml.safe_dump({"results": str(tmp_path / "r"), "models": {"toy": {"resources": {
        "train": {"gpu": 8, "gpu_model": "a800", "mem_mb": 1_000_000, "runtime": 2880}}}}}))
    res = snakemake("-n", "--profile", "profiles/slurm", "--configfile", "config/config.yaml", str(over),
                    "--attempt", str(attempt), "--", f"{tmp_path}/r/toy/runs/sft/model", timeout=600)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    block = out[out.index("rule train:"):]
    line = re.search(r"resources: (.*)", block).group(1)
    return dict(kv.split("=", 1) for kv in line.split(", "))


def test_a_retried_train_job_asks_one_node_and_at_most_the_partition_limits(tmp_path, monkeypatch):
    import dataclasses

    from snakemake_executor_plugin_slurm import ExecutorSettings
    from snakemake_executor_plugin_slurm.submit_string import get_submit_command

    # common.smk reads the plugin's setting by this name in a real run
    assert "partition_config" in {f.name for f in dataclasses.fields(ExecutorSettings)}
    monkeypatch.setenv("SNAKEMAKE_SLURM_PARTITIONS", str(PARTITIONS))

    first = _dry_run_resources(tmp_path, 1)
    assert (first["mem_mb"], first["runtime"], first["nodes"]) == ("1000000", "2880", "1")
    retry = _dry_run_resources(tmp_path, 2)
    # doubled would be 2,000,000 MB and 96 h: capped at the gpu partition's 1,000,000 MB and 4 days
    assert (retry["mem_mb"], retry["runtime"], retry["nodes"]) == ("1000000", "5760", "1")

    class Resources(dict):
        __getattr__ = dict.__getitem__

    job = SimpleNamespace(resources=Resources(mem_mb=int(retry["mem_mb"]), runtime=int(retry["runtime"]),
                                              nodes=int(retry["nodes"]), gpu=8, cpus_per_task=2),
                          threads=2, is_group=lambda: False, name="train", wildcards={})
    call = get_submit_command(job, dict(run_uuid="u", slurm_logfile="l", comment_str="c", account="",
                                        partition="-p gpu", workdir="."))
    assert "--nodes=1" in call and "--mem 1000000" in call and "-t 5760" in call
