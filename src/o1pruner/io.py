"""Table I/O for every stage: one reader, one atomic writer.

``read_table(path)`` reads .parquet, .jsonl, .json (an array of objects, or ``{"data": [...]}``)
and .csv by extension; errors name the file and, for text formats, the line
(``x.jsonl: line 3: invalid JSON (...)``). ``write_table(df, path)`` writes the same formats.

Atomic writes: a killed job never leaves a file a later rule could take as complete.

Every write goes to a hidden temporary sibling (``.<name>.<random>.tmp``, which matches no
rule's output) and is renamed over the target only when complete. A failed write (disk
full, permission denied, read-only file system) removes the temporary file, leaves any
previous output untouched and raises an ``OSError`` whose message names the target:
``[Errno 28] cannot write results/x.parquet: No space left on device``.
"""

from __future__ import annotations

import codecs
import json
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import pandas as pd


def cannot_write(path: Path, e: OSError) -> OSError:
    """The same kind of OSError (PermissionError, ...) with the target path in the message.

    pyarrow's disk-full error names neither file ("Error writing bytes to file"), and the
    temporary name in ``os.replace``'s error is not the one a user looks for.
    """
    reason = e.strerror or str(e)
    return OSError(e.errno, f"cannot write {path}: {reason}") if e.errno else \
        OSError(f"cannot write {path}: {reason}")


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def atomic_path(path: Path) -> Path:
    """A temporary sibling of ``path`` (same filesystem, so ``os.replace`` is atomic)."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as e:
        raise cannot_write(path, e) from e
    # mkstemp creates the file 0600; give the result the mode a plain open() would
    # (results on a shared cluster must stay readable to the group)
    os.fchmod(fd, 0o666 & ~_umask())
    os.close(fd)
    return Path(tmp)


def atomic_write(path: str | Path, write: Callable[[Path], None]) -> None:
    """``write(tmp)`` to a temporary sibling, then rename it to ``path``; clean up on any failure."""
    path = Path(path)
    tmp = atomic_path(path)
    try:
        write(tmp)
        os.replace(tmp, path)
    except OSError as e:
        tmp.unlink(missing_ok=True)
        raise cannot_write(path, e) from e
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


TABLE_SUFFIXES = (".parquet", ".jsonl", ".json", ".csv")


class TableError(ValueError):
    """A table file cannot be read; the message names the file (and line)."""


def _suffix(path: Path) -> str:
    suffix = path.suffix.lower()
    if suffix == ".pq":
        return ".parquet"
    if suffix not in TABLE_SUFFIXES:
        raise TableError(f"{path}: unsupported file type {suffix!r} (use {', '.join(TABLE_SUFFIXES)})")
    return suffix


def _utf8_text(path: Path) -> str:
    raw = path.read_bytes()
    if raw.startswith(codecs.BOM_UTF8):  # editors on Windows write one; it is not data
        raw = raw[len(codecs.BOM_UTF8):]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as e:
        line = raw[: e.start].count(b"\n") + 1
        raise TableError(f"{path}: line {line}: not UTF-8 (byte offset {e.start})") from None


def read_records(path: str | Path) -> list:
    """The rows of a .parquet, .jsonl or .json file as Python objects (not checked to be dicts)."""
    path = Path(path)
    suffix = _suffix(path)
    if not path.exists():
        raise TableError(f"{path}: no such file")
    if suffix == ".parquet":
        try:
            return pd.read_parquet(path).to_dict("records")
        except Exception as e:  # pyarrow raises several types for a non-Parquet file
            raise TableError(f"{path}: not a readable Parquet file ({e})") from None
    if suffix == ".csv":
        raise TableError(f"{path}: CSV has no records of objects; use read_table")
    text = _utf8_text(path)
    if suffix == ".jsonl":
        rows = []
        for i, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as e:
                raise TableError(f"{path}: line {i}: invalid JSON ({e.msg})") from None
        return rows
    try:
        data = json.loads(text)
    except json.JSONDecodeError as e:
        raise TableError(f"{path}: line {e.lineno}: invalid JSON ({e.msg})") from None
    if isinstance(data, dict) and isinstance(data.get("data"), list):
        data = data["data"]
    if not isinstance(data, list):
        raise TableError(f"{path}: expected a JSON array of objects, got {type(data).__name__}")
    return data


def read_table(path: str | Path, text_cols: tuple[str, ...] = ()) -> pd.DataFrame:
    """A table file as a DataFrame. ``text_cols`` stay strings in CSV ("28,800", "0.50")."""
    path = Path(path)
    if _suffix(path) == ".csv":
        if not path.exists():
            raise TableError(f"{path}: no such file")
        return pd.read_csv(path, dtype={c: str for c in text_cols})
    if _suffix(path) == ".parquet":
        if not path.exists():
            raise TableError(f"{path}: no such file")
        return pd.read_parquet(path)
    rows = read_records(path)
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise TableError(f"{path}: row {i}: expected a JSON object, got {type(row).__name__}")
    return pd.DataFrame.from_records(rows)


def write_table(df: pd.DataFrame, path: str | Path) -> None:
    """Write ``df`` by extension, atomically (see the module docstring)."""
    suffix = _suffix(Path(path))

    def write(tmp: Path) -> None:
        if suffix == ".parquet":
            df.to_parquet(tmp, index=False)
        elif suffix == ".jsonl":
            df.to_json(tmp, orient="records", lines=True, force_ascii=False)
        elif suffix == ".json":
            df.to_json(tmp, orient="records", force_ascii=False)
        else:
            df.to_csv(tmp, index=False)

    atomic_write(path, write)


def write_parquet(df: pd.DataFrame, path: str | Path) -> None:
    atomic_write(path, lambda tmp: df.to_parquet(tmp, index=False))


def write_text(text: str, path: str | Path) -> None:
    atomic_write(path, lambda tmp: tmp.write_text(text))


def gather_parquet(inputs: list[str | Path], output: str | Path) -> pd.DataFrame:
    """Concatenate shard tables in the given (shard) order and write atomically."""
    frames = [pd.read_parquet(p) for p in inputs]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    write_parquet(df, output)
    return df
