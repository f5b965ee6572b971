"""A method registered from outside the package, as a researcher's own module would: the config
names this module under ``plugins:`` and nothing else in the repository changes
(tests/methods/test_method_registry.py).

``shortest_half``: SFT on each problem's correct samples no longer than ``max_ratio`` · L̄_ref(x),
its reference mean length (read from the reference statistics the workflow computes).
"""

from __future__ import annotations

import pandas as pd

from o1pruner.methods.registry import Method, register


def shortest_half_dataset(graded: pd.DataFrame, stats: pd.DataFrame, mcfg: dict, seed: int,
                          value: float | None) -> pd.DataFrame:
    ref = stats.set_index("problem_id")["mean_length"]
    short = graded["num_tokens"] <= float(mcfg["max_ratio"]) * graded["problem_id"].map(ref)
    keep = graded[graded["correct"].astype(bool) & short]
    return keep.sort_values(["problem_id", "sample_idx"])[
        ["problem_id", "sample_idx", "prompt", "response", "num_tokens"]].reset_index(drop=True)


register(Method(
    "shortest_half", "Shortest half (SFT)", trainer="sft", build=shortest_half_dataset,
    data_keys=("max_ratio",),
    params={"max_ratio": {"type": "number", "exclusiveMinimum": 0, "default": 1.0}}))
