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
    from o1pruner.toy import ToyConfig, train_toy

    out = tmp_path_factory.mktemp("toy") / "model"
    train_toy(ToyConfig(steps=30, batch_size=16, train_problems=800), out, log=lambda s: None)
    return out
