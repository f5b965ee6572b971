"""Which CUDA devices a job has, asked without breaking vLLM's later fork, and the check that a
job whose rule asked for GPUs really got them (with a driver new enough for this torch).

Why not ``torch.cuda.is_available()``: by default it calls ``cudaGetDeviceCount``, which
initialises the CUDA driver and registers torch's fork guard; a process forked afterwards (vLLM
starts its engine core by fork unless CUDA is initialised) then fails with "Cannot re-initialize
CUDA in forked subprocess". With ``PYTORCH_NVML_BASED_CUDA_CHECK=1`` torch counts devices through
NVML instead and leaves the driver alone (``torch/cuda/__init__.py``: ``is_available`` and
``device_count``). vLLM sets the same variable, but only once it is imported.

Why the driver check: torch 2.13.0 and vllm 0.32.0 from PyPI are CUDA 13 builds; an older
driver makes torch see no device at all, and a GPU job would then train on the CPU until its
time limit. The rules pass the GPUs they asked for (``--gpus`` of sample/evaluate,
``O1PRUNER_JOB_GPUS`` for train), so such a job stops at once and says why.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

NVML_CHECK = "PYTORCH_NVML_BASED_CUDA_CHECK"
JOB_GPUS_ENV = "O1PRUNER_JOB_GPUS"
# "1" on a test cluster whose GPUs are fake (a GRES with no device behind it, as
# ../shared/tools/local-slurm): a GPU job without CUDA says so and runs on the CPU instead of stopping
FAKE_GPUS_ENV = "O1PRUNER_FAKE_GPUS"
DRIVER_FILE = Path("/proc/driver/nvidia/version")

# The oldest driver that runs each CUDA major version (NVIDIA's CUDA Toolkit release notes,
# "CUDA Toolkit and Minimum Required Driver Version for CUDA Minor Version Compatibility").
MIN_DRIVER = {11: "450.80.02", 12: "525.60.13", 13: "580.65.06"}


class NoGpuError(SystemExit):
    """A job that asked for GPUs sees none: exit 1 with the reason, before any work starts."""


def _version_tuple(version: str) -> tuple[int, ...]:
    return tuple(int(x) for x in re.findall(r"\d+", version))


def torch_cuda_version() -> str | None:
    """The CUDA version this torch was built for; None for a CPU build (or no torch)."""
    try:
        import torch
    except ImportError:
        return None
    return torch.version.cuda


def cuda_device_count() -> int:
    """CUDA devices this process may use (CUDA_VISIBLE_DEVICES applied), counted through NVML so
    that the CUDA driver stays uninitialised and a later fork stays safe."""
    if torch_cuda_version() is None:
        return 0
    import torch

    os.environ[NVML_CHECK] = "1"  # read by torch at each call, not at import
    try:
        return int(torch.cuda.device_count())
    except RuntimeError:  # e.g. a CUDA_VISIBLE_DEVICES that names no device
        return 0


def driver_version() -> str | None:
    """The NVIDIA kernel driver's version, e.g. "550.54.15"; None without a driver."""
    if DRIVER_FILE.is_file():
        found = re.search(r"Kernel Module(?: for \S+)?\s+(\d+\.\d+(?:\.\d+)?)", DRIVER_FILE.read_text())
        if found:
            return found.group(1)
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version", "--format=csv,noheader"],
                                 capture_output=True, text=True, timeout=30).stdout.split()
        except (OSError, subprocess.SubprocessError):
            return None
        return out[0] if out else None
    return None


def required_driver(cuda: str | None) -> str | None:
    """The minimum driver for a torch built for CUDA ``cuda`` ("13.0"); None when unknown."""
    if not cuda:
        return None
    return MIN_DRIVER.get(_version_tuple(cuda)[0])


def driver_report(cuda: str | None = None, found: str | None = None) -> tuple[bool, str]:
    """(driver new enough, one line naming the driver found and the one needed)."""
    cuda = torch_cuda_version() if cuda is None else cuda
    found = driver_version() if found is None else found
    if cuda is None:
        return False, f"torch is a CPU build: no CUDA (NVIDIA driver {found or 'not found'})"
    need = required_driver(cuda)
    head = f"NVIDIA driver {found or 'not found'}; torch is built for CUDA {cuda}"
    if need is None:
        return found is not None, f"{head} (no known minimum driver for it)"
    ok = found is not None and _version_tuple(found) >= _version_tuple(need)
    verdict = "ok" if ok else ("TOO OLD" if found else "no NVIDIA driver on this node")
    return ok, f"{head}, which needs driver >= {need}: {verdict}"


def _no_gpu_reason(count: int, driver_ok: bool, line: str) -> str | None:
    if torch_cuda_version() is None:
        return (f"torch {_torch_version()} is a CPU build: this environment is not a CUDA one "
                "(run GPU jobs in envs/*.yaml's environments, or a venv with CUDA torch and vllm)")
    if not driver_ok:
        return line + " (profiles/slurm/README.md, 'CUDA driver': how to use a CUDA 12 build)"
    visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if count == 0 and visible is not None and not visible.strip(","):
        return f"CUDA_VISIBLE_DEVICES={visible!r} hides every GPU"
    if count == 0:
        return f"torch counts 0 CUDA devices ({line}): wrong partition, or no GPU allocated to the job"
    return None


def _torch_version() -> str:
    try:
        import torch
    except ImportError:
        return "(not installed)"
    return torch.__version__


def require_gpus(asked: int | None, job: str) -> int:
    """Stop a job that asked for ``asked`` GPUs but sees none (or whose driver is too old for
    this torch); print one line naming the driver found and needed. Returns the device count.
    ``asked`` None or 0: a CPU job, nothing is checked."""
    if not asked:
        return 0
    count = cuda_device_count()
    driver_ok, line = driver_report()
    print(f"[o1pruner] {job}: asked for {asked} GPU(s); {line}", file=sys.stderr, flush=True)
    why = _no_gpu_reason(count, driver_ok, line)
    problem = (f"{job}: this job asked for {asked} GPU(s) but cannot use CUDA: {why}" if why else
               f"{job}: this job asked for {asked} GPU(s) but sees {count}" if count < asked else None)
    if problem and os.environ.get(FAKE_GPUS_ENV) == "1":
        print(f"[o1pruner] {problem}; {FAKE_GPUS_ENV}=1 (fake GPUs): running on the CPU",
              file=sys.stderr, flush=True)
        return count
    if problem:
        raise NoGpuError(problem)
    return count


def job_gpus_from_env() -> int:
    """The GPUs the job's rule asked for, as the rule exported them (0: unset, a CPU job)."""
    value = os.environ.get(JOB_GPUS_ENV, "").strip()
    if not value:
        return 0
    if not value.isdigit():
        raise NoGpuError(f"{JOB_GPUS_ENV}={value!r} is not a GPU count")
    return int(value)
