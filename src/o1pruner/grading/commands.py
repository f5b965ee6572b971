"""``o1pruner grade``: the command line of the grader (the library is :mod:`o1pruner.grading`)."""

from __future__ import annotations

import argparse
import sys

from o1pruner.config import (
    schema_default as default,  # the one home of the grading defaults
)
from o1pruner.grading.extraction import ANSWER_FALLBACKS, BOXES, SCOPES
from o1pruner.grading.grader import GRADERS, Grader, grade_file
from o1pruner.hooks import add_annotate_arg, import_object


def cli_grade(argv: list[str]) -> int:
    """``o1pruner grade --input X --output Y [--timeout 5] [--box last|first] [--scope answer|whole]
    [--grader default|official] [--rel-tol 0] [--workers 1] [--answer-fallback none|last_number]``"""
    ap = argparse.ArgumentParser(prog="o1pruner grade", description="grade responses against gold answers")
    ap.add_argument("--input", required=True, help=".jsonl, .parquet, .json or .csv with responses")
    ap.add_argument("--output", required=True, help=".parquet, .jsonl, .json or .csv to write")
    ap.add_argument("--response-col", default="response")
    ap.add_argument("--gold-col", default="gold")
    ap.add_argument("--timeout", type=float, default=default("grading.timeout"),
                    help="seconds per math-verify comparison before it is graded incorrect")
    ap.add_argument("--answer-fallback", choices=ANSWER_FALLBACKS, default=default("grading.answer_fallback"),
                    help="what to grade when a response has no \\boxed{}: nothing (the paper) or its last number")
    ap.add_argument("--box", choices=BOXES, default=default("grading.box"),
                    help="which \\boxed{} is the answer: the last (default) or the first (the official code)")
    ap.add_argument("--scope", choices=SCOPES, default=default("grading.scope"),
                    help="answer: read the answer after a thinking model's last </think> (default); "
                         "whole: the full text")
    ap.add_argument("--grader", choices=GRADERS, default=default("grading.grader"),
                    help="default: fast path + math-verify; official: the official O1-Pruner grader's rules")
    ap.add_argument("--rel-tol", type=float, default=default("grading.rel_tol"),
                    help="relative tolerance between plain numbers when one is a decimal (default 0: exact)")
    ap.add_argument("--workers", type=int, default=default("grading.workers"), help="math-verify worker processes (default 1)")
    add_annotate_arg(ap)
    args = ap.parse_args(argv)
    annotate = import_object(args.annotate) if args.annotate else None
    try:
        grader = Grader(timeout=args.timeout, answer_fallback=args.answer_fallback, box=args.box,
                        scope=args.scope, grader=args.grader, rel_tol=args.rel_tol, workers=args.workers)
    except ValueError as e:
        ap.error(str(e))
    try:
        with grader:
            s = grade_file(args.input, args.output, args.response_col, args.gold_col, grader=grader,
                           annotate=annotate)
    except (ValueError, OSError) as e:  # SchemaError is a ValueError; both name the file
        print(f"o1pruner grade: error: {e}", file=sys.stderr)
        return 1
    print(f"graded {s['rows']} rows: accuracy {s['accuracy']:.4f} ({s['correct']}/{s['rows']}), "
          f"cache hits {s['cache_hits']}, fallbacks {s['fallbacks']}, timeouts {s['timeouts']}, "
          f"crashes {s['crashes']} -> {s['output']}")
    return 0
