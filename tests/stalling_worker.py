"""A math-verify worker that never answers a comparison whose answer is ``STALL``.

The grader's deadline tests need a comparison that outlasts the deadline on any machine:
a slow sympy input is slow only on a slow CPU (``(x+y+z)^{40}`` takes 1.4 s on one, > 5 s
on another).  This worker is the real one (:func:`o1pruner.grading.worker._worker_main`) except
that it stops reading at a ``STALL`` request and waits for its parent to hang up, so the
parent's deadline always passes first.  Tests start it by patching in :func:`command`.

Run as a script by :class:`o1pruner.grading.MathVerifyWorker` (its ``_command``).
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

# passes the grader's code and pathology guards and is undecided by its fast path, so it
# reaches the worker (the test asserts that: a timeout is counted)
STALL = r"(x+y+z)^{40}"


def command(worker) -> list[str]:
    """A MathVerifyWorker ``_command`` that starts this script instead of the real worker:
    ``monkeypatch.setattr(MathVerifyWorker, "_command", command)``."""
    return [sys.executable, str(Path(__file__).resolve())]


class _StallingLines:
    """The request lines of ``stream``, up to the first one for ``STALL``."""

    def __init__(self, stream) -> None:
        self.stream = stream

    def __iter__(self):
        for line in self.stream:
            if json.loads(line).get("pred") == STALL:
                # block until the parent closes the pipe (it kills us at its deadline);
                # reading, not sleeping, so an orphaned worker still exits
                self.stream.read()
                return
            yield line


def main() -> None:
    from o1pruner.grading.worker import _worker_main

    sys.stdin = types.SimpleNamespace(buffer=_StallingLines(sys.stdin.buffer))
    _worker_main()


if __name__ == "__main__":
    main()
