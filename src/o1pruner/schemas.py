"""Column sets of the tables that flow through the DAG (all Parquet).

Each stage checks its input with :func:`require_columns`, so a table from the
wrong step fails with the file and the missing columns named.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

# problems.parquet: one row per problem of a dataset (train or eval split)
PROBLEMS = ["problem_id", "dataset", "problem", "answer", "level"]

# samples.parquet: one row per pre-sampled response
# (num_tokens = thinking_tokens + answer_tokens; see o1pruner.thinking)
SAMPLES = [
    "problem_id", "sample_idx", "prompt", "problem", "response", "num_tokens",
    "thinking_tokens", "answer_tokens", "finish_reason", "seed", "gold",
]

# graded.parquet = SAMPLES + these
GRADED_EXTRA = ["extracted", "correct"]
GRADED = SAMPLES + GRADED_EXTRA

# reference_stats.parquet: one row per problem (the paper's L̄_ref(x), Ā_ref(x), ...)
REFERENCE_STATS = [
    "problem_id", "n_samples", "mean_length", "mean_acc", "min_length", "max_length",
    "std_length", "shortest_correct_length",
]


class SchemaError(ValueError):
    """A table lacks columns a stage needs."""


def require_columns(df: pd.DataFrame, columns: Iterable[str], where: str) -> None:
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise SchemaError(f"{where}: missing column(s) {missing}; has {list(df.columns)}")
