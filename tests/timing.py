"""Time complexity without wall-clock bounds: how a function's run time grows with its input.

A bound such as "under 0.5 s" holds on one machine and fails on a slower or busier one; the
ratio of two timings taken on the same machine a moment apart does not depend on its speed.
"""

from __future__ import annotations

import gc
import math
import time
from typing import Callable


def _best_time(run: Callable[[object], object], arg: object, repeats: int) -> float:
    """The fastest of ``repeats`` runs: the least disturbed by other processes."""
    best = math.inf
    for _ in range(repeats):
        t0 = time.perf_counter()
        run(arg)
        best = min(best, time.perf_counter() - t0)
    return best


def growth_exponent(make: Callable[[int], object], run: Callable[[object], object], n: int,
                    factor: int = 4, repeats: int = 5) -> float:
    """``k`` in time ~ size^k for ``run(make(size))`` between sizes ``n`` and ``factor * n``:
    about 1 when linear, 2 when quadratic.  Choose ``n`` so one run takes a millisecond or
    more and its input stays under ~1 MB: the fastest of ``repeats`` runs is then stable to a
    few per cent, and no larger input is slowed by falling out of the CPU cache."""
    small, large = make(n), make(factor * n)  # built outside the timings
    enabled = gc.isenabled()
    gc.disable()  # a collection landing in one timing only would skew the ratio
    try:
        t_small = _best_time(run, small, repeats)
        t_large = _best_time(run, large, repeats)
    finally:
        if enabled:
            gc.enable()
    return math.log(t_large / t_small) / math.log(factor)
