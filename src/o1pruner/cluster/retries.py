"""Resources of a retried cluster job: doubled with each attempt, never above the partition's limits.

A GPU rule asks ``models.<m>.resources.<stage>.mem_mb`` and ``runtime`` times the attempt, so a job
that ran out of memory or time gets more on its retry. Unbounded, QwQ's training retry asked ~2 TB
and 96 h, more than any node has: sbatch's job then pends forever (or fits no partition at all).
The limits are the ones the user already wrote once for the SLURM plugin, ``max_mem_mb`` and
``max_runtime`` of the partitions in ``profiles/slurm/partitions.yaml``
(snakemake-executor-plugin-slurm's ``--slurm-partition-config``); a retry asks at most the largest
limit among the partitions that can take the job, and never less than the first attempt asked.
"""

from __future__ import annotations

import math
from pathlib import Path

import yaml

LIMIT_KEYS = {"mem_mb": "max_mem_mb", "runtime": "max_runtime"}  # job resource -> partition limit


def _minutes(value) -> float:
    """A partition's max_runtime in minutes: a number, or a SLURM time string ("2-00:00:00")."""
    if isinstance(value, (int, float)):
        return float(value)
    from snakemake_executor_plugin_slurm.utils import parse_time_to_minutes

    return float(parse_time_to_minutes(value))


def partition_limits(partition_file: str | Path | None, gpu: int) -> dict[str, float]:
    """The largest ``mem_mb`` and ``runtime`` (minutes) any partition of ``partition_file`` that
    takes a job of ``gpu`` GPUs allows (max_gpu >= gpu). A key is absent where one of those
    partitions sets no limit for it (then nothing caps it), or without a partition file."""
    if not partition_file:
        return {}
    try:
        partitions = (yaml.safe_load(Path(partition_file).read_text()) or {})["partitions"]
    except (OSError, KeyError, TypeError) as e:
        raise ValueError(f"{partition_file}: cannot read its partitions ({e!r})") from None
    fitting = [p or {} for p in partitions.values() if int((p or {}).get("max_gpu", 0)) >= gpu]
    limits = {}
    for key, limit_key in LIMIT_KEYS.items():
        values = [p.get(limit_key) for p in fitting]
        if values and all(v is not None for v in values):
            limits[key] = max(_minutes(v) if key == "runtime" else float(v) for v in values)
    return limits


def retried(base: int, attempt: int, limit: float | None) -> int:
    """``base`` times ``attempt``, capped at ``limit`` but never below ``base``."""
    value = base * attempt
    if limit is not None and not math.isinf(limit):
        value = min(value, max(base, int(limit)))
    return int(value)
