"""The run folder of one training job: atomic output, and resuming only the same run.

A job writing ``<output>`` works in ``<output>.tmp``:

    <output>.tmp/run_fingerprint.json   what this run is (method, data, settings, base model)
    <output>.tmp/checkpoint-<step>/     Trainer checkpoints (only with training.save_steps > 0)
    <output>.tmp/final/                 the finished model, renamed to <output> at the very end

so a half-written model never sits under the final name. A rerun resumes from the last complete
checkpoint only when the leftover folder's fingerprint equals the new run's; otherwise the
leftover folder is discarded. Used by :func:`o1pruner.training.train.train`.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from pathlib import Path
from typing import Any

from o1pruner.io import write_text

FINAL_SUBDIR = "final"           # <output>.tmp/final -> <output>
FINGERPRINT_NAME = "run_fingerprint.json"
_CHECKPOINT_RE = re.compile(r"^checkpoint-(\d+)$")


def tmp_dir(output: Path) -> Path:
    return output.with_name(output.name + ".tmp")


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def complete_checkpoints(folder: Path) -> list[Path]:
    """Trainer checkpoints in ``folder``, oldest first; trainer_state.json is written last, so a
    checkpoint without it was interrupted while being saved."""
    found = []
    for child in folder.iterdir() if folder.is_dir() else []:
        m = _CHECKPOINT_RE.match(child.name)
        if m and child.is_dir() and (child / "trainer_state.json").is_file():
            found.append((int(m.group(1)), child))
    return [p for _, p in sorted(found)]


def run_fingerprint(method: str, model_path: str, data_path: str, tcfg: dict, mcfg: dict) -> dict:
    """What a resumable checkpoint must match: method, data, hyperparameters and the base model
    (its files' names, sizes and mtimes: hashing tens of GB of weights would take minutes)."""
    folder = Path(model_path)
    model_files = sorted((p.name, p.stat().st_size, p.stat().st_mtime_ns)
                         for p in folder.iterdir() if p.is_file()) if folder.is_dir() else []
    fingerprint = {"method": method, "model_path": str(folder.resolve()), "model_files": model_files,
                   "data_sha256": file_sha256(Path(data_path)), "training": tcfg, "method_config": mcfg}
    return json.loads(json.dumps(fingerprint, sort_keys=True, default=str))  # as it reads back


def prepare(tmp: Path, fingerprint: dict, save_steps: int, args: Any) -> Path | None:
    """Make ``tmp`` ready for this run; return the checkpoint to resume from, if any.

    ``args``: the run's TrainingArguments (for ``main_process_first``): the main process cleans up
    before the other ranks look.
    """
    with args.main_process_first(local=False, desc="preparing the run folder"):
        if args.process_index == 0:
            stale = True
            if save_steps > 0 and (tmp / FINGERPRINT_NAME).is_file():
                try:
                    stale = json.loads((tmp / FINGERPRINT_NAME).read_text()) != fingerprint
                except json.JSONDecodeError:
                    stale = True
            if stale and tmp.exists():
                shutil.rmtree(tmp)
            shutil.rmtree(tmp / FINAL_SUBDIR, ignore_errors=True)
            tmp.mkdir(parents=True, exist_ok=True)
            write_text(json.dumps(fingerprint, indent=1, sort_keys=True, default=str), tmp / FINGERPRINT_NAME)
        checkpoints = complete_checkpoints(tmp) if save_steps > 0 else []
    return checkpoints[-1] if checkpoints else None


def publish(tmp: Path, output: Path) -> None:
    """``<tmp>/final`` becomes ``output`` (a previous result is replaced); ``tmp`` goes away.
    Main process only."""
    if output.exists():
        shutil.rmtree(output)
    os.replace(tmp / FINAL_SUBDIR, output)
    shutil.rmtree(tmp, ignore_errors=True)
