"""Run by tests/integration/test_train_distributed.py under ``torchrun --nproc_per_node 2`` (gloo, CPU).

    torchrun --standalone --nproc_per_node 2 tests/torchrun_train.py SPEC.json

SPEC: {"crash": bool, "runs": [{"method", "model", "data", "output", "training", "method_config"}]}.
Trains each run in turn in one process group (torch, transformers and TRL are imported once for
all three methods). With ``crash``, every rank raises where the final model would be saved, after
the checkpoints, as a job killed at that point would; the next run is then expected to resume.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from o1pruner.training import train as T


class Killed(RuntimeError):
    pass


def _killed(*args, **kwargs):
    raise Killed("killed before the final save")


def main(spec_path: str) -> int:
    spec = json.loads(Path(spec_path).read_text())
    if spec["crash"]:
        T.save_final_model = _killed
    for run in spec["runs"]:
        try:
            T.train(run["method"], run["model"], run["data"], run["output"], run["training"], run["method_config"])
        except Killed:
            continue
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
