"""The repository holds sources only: no build outputs, caches or model weights."""

from __future__ import annotations

import re
import shutil
import subprocess

import pytest
from conftest import REPO

BUILD_OUTPUT = re.compile(r"^(results[^/]*/|\.cache/|\.snakemake/)|\.safetensors$")


def test_no_build_outputs_are_tracked():
    if shutil.which("git") is None or not (REPO / ".git").exists():
        pytest.skip("not a git checkout")
    files = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True,
                           check=True).stdout.splitlines()
    tracked = [f for f in files if BUILD_OUTPUT.search(f)]
    assert not tracked, f"build outputs are tracked (git rm --cached them): {tracked[:10]}"


def test_the_pattern_catches_what_it_must():
    for bad in ("results/toy/model/model.safetensors", "results-test/x.parquet", ".cache/vllm/a.json",
                "weights.safetensors"):
        assert BUILD_OUTPUT.search(bad), bad
    for good in ("src/o1pruner/io.py", "tests/data/paper_table2.csv", "workflow/rules/report.smk"):
        assert not BUILD_OUTPUT.search(good), good
