"""The fallback: math-verify in a persistent, killable worker process.

:class:`MathVerifyWorker` runs :func:`_worker_main` in a plain subprocess (not a
``multiprocessing`` child, so it also works inside daemonic ``multiprocessing.Pool``
workers), one JSON request per line, with a per-comparison deadline: past it the worker is
killed (:class:`WorkerTimeout`) and the next request starts a fresh one.  The worker also
runs the official grader's symbolic step (:func:`~o1pruner.grading.official.official_sympy_equal`).
"""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
import threading
import time
import weakref
from pathlib import Path

from o1pruner.grading.extraction import _match_brace
from o1pruner.grading.fast_path import latexify
from o1pruner.grading.official import official_sympy_equal

DEFAULT_TIMEOUT = 5.0
# address-space cap for the worker: 10^{10^{10}} must die of MemoryError, not eat the box
WORKER_MEMORY_MB = 4096
WORKER_STARTUP_TIMEOUT = 120.0


def _for_math_verify(s: str) -> str:
    """Wrap an answer the way math-verify's LaTeX extraction finds it."""
    s = latexify(s.strip())
    if len(s) >= 2 and s[0] == "$" and s[-1] == "$" and "$" not in s[1:-1]:
        s = s[1:-1].strip()
    if _match_brace("{" + s + "}", 0) == len(s) + 1:
        return "\\boxed{" + s + "}"
    return "$" + s + "$"


def _worker_main() -> None:
    """Loop of the worker process: one JSON request per stdin line, one reply per line.

    Started by :class:`MathVerifyWorker`; its protocol channel is a private copy of
    the original stdout, and fd 1 is pointed at stderr so stray prints cannot
    corrupt replies.
    """
    import logging
    import resource

    reply = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    mem_mb = int(os.environ.get("O1PRUNER_GRADER_MEM_MB", "0"))
    if mem_mb > 0:
        resource.setrlimit(resource.RLIMIT_AS, (mem_mb << 20, mem_mb << 20))
    logging.disable(logging.CRITICAL)  # "timeout disabled" warnings: we time out ourselves
    from math_verify import LatexExtractionConfig, parse, verify

    config = [LatexExtractionConfig()]  # no ExprExtractionConfig: it calls sympy parse_expr
    # each distinct answer and gold is parsed once, not once per pair: 16 samples share
    # a gold, and wrong answers repeat across samples (parsing is ~2/3 of the cost)
    parsed: dict[str, list] = {}

    def parse_once(s: str) -> list:
        hit = parsed.get(s)
        if hit is None:
            if len(parsed) >= 50000:
                parsed.clear()
            hit = parsed[s] = parse(_for_math_verify(s), extraction_config=config, parsing_timeout=None)
        return hit

    try:  # warm up (lazy parser/sympy imports) before "ready": the per-comparison deadline
        # then measures the comparison, not a first-call import on a loaded machine
        verify(parse_once("\\frac{1}{2}"), parse_once("[0.5, 1)"), timeout_seconds=None)
        official_sympy_equal("x+1", "1+x")
    except Exception:
        pass
    parsed.clear()
    reply.write(b'{"ready": true}\n')
    for line in sys.stdin.buffer:
        try:
            req = json.loads(line)
            if req.get("op") == "sympy":  # the official grader's symbolic step
                ok = official_sympy_equal(req["a"], req["b"])
            else:
                gold, pred = parse_once(req["gold"]), parse_once(req["pred"])
                ok = bool(gold and pred and verify(gold, pred, timeout_seconds=None))
        except Exception:  # MemoryError, RecursionError, parser errors: not equal
            ok = False
        reply.write(b'{"ok": true}\n' if ok else b'{"ok": false}\n')


class WorkerTimeout(Exception):
    """The worker did not answer before the deadline (it has been killed)."""


