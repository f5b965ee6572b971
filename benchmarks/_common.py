"""Helpers shared by the benchmark scripts: paths, machine load, medians, tables, JSON output.

Every benchmark prints a compact table and writes ``benchmarks/out/<name>.json`` with the
exact command, the machine (cores, load average before and after) and the raw timings, so a
figure in benchmarks/README.md can always be traced back to a run.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
SRC = REPO / "src"
SHARED_DATA = REPO.parent / "shared" / "data"

# the package is imported from the checkout, installed or not
if str(SRC) not in sys.path:
    sys.path.insert(0, str(SRC))


def child_env(**extra: str) -> dict[str, str]:
    """Environment for a benchmark subprocess: the checkout's src/ first on PYTHONPATH, offline hub."""
    env = dict(os.environ)
    env["PYTHONPATH"] = str(SRC) + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.setdefault("HF_HUB_OFFLINE", "1")
    env.setdefault("TOKENIZERS_PARALLELISM", "false")
    env.update(extra)
    return env


def load_average() -> list[float]:
    """1, 5 and 15 minute load averages (the machine is shared: a busy box slows everything)."""
    return [round(x, 2) for x in os.getloadavg()]


def machine() -> dict:
    return {"cores": os.cpu_count(), "platform": platform.platform(), "python": platform.python_version(),
            "uptime": _uptime(), "load_avg_start": load_average()}


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, timeout=5).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return ""


def peak_rss_mb() -> float:
    """This process's peak resident set size so far, in MiB (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def median(xs: list[float]) -> float | None:
    return statistics.median(xs) if xs else None


def ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def fmt(x, digits: int = 2) -> str:
    if x is None:
        return "-"
    if isinstance(x, float):
        if abs(x) >= 1000:
            return f"{x:,.0f}"
        return f"{x:.{digits}f}"
    return str(x)


def print_table(rows: list[list], header: list[str]) -> None:
    """A Markdown table (pastes into the README as is)."""
    cells = [[str(h) for h in header]] + [[fmt(c) for c in r] for r in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(header))]
    line = lambda r: "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths)) + " |"  # noqa: E731
    print(line(cells[0]))
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in cells[1:]:
        print(line(r))


def write_result(name: str, result: dict, started: float, info: dict) -> Path:
    """Write ``benchmarks/out/<name>.json`` with the command, machine info and wall time."""
    OUT_DIR.mkdir(parents=True, exist_ok=True)
    info = dict(info)
    info["load_avg_end"] = load_average()
    doc = {"benchmark": name,
           "command": " ".join([Path(sys.executable).name, *sys.argv]),
           "date": time.strftime("%Y-%m-%d %H:%M:%S"),
           "machine": info,
           "bench_wall_s": round(time.time() - started, 1),
           **result}
    path = OUT_DIR / f"{name}.json"
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(doc, indent=2, default=str) + "\n")
    os.replace(tmp, path)
    print(f"\nload average: start {info['load_avg_start']} end {info['load_avg_end']} "
          f"({info['cores']} cores); results -> {path.relative_to(REPO)}")
    return path


def run_child(argv: list[str], timeout: float | None = None, env: dict | None = None,
              cwd: Path | None = None) -> dict:
    """Run a Python child that prints one JSON object as its LAST stdout line; return it.

    stderr passes through (progress bars, logs); a failing child raises with its tail.
    """
    proc = subprocess.run([sys.executable, *argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          text=True, timeout=timeout, env=env or child_env(), cwd=cwd or REPO)
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"child {' '.join(argv[:3])} failed (exit {proc.returncode}):\n"
                           f"{proc.stderr[-3000:]}\n{proc.stdout[-1000:]}")
    try:
        return json.loads(lines[-1])
    except json.JSONDecodeError:
        raise RuntimeError(f"child {' '.join(argv[:3])} printed no JSON result:\n{proc.stdout[-2000:]}"
                           f"\n{proc.stderr[-2000:]}") from None
