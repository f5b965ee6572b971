"""Shared fixtures: paths to the repo, ../shared/data, and a tiny toy model built once."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = REPO.parent / "shared" / "data"

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not SHARED_DATA.is_dir():
        pytest.skip("../shared/data is not present")
    return SHARED_DATA


@pytest.fixture(scope="session")
def tiny_toy_model(tmp_path_factory) -> Path:
    """A toy long-thought model trained for a few steps: right format, poor arithmetic."""
    from o1pruner.toy.model import ToyConfig, train_toy

    out = tmp_path_factory.mktemp("toy") / "model"
    train_toy(ToyConfig(steps=30, batch_size=16, train_problems=800), out, log=lambda s: None)
    return out


def run_snakemake(*args, cwd=REPO, timeout=1800):
    """`python -m snakemake ARGS` with this interpreter's scripts (the `o1pruner` CLI) on PATH."""
    import subprocess
    import sys

    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")}
    return subprocess.run([sys.executable, "-m", "snakemake", *args], cwd=cwd, capture_output=True,
                          text=True, timeout=timeout, env=env)


def snakemake(*args, cwd=REPO, timeout=1800):
    return run_snakemake(*args, cwd=cwd, timeout=timeout)


def job_counts(stdout: str) -> dict[str, int]:
    """rule -> jobs of a `snakemake -n` plan (its "Job stats" table); empty: nothing to be done."""
    import re

    if "Job stats:" not in stdout:  # "Nothing to be done"
        return {}
    block = stdout.split("Job stats:")[1].split("Reasons:")[0]
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^(\w+)\s+(\d+)$", block, re.M)}


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """The results folder of one finished `.test/config.yaml` run, shared by the end-to-end,
    rerun and report tests (the run takes minutes). O1PRUNER_REPORT_RESULTS=<folder> reuses a
    finished run instead."""
    given = os.environ.get("O1PRUNER_REPORT_RESULTS")
    if given:
        results = Path(given).resolve()
        if not (results / "tables" / "table2.csv").exists():
            pytest.skip(f"O1PRUNER_REPORT_RESULTS={given} has no finished run")
        return results
    results = tmp_path_factory.mktemp("tiny") / "results"
    res = run_snakemake("--cores", "2", "--configfile", ".test/config.yaml", "--config",
                        f"results={results}", timeout=3000)
    assert res.returncode == 0, (res.stdout + res.stderr)[-5000:]
    return results


FAKES = Path(__file__).resolve().parent / "fakes"


def _unset_until_teardown(monkeypatch, key: str) -> None:
    """Unset ``key`` now and again at teardown, even when the code under test sets it."""
    monkeypatch.setenv(key, "")
    monkeypatch.delenv(key)


@pytest.fixture
def fake_vllm(monkeypatch):
    """tests/fakes/vllm in place of any installed vLLM; its ENGINES list, emptied."""
    import sys

    for name in [m for m in sys.modules if m == "vllm" or m.startswith("vllm.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.syspath_prepend(str(FAKES))
    import vllm

    assert Path(vllm.__file__).parent.parent == FAKES, vllm.__file__
    vllm.ENGINES.clear()
    for key in vllm.ENV_KEYS + ("VLLM_CPU_KVCACHE_SPACE", "VLLM_CPU_NUM_OF_RESERVED_CPU",
                                "VLLM_CPU_OMP_THREADS_BIND"):
        _unset_until_teardown(monkeypatch, key)
    return vllm


@pytest.fixture
def fake_cuda(monkeypatch):
    """Two fake CUDA devices on a CUDA 13 torch with driver 580 (tests/fakes/fake_cuda.py)."""
    monkeypatch.syspath_prepend(str(FAKES))
    import fake_cuda

    _unset_until_teardown(monkeypatch, "PYTORCH_NVML_BASED_CUDA_CHECK")
    fake_cuda.install(monkeypatch)
    return fake_cuda
