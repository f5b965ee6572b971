"""Grader under hostile and pathological model output: no side effects, bounded time.

    PYTHONPATH=src .venv/bin/python -m pytest tests/grading/test_grading_hostile.py -q
"""

from __future__ import annotations

import multiprocessing as mp
import threading
import time

import pytest

from o1pruner.grading import Grader, MathVerifyWorker, fast_equivalent, looks_like_code
from tests import stalling_worker
from tests.stalling_worker import STALL
from tests.timing import growth_exponent

TIMEOUT = 2.0
# a comparison that reaches its deadline costs the deadline plus killing the worker; the
# slack is for the kill on a loaded machine (no comparison runs in it)
BOUND = 3 * TIMEOUT

NESTED_FRAC = "\\frac{1}{" * 150 + "2" + "}" * 150
BIG_MATRIX = "\\begin{pmatrix}" + " \\\\ ".join(
    " & ".join(str(i * j + 1) for j in range(12)) for i in range(12)) + "\\end{pmatrix}"
HUGE_MATRIX = "\\begin{pmatrix}" + " \\\\ ".join(["1 & " * 99 + "1"] * 100) + "\\end{pmatrix}"
PATHOLOGICAL = [
    "10^{10^{10^{10}}}",
    "9!!!!!!",
    "2^{2^{2^{2^{2^{2}}}}}",
    NESTED_FRAC,
    BIG_MATRIX,
    HUGE_MATRIX,
]


def _payloads(marker: str) -> list[str]:
    cmd = f"touch {marker}"
    return [
        f"__import__('os').system('{cmd}')",
        f"(lambda: __import__('os').system('{cmd}'))()",
        "().__class__.__bases__[0].__subclasses__()",
        f"eval(\"__import__('os').system('{cmd}')\")",
        f"exec(\"open('{marker}', 'w').write('x')\")",
        f"open('{marker}', 'w').write('x')",  # no dunder, no keyword: reaches math-verify
        f"getattr(getattr(__builtins__, 'open'), '__call__')('{marker}', 'w')",
    ]


@pytest.fixture(scope="module")
def grader():
    with Grader(timeout=TIMEOUT) as g:
        assert g.equivalent(r"\frac{\sqrt3}{3}", r"\frac{1}{\sqrt{3}}")  # worker warm
        yield g


def test_payloads_graded_incorrect_without_side_effects(grader, tmp_path):
    marker = tmp_path / "pwned"
    for payload in _payloads(str(marker)):
        for response in (rf"The answer is $\boxed{{{payload}}}$.", f"The answer is {payload}",
                         f"{payload} \\boxed {payload}"):
            assert grader.grade(response, "1")[1] is False
        # as the gold answer too (gold is never code-guarded, so this reaches math-verify)
        assert grader.grade(r"\boxed{1}", payload)[1] is False
        assert grader.grade(rf"\boxed{{{payload}}}", payload)[1] is True  # identical strings
    assert grader.stats["timeouts"] == 0 and grader.stats["crashes"] == 0
    assert not marker.exists()


def test_math_verify_worker_itself_never_evaluates(tmp_path):
    # bypass the Grader's code guard: the worker's LaTeX-only parsing must be safe alone
    marker = tmp_path / "pwned"
    worker = MathVerifyWorker(timeout=10)
    try:
        for payload in _payloads(str(marker)):
            assert worker.equal(payload, "0") is False
            assert worker.equal("0", payload) is False
    finally:
        worker.close()
    assert not marker.exists()


def test_code_guard():
    assert looks_like_code("().__class__") and looks_like_code("lambda x: x")
    assert looks_like_code("eval('1')") and looks_like_code("import os")
    assert not looks_like_code(r"\lambda_1 + \lambda^2") and not looks_like_code(r"x_{1}")


@pytest.mark.parametrize("pred", PATHOLOGICAL, ids=["tower", "factorials", "power2", "nested_frac",
                                                    "matrix", "huge_matrix"])
def test_pathological_graded_incorrect_within_bound(grader, pred):
    # a worker killed by an earlier timeout restarts lazily: start it before the clock does,
    # so that the bound is on the comparison, not on the machine's import speed
    assert grader._worker.equal("1", "1")
    t0 = time.monotonic()
    assert grader.grade(rf"so \boxed{{{pred}}}", "5") == (pred, False)
    assert time.monotonic() - t0 < BOUND
    # truly identical strings are still equal, decided without any parser
    assert fast_equivalent(pred, pred) is True


def _deep_boxes(n: int) -> str:
    return "\\boxed{" * n + "5" + "}" * n


def _deep_braces(n: int) -> str:
    return "\\boxed{" + "{" * n + "5" + "}" * n + "}"


