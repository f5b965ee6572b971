"""Atomic table writes: a killed job never leaves a file a later rule could take as complete."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import pandas as pd


def atomic_path(path: Path) -> Path:
    """A temporary sibling of ``path`` (same filesystem, so ``os.replace`` is atomic)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    return Path(tmp)


def write_parquet(df: pd.DataFrame, path: str | Path) -> None:
    path = Path(path)
    tmp = atomic_path(path)
    try:
        df.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_text(text: str, path: str | Path) -> None:
    path = Path(path)
    tmp = atomic_path(path)
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def read_table(path: str | Path) -> pd.DataFrame:
    """Parquet, CSV, JSONL or JSON-array by extension."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        return pd.read_parquet(path)
    if suffix == ".csv":
        return pd.read_csv(path)
    if suffix in (".jsonl", ".json"):
        return pd.read_json(path, lines=suffix == ".jsonl")
    raise ValueError(f"{path}: unsupported table type {suffix!r}")


def gather_parquet(inputs: list[str | Path], output: str | Path) -> pd.DataFrame:
    """Concatenate shard tables in the given (shard) order and write atomically."""
    frames = [pd.read_parquet(p) for p in inputs]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    write_parquet(df, output)
    return df