class MathVerifyWorker:
    """A math-verify subprocess reused across comparisons, restarted after a timeout."""

    def __init__(self, timeout: float = DEFAULT_TIMEOUT, memory_mb: int = WORKER_MEMORY_MB,
                 startup_timeout: float = WORKER_STARTUP_TIMEOUT) -> None:
        self.timeout = float(timeout)
        self.memory_mb = int(memory_mb)
        self.startup_timeout = float(startup_timeout)
        self.starts = 0
        self._proc: subprocess.Popen | None = None
        self._ready = False
        self._buf = b""
        self._lock = threading.Lock()
        self._finalizer = weakref.finalize(self, _terminate, [None])

    def prestart(self) -> None:
        """Start the process now without waiting for it: its imports overlap other work."""
        with self._lock:
            if self._proc is None or self._proc.poll() is not None:
                self._start()

    def _command(self) -> list[str]:
        """The worker's command line.  A method so that tests can start a worker whose
        comparisons never end: a timeout then happens on any machine, however fast."""
        return [sys.executable, "-c", "from o1pruner.grading.worker import _worker_main; _worker_main()"]

    def _start(self) -> None:
        env = dict(os.environ)
        src = str(Path(__file__).resolve().parents[2])  # src/o1pruner/grading/worker.py -> src
        env["PYTHONPATH"] = src + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        env["O1PRUNER_GRADER_MEM_MB"] = str(self.memory_mb)
        env.setdefault("OMP_NUM_THREADS", "1")
        self._proc = subprocess.Popen(
            self._command(), stdin=subprocess.PIPE, stdout=subprocess.PIPE, env=env, close_fds=True,
        )
        self._buf = b""
        self._ready = False
        self._finalizer.detach()
        self._finalizer = weakref.finalize(self, _terminate, [self._proc])
        self.starts += 1

    def _ensure_ready(self) -> None:
        """Start the worker if it is not running, and wait for its "ready"."""
        if self._proc is None or self._proc.poll() is not None:
            self._start()
        if self._ready:
            return
        try:
            self._read_reply(time.monotonic() + self.startup_timeout)
            self._ready = True
        except (WorkerTimeout, EOFError) as e:
            self._kill()
            raise RuntimeError(f"math-verify worker failed to start ({type(e).__name__}); "
                               f"is math-verify installed for {sys.executable}?") from e

    def _read_reply(self, deadline: float) -> dict:
        assert self._proc is not None and self._proc.stdout is not None
        fd = self._proc.stdout.fileno()
        while b"\n" not in self._buf:
            remaining = deadline - time.monotonic()
            if remaining <= 0 or not select.select([fd], [], [], remaining)[0]:
                raise WorkerTimeout
            chunk = os.read(fd, 65536)
            if not chunk:
                raise EOFError("math-verify worker exited")
            self._buf += chunk
        line, _, self._buf = self._buf.partition(b"\n")
        return json.loads(line)

    def _kill(self) -> None:
        if self._proc is not None:
            _terminate([self._proc])
        self._proc = None

    def equal(self, pred: str, gold: str) -> bool:
        """math-verify's verdict; raises WorkerTimeout (worker killed) or EOFError (crashed)."""
        return self.ask({"pred": pred, "gold": gold})

    def sympy_equal(self, a: str, b: str) -> bool:
        """The official grader's ``simplify(a - b) == 0`` on two normalised plain-text answers."""
        return self.ask({"op": "sympy", "a": a, "b": b})

    def ask(self, payload: dict) -> bool:
        """One request's verdict, within the deadline (else WorkerTimeout, worker killed)."""
        request = json.dumps(payload).encode() + b"\n"
        with self._lock:
            self._ensure_ready()
            deadline = time.monotonic() + self.timeout
            try:
                self._proc.stdin.write(request)
                self._proc.stdin.flush()
                return bool(self._read_reply(deadline)["ok"])
            except (WorkerTimeout, EOFError, BrokenPipeError, OSError, ValueError):
                self._kill()  # next call starts a fresh worker
                raise

    def close(self) -> None:
        with self._lock:
            self._kill()


def _terminate(holder: list) -> None:
    """Kill and reap the worker in ``holder[0]`` (a list, so finalizers need no self)."""
    proc = holder[0]
    if proc is None:
        return
    if proc.poll() is None:
        proc.kill()
        proc.wait()
    for stream in (proc.stdin, proc.stdout):
        try:
            stream.close()
        except OSError:
            pass
