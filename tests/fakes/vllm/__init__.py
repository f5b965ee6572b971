"""A fake ``vllm`` for tests: what o1pruner hands vLLM, recorded, with vLLM's own rules that matter
here, and without a model run.

Recorded (``ENGINES``, one dict per ``LLM``): the ``LLM`` keyword arguments; the environment
vLLM reads when it starts its engine (start method, NVML check, in-process engine); the start
method vLLM 0.32 would pick; each ``generate`` call's prompts (token ids) and ``SamplingParams``.

Reproduced from vLLM 0.32: the engine core starts by ``VLLM_WORKER_MULTIPROC_METHOD`` (default
fork) unless CUDA is initialised (vllm/utils/system_utils.py, ``_maybe_force_spawn``); a forked
engine after a CUDA driver call dies (tests/fakes/fake_cuda.py records such calls); a prompt *string*
is encoded with ``add_special_tokens=True`` (vLLM's default), a ``TokensPrompt`` is taken as is.

Generation is fake: every sample is the tokens of " The answer is 7." then EOS.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

ENGINES: list[dict] = []
ENV_KEYS = ("VLLM_WORKER_MULTIPROC_METHOD", "PYTORCH_NVML_BASED_CUDA_CHECK",
            "VLLM_ENABLE_V1_MULTIPROCESSING", "CUDA_VISIBLE_DEVICES")
FAKE_TEXT = " The answer is 7."


def _start_method() -> str:
    """vLLM's choice: spawn when asked or when CUDA is initialised; fork otherwise."""
    import torch

    if os.environ.get("VLLM_WORKER_MULTIPROC_METHOD") == "spawn" or torch.cuda.is_initialized():
        return "spawn"
    return os.environ.get("VLLM_WORKER_MULTIPROC_METHOD", "fork")


@dataclass
class SamplingParams:
    n: int = 1
    temperature: float = 1.0
    top_p: float = 1.0
    top_k: int = 0
    max_tokens: int | None = 16
    seed: int | None = None


@dataclass
class CompletionOutput:
    index: int
    text: str
    token_ids: list[int]
    finish_reason: str


@dataclass
class RequestOutput:
    prompt_token_ids: list[int]
    outputs: list[CompletionOutput] = field(default_factory=list)


class LLM:
    def __init__(self, model: str, **kwargs):
        import fake_cuda
        from transformers import AutoTokenizer

        in_process = os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING") == "0"
        method = None if in_process else _start_method()
        self.record = {"model": model, "kwargs": kwargs, "start_method": method,
                       "env": {k: os.environ.get(k) for k in ENV_KEYS}, "generate": []}
        ENGINES.append(self.record)
        if method == "fork" and fake_cuda.driver_touched():
            raise RuntimeError("Cannot re-initialize CUDA in forked subprocess. To use CUDA with "
                               "multiprocessing, you must use the 'spawn' start method")
        self.tok = AutoTokenizer.from_pretrained(model)

    def get_tokenizer(self):
        return self.tok

    def _prompt_ids(self, prompt) -> list[int]:
        if isinstance(prompt, str):  # what vLLM does with a string: add_special_tokens=True
            return list(self.tok(prompt)["input_ids"])
        return list(prompt["prompt_token_ids"])

    def generate(self, prompts, sampling_params, use_tqdm=True):
        prompts = [prompts] if isinstance(prompts, (str, dict)) else list(prompts)
        params = sampling_params if isinstance(sampling_params, list) else [sampling_params] * len(prompts)
        if len(params) != len(prompts):
            raise ValueError(f"{len(params)} SamplingParams for {len(prompts)} prompts")
        ids = [self._prompt_ids(p) for p in prompts]
        self.record["generate"].append({"prompt_token_ids": ids, "params": params})
        answer = list(self.tok(FAKE_TEXT, add_special_tokens=False)["input_ids"]) + [self.tok.eos_token_id]
        return [RequestOutput(p, [CompletionOutput(j, FAKE_TEXT, answer, "stop") for j in range(sp.n)])
                for p, sp in zip(ids, params)]