def test_deep_nesting_in_the_main_process_is_linear(grader):
    # these never reach the worker: extraction and normalisation must not recurse or go
    # quadratic on them (a RecursionError here would crash the whole grading run)
    deep_boxes, deep_braces = _deep_boxes(20000), _deep_braces(50000)
    before = dict(grader.stats)
    assert grader.grade(deep_boxes, "5")[1] is False
    assert grader.grade(deep_braces, "5")[1] is False
    assert grader.grade(deep_boxes, deep_boxes)[1] is True  # the same boxed string as gold
    assert grader.stats["fallbacks"] == before["fallbacks"]
    # linear, whatever the machine's speed: time grows with depth, not with its square
    # (a fresh Grader per run: the cache would answer repeats without any work)
    for make, n in ((_deep_boxes, 10000), (_deep_braces, 40000)):
        k = growth_exponent(make, lambda text: Grader().grade(text, "5"), n)
        assert k < 1.5, f"{make.__name__}: time ~ depth^{k:.2f}"


def test_pathological_rejected_before_any_parser(grader):
    # exponent towers, factorial chains and deep nesting never reach sympy: no fallback, no
    # timeout, no worker restart (counters prove it; a wall-clock bound holds only on fast machines)
    before, starts = dict(grader.stats), grader._worker.starts
    for pred in PATHOLOGICAL[:4] + ["3^{3^{3^{3^{3}}}}", "(10^{10})!", "10^{1000000}", "{" * 300 + "1" + "}" * 300]:
        assert grader.grade(rf"\boxed{{{pred}}}", "7")[1] is False
    assert grader.stats["rejected"] - before["rejected"] == 8
    assert grader.stats["fallbacks"] == before["fallbacks"]
    assert grader.stats["timeouts"] == before["timeouts"] and grader._worker.starts == starts
    # ordinary powers, factorials and exponentials still reach math-verify
    assert grader.equivalent("2^{10}", "1024") and grader.equivalent("e^{x^2}", "e^{x^{2}}")
    assert grader.equivalent("5!", "120")


# The deadline tests use a worker that never answers STALL (tests/stalling_worker.py): a
# comparison that is merely slow is fast on a fast CPU, and then no deadline is tested.
STALL_TIMEOUT = 1.0
STALL_BOUND = STALL_TIMEOUT + 4.0  # the deadline, plus killing the worker on a loaded machine


def test_worker_recovers_after_timeouts(monkeypatch):
    monkeypatch.setattr(MathVerifyWorker, "_command", stalling_worker.command)
    with Grader(timeout=STALL_TIMEOUT) as g:
        # every other comparison is the real worker's
        assert g.equivalent(r"\frac{\sqrt3}{3}", r"\frac{1}{\sqrt{3}}")
        starts = g._worker.starts
        assert g.grade(rf"\boxed{{{STALL}}}", "x^2") == (STALL, False)
        assert g.stats["timeouts"] == 1 and g.stats["crashes"] == 0
        assert g.equivalent(r"(0,1)\cup(-\infty,0)", r"(-\infty,0)\cup(0,1)")
        assert g._worker.starts == starts + 1  # a fresh worker took over
        assert g.stats["timeouts"] == 1


def _grade_stalled() -> tuple[bool, bool, int, float]:
    """Warm a grader on the stalling worker, then time one comparison that reaches the
    deadline: (warm verdict, stalled verdict, timeouts, seconds).  Runs in a thread or in a
    spawned child, so it patches the worker itself (a child does not inherit monkeypatch)."""
    real = MathVerifyWorker._command
    MathVerifyWorker._command = stalling_worker.command
    try:
        with Grader(timeout=STALL_TIMEOUT) as g:
            warm = g.grade(r"\boxed{\frac{\sqrt3}{3}}", r"\frac{1}{\sqrt{3}}")[1]
            t0 = time.monotonic()
            _, correct = g.grade(rf"\boxed{{{STALL}}}", "x^2")
            return warm, correct, g.stats["timeouts"], time.monotonic() - t0
    finally:
        MathVerifyWorker._command = real


def _assert_stalled_within_bound(out: tuple[bool, bool, int, float]) -> None:
    warm, correct, timeouts, elapsed = out
    assert warm is True and correct is False and timeouts == 1
    # it waited for the deadline (no early crash) and no longer than the deadline and a kill
    assert STALL_TIMEOUT <= elapsed < STALL_BOUND


def test_bounded_in_non_main_thread():
    # math-verify's own timeouts use signal.alarm, which works only in the main thread
    out: list = []
    th = threading.Thread(target=lambda: out.append(_grade_stalled()))
    th.start()
    th.join(60)
    assert not th.is_alive()
    _assert_stalled_within_bound(out[0])


def test_bounded_inside_multiprocessing_pool_worker():
    # Pool workers are daemonic and may not start multiprocessing children: the grader's
    # worker is a plain subprocess, so it works there too
    with mp.get_context("spawn").Pool(1) as pool:
        _assert_stalled_within_bound(pool.apply_async(_grade_stalled).get(timeout=90))
