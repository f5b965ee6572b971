"""``o1pruner sample`` that stops for good after some of its batches, for the kill-midway test.

Killing a shard "midway" by watching its progress bar assumes generation is slow enough for the
bar to show a midway state; on a fast machine (or a GPU) the shard can finish between two of its
refreshes. Here the sampler itself says it is midway (a line ``MIDWAY`` on stderr, after
``STOP_AFTER`` generate calls) and then waits to be killed, so the kill lands midway on any
machine.  Everything else is the real ``o1pruner sample``.

    python tests/midway_sampler.py STOP_AFTER <o1pruner sample arguments>
"""

from __future__ import annotations

import sys

MARK = "MIDWAY"


def stop_after(calls: int) -> None:
    """Let ``calls`` model.generate calls run, then announce MARK and block in the next one."""
    from transformers.generation.utils import GenerationMixin

    real = GenerationMixin.generate
    done = 0

    def generate(self, *args, **kwargs):
        nonlocal done
        if done == calls:
            print(MARK, file=sys.stderr, flush=True)
            sys.stdin.read()  # until the test kills us (an orphan sees its stdin close instead)
            raise SystemExit("midway sampler: stdin closed before the kill")
        done += 1
        return real(self, *args, **kwargs)

    GenerationMixin.generate = generate


def main() -> None:
    stop_after(int(sys.argv[1]))
    from o1pruner import cli

    sys.exit(cli.main(["sample", *sys.argv[2:]]))


if __name__ == "__main__":
    main()
