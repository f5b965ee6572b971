"""Answer grading: does a response's final ``\\boxed{}`` answer equal the gold answer?

    o1pruner grade --input samples.parquet --output graded.parquet [--timeout 5]

Every pre-sampled response is graded here (the paper's 5,000 problems x 16 samples),
and the per-sample ``correct`` flags feed the reference accuracy Ā_ref(x) of the
Length-Harmonizing reward, so grading must be fast, deterministic, safe and bounded:

* :func:`extract_answer` takes the LAST box in linear time (nested braces,
  ``\\fbox``, ``\\boxed 5``); an unclosed last box is no answer.
* :func:`fast_equivalent` decides most pairs with regexes alone: normalised string
  match, then exact numeric comparison of ints, decimals, ``a/b``, ``\\frac{a}{b}``
  and ``28,800``-style numbers.  Model text is never ``eval``-ed in this process.
* Pairs the fast path cannot decide go to math-verify (LaTeX extraction only, so
  sympy's ``parse_expr``/``eval`` is never reached) in a persistent worker
  subprocess with a per-comparison deadline.  math-verify's own timeouts use
  ``signal.alarm``, which only works in a main thread; the worker runs them disabled
  and the parent kills and restarts it when the deadline passes (graded incorrect).
  The worker is a plain ``subprocess`` rather than a ``multiprocessing`` child, so a
  :class:`Grader` also works inside daemonic ``multiprocessing.Pool`` workers.

Modules (each imports only those above it; none imports this file's re-exports):

* :mod:`~o1pruner.grading.extraction`: the answer part of a response, its box, the
  last-number fallback.
* :mod:`~o1pruner.grading.fast_path`: normalisation, the regex equivalence, the code and
  pathology guards.
* :mod:`~o1pruner.grading.official`: the official O1-Pruner grader's rules and its
  symbolic step (a parser that evaluates nothing).
* :mod:`~o1pruner.grading.worker`: the math-verify worker process and its deadline.
* :mod:`~o1pruner.grading.grader`: :class:`Grader` and :func:`grade_file`.
* :mod:`~o1pruner.grading.commands`: the ``o1pruner grade`` command line.
"""

from o1pruner.grading.commands import cli_grade
from o1pruner.grading.extraction import (
    ANSWER_FALLBACKS,
    BOXES,
    SCOPES,
    answer_part,
    extract_answer,
    last_number,
)
from o1pruner.grading.fast_path import (
    as_number,
    fast_equivalent,
    looks_like_code,
    normalize_answer,
    parse_number,
    pathology,
)
from o1pruner.grading.grader import GRADERS, Grader, grade_file
from o1pruner.grading.official import official_equivalent
from o1pruner.grading.worker import MathVerifyWorker, WorkerTimeout

__all__ = [
    "ANSWER_FALLBACKS", "BOXES", "GRADERS", "SCOPES", "Grader", "MathVerifyWorker", "WorkerTimeout",
    "answer_part", "as_number", "cli_grade", "extract_answer", "fast_equivalent", "grade_file",
    "last_number", "looks_like_code", "normalize_answer", "official_equivalent", "parse_number",
    "pathology",
]
