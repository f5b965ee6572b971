"""Atomic table writes: a killed job never leaves a file a later rule could take as complete.

Every write goes to a hidden temporary sibling (``.<name>.<random>.tmp``, which matches no
rule's output) and is renamed over the target only when complete. A failed write (disk
full, permission denied, read-only file system) removes the temporary file, leaves any
previous output untouched and raises an ``OSError`` whose message names the target:
``[Errno 28] cannot write results/x.parquet: No space left on device``.
"""

from __future__ import annotations

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
