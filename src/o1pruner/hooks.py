"""Code named by a ``"module:name"`` string, imported only when a stage runs: how the workflow hooks
one package's code into a generic stage without the stage importing it (the toy's anatomy into
grading and evaluation, a method's dataset builder or trainer into training).

    o1pruner grade --input samples.parquet --output graded.parquet --annotate o1pruner.toy.anatomy:add_anatomy
"""

from __future__ import annotations

import argparse
import importlib
from typing import Any


def import_object(spec: str) -> Any:
    """``"module:name"`` -> the object (the error names the spec)."""
    module, sep, name = spec.partition(":")
    if not sep or not module or not name:
        raise ValueError(f"{spec!r}: expected 'module:name'")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"{spec!r}: {e}") from None


def add_annotate_arg(ap: argparse.ArgumentParser) -> None:
    ap.add_argument("--annotate", default=None, metavar="MODULE:FUNCTION",
                    help="a function (graded DataFrame -> DataFrame) that adds columns to the graded rows, "
                         "e.g. o1pruner.toy.anatomy:add_anatomy (the toy's n_checks / n_corrections / n_errors)")
