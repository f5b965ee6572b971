"""Pre-flight feasibility check: will every GPU job of this config start, and fit its GPUs?

    o1pruner check-plan --config config/paper.yaml
    o1pruner check-plan --config config/paper.yaml --config my-cluster.yaml   # layered, later wins

The same check runs when the Snakefile is read by the snakemake process that submits the run
(``workflow/rules/common.smk``), right after the config is validated, so an infeasible plan stops
before any job is queued: a vLLM job whose tensor-parallel size does not divide the model's heads
otherwise waits hours in the SLURM queue and then crashes at engine start. It never runs in the
parse inside a job (snakemake's exec mode remote/subprocess): the gate is at submission, and a job
must not stop a run the submission accepted.

For every model whose ``config.json`` is reachable (an HF folder; a hub id in the local hub
cache, ``huggingface_hub.try_to_load_from_cache``; the folder the workflow built for ``toy`` and
``gguf`` models once it exists) and every GPU stage of ``models.<m>.resources.{sample,train,
evaluate}`` with ``gpu >= 1``:

Tensor parallelism (vLLM 0.32, the version in envs/vllm.yaml; TP = the job's ``gpu``):
  ``ModelConfig.verify_with_parallel_config``: num_attention_heads % TP == 0;
  ``QKVParallelLinear``: TP < num_key_value_heads needs num_key_value_heads % TP == 0, and
  TP >= num_key_value_heads replicates each KV head, which needs TP % num_key_value_heads == 0;
  ``MergedColumnParallelLinear``: intermediate_size % TP == 0.
  (Qwen2-7B / Marco-o1: 28 heads, 4 KV heads, 18944 -> TP in {1, 2, 4}; 7 divides the heads but
  not the 4 KV heads, 8 divides neither the 28 heads.)

Memory (GiB = 2**30 bytes; b = bytes per weight element, 2 for bf16/fp16 and ``auto`` on GPU):
  P = parameters from config.json (embeddings, lm_head unless tied, per layer q/k/v(+bias)/o,
  gate/up/down, two norms).

  Sampling / evaluation with vLLM, per GPU, against ``0.92 x GPU memory`` (vLLM's default
  ``gpu_memory_utilization``):
      weights    = b * P / TP
      KV / token = 2 (K and V) * layers * max(1, kv_heads / TP) * head_dim * b
      KV / seq   = KV / token * max_model_len       (``models.<m>.max_model_len``, else
                                                     config.json's max_position_embeddings)
      overhead   = ``plan.runtime_overhead_gib`` (CUDA context, NCCL, vLLM's profiling
                   activations and CUDA graphs; 2 GiB by default)
  Error when weights + overhead + one KV / seq do not fit (vLLM refuses to start when the KV cache
  cannot hold one max_model_len sequence). Concurrency assumed: sampling runs the K samples of
  one problem together (``models.<m>.k`` or ``sampling.k`` sequences: fewer fitting is a
  warning, vLLM then preempts), evaluation is greedy (1 sequence). The message gives how many
  max_model_len sequences fit. With ``backend: transformers`` there is no tensor parallelism:
  the whole model sits on one GPU (TP = 1).

  Training (``o1pruner train``, per GPU of N = the job's ``gpu``; effective settings from
  ``o1pruner.training.settings.effective_training_config`` per method), against the whole GPU memory:
      T = trainable parameters: full -> P; freeze -> freeze_trainable_layers x per-layer
          parameters; lora -> r x (in + out) for each target module of every layer
      F = P - T frozen parameters (bf16 only: no gradient, no optimizer state)
      s = bytes per trainable parameter: AdamW 18 (DeepSpeed's own ZeRO-3 estimate,
          ``estimate_zero3_model_states_mem_needs``: bf16 weight 2 + bf16 gradient 2 + fp32
          master 4 + Adam m and v 8 + 2 buffers); Adam-mini (``training.optimizer: adam_mini``)
          keeps one second moment per block instead of one per parameter: 18 - 4 = 14
      ZeRO-3 (``training.deepspeed`` set): model states = (s T + 2 F) / N
                                             + 4 x largest layer (gathered weights in flight)
      no DeepSpeed (as train.py does): trainable weights upcast to fp32, replicated on every GPU:
          (16 T + 2 F), Adam-mini (12 T + 2 F)
      activations, gradient checkpointing on (train.py turns it on for GPU runs), per GPU:
          tokens = per_device_batch_size x cutoff_len x (2 for DPO: chosen and rejected)
          checkpoints = tokens x hidden x layers x 2           (one bf16 layer input per layer)
          recompute   = tokens x (6 hidden + 2 kv_dim + 4 intermediate) x 2   (one layer's saved
                        tensors in bf16 during its backward: norms, q, k, v, attention output,
                        gate, up, act, act*up; flash/SDPA attention stores no score matrix)
          lm head     = what the per-token log-probs cost, for every method the same way, because
                        each runs TRL 1.16's fused LM head (``trl.trainer.utils.add_fused_lm_head``:
                        SFTTrainer and DPOTrainer add it in __init__, LHTrainer too), which never
                        builds the [tokens, vocab] logits. Its kernel
                        (``trl/kernels/chunked_logprob.py``) projects tiles of 4096 tokens x 32768
                        vocabulary entries and accumulates its gradients in fp32:
                          tile (fp32, and one fp32 temporary where Triton is missing) 2 x 4096 x 32768 x 4
                          + hidden-state gradient tokens x hidden x 4
                          + head-weight gradient vocab x hidden x 4, when the head trains (mode full)
      on-policy (GRPO, ``lh_onpolicy``: the trainer's ``generates``; per_device_batch_size counts
      completions, each of at most cutoff_len tokens, so the terms above hold) adds:
          reference   = π_ref when beta > 0 (not with LoRA): bf16 weights 2 P, / N under ZeRO-3
          generation  = vLLM colocated (generation: auto on CUDA): vllm_gpu_memory_utilization x the
                        GPU's memory, the engine's whole share; within it its weights (b P), the runtime
                        overhead and one cutoff_len-token KV sequence must fit (error: raise the share),
                        and fewer concurrent sequences than per_device_batch_size x
                        gradient_accumulation_steps (the generation batch) is a warning;
                        transformers (generation: transformers): the bf16 KV cache of that batch,
                        batch x cutoff_len x 2 x layers x kv_heads x head_dim x 2
  Error above the GPU's memory, warning above 90 % of it. Only the methods the config trains are
  checked (``evaluation.methods``, and the paper's method for its λ grid and difficulty bands).

GPU memory per ``gpu_model`` (case and punctuation ignored): :data:`GPU_MEMORY_GIB`, extended or
overridden by ``plan.gpu_memory_gib: {<gpu_model>: GiB}``.

Issue 14 (long outputs): ``sampling.max_tokens`` and ``evaluation.max_tokens`` must be below the
model's max_model_len (a prompt needs room too), and with vLLM ``max_model_len`` may not exceed the
model's positions (max_position_embeddings x RoPE factor; vLLM raises unless
VLLM_ALLOW_LONG_MAX_MODEL_LEN=1); a training ``cutoff_len`` below
``sampling.max_tokens`` is a warning: longer pre-samples are cut or dropped (``training.overlong``).

Advice: a model whose weights take at most half of one GPU's usable memory runs faster as one engine per GPU
(data parallelism: more shards / more evaluation jobs of ``gpu: 1``) than as TP shards.

``plan.on_error: warn`` reports errors without stopping (for an estimate you know is too strict).
"""

from __future__ import annotations

import json
import math
import os
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from o1pruner.methods import registry
from o1pruner.training.settings import effective_training_config, method_config
from o1pruner.training.train import trainer_of

GIB = 2**30

# vLLM 0.32's CacheConfig.gpu_memory_utilization default: the share of GPU memory vLLM takes
VLLM_GPU_MEMORY_UTILIZATION = 0.92

# device memory as CUDA reports it (total_memory), GiB; keys normalised by _gpu_key
GPU_MEMORY_GIB: dict[str, float] = {
    "a800": 80.0, "a80080g": 80.0, "a80080gb": 80.0,
    "a100": 80.0, "a10080g": 80.0, "a10080gb": 80.0,
    "a10040g": 40.0, "a10040gb": 40.0,
    "h100": 80.0, "h10080g": 80.0, "h10080gb": 80.0,
    "h800": 80.0, "h80080g": 80.0,
    "h200": 141.0, "h200141g": 141.0,
}

TRAIN_STATE_BYTES = {"adamw": 18, "adam_mini": 14}          # ZeRO-3 (DeepSpeed's estimate)
TRAIN_STATE_BYTES_NO_DS = {"adamw": 16, "adam_mini": 12}    # fp32 trainable weights, replicated
INFERENCE_STAGES = ("sample", "evaluate")
TP_CANDIDATES_UP_TO = 8                                      # one node
TRAIN_PARTS = ("model_states", "checkpoints", "recompute", "lm_head")  # training_memory's sum, every trainer
ONPOLICY_PARTS = ("reference", "generation")                          # and an on-policy (GRPO) trainer's


class PlanError(RuntimeError):
    """The plan cannot run as configured; the message lists every infeasible job and its fix."""


@dataclass(frozen=True)
class Finding:
    level: str      # error | warning | advice
    model: str
    stage: str      # sample | train | evaluate | config
    message: str

    def __str__(self) -> str:
        return f"{self.level}: models.{self.model} {self.stage}: {self.message}"


# ---- the model's shape --------------------------------------------------------------------

@dataclass(frozen=True)
class Arch:
    """What memory and tensor parallelism depend on, from an HF ``config.json``."""

    source: str
    layers: int
    hidden: int
    heads: int
    kv_heads: int
    head_dim: int
    intermediate: int
    vocab: int
    tied: bool
    qkv_bias: bool
    max_positions: int | None
    context_len: int | None = None   # the longest max_model_len vLLM accepts (derived_max_len)

    @classmethod
    def from_config(cls, cfg: dict, source: str) -> "Arch":
        cfg = cfg.get("text_config", cfg)  # multimodal wrappers keep the LM under text_config
        heads = int(cfg["num_attention_heads"])
        hidden = int(cfg["hidden_size"])
        return cls(source=source, layers=int(cfg["num_hidden_layers"]), hidden=hidden, heads=heads,
                   kv_heads=int(cfg.get("num_key_value_heads") or heads),
                   head_dim=int(cfg.get("head_dim") or hidden // heads),
                   intermediate=int(cfg["intermediate_size"]), vocab=int(cfg["vocab_size"]),
                   tied=bool(cfg.get("tie_word_embeddings", False)),
                   # Qwen2 has q/k/v biases without saying so in config.json; Llama says attention_bias
                   qkv_bias=bool(cfg.get("attention_bias", cfg.get("model_type") == "qwen2")),
                   max_positions=cfg.get("max_position_embeddings"), context_len=derived_max_len(cfg))

    @property
    def kv_dim(self) -> int:
        return self.kv_heads * self.head_dim

    def module_shapes(self) -> dict[str, tuple[int, int]]:
        """(in, out) of each linear of one decoder layer (what LoRA targets)."""
        q = self.heads * self.head_dim
        return {"q_proj": (self.hidden, q), "k_proj": (self.hidden, self.kv_dim),
                "v_proj": (self.hidden, self.kv_dim), "o_proj": (q, self.hidden),
                "gate_proj": (self.hidden, self.intermediate),
                "up_proj": (self.hidden, self.intermediate),
                "down_proj": (self.intermediate, self.hidden)}

    def layer_params(self) -> int:
        linear = sum(i * o for i, o in self.module_shapes().values())
        bias = self.heads * self.head_dim + 2 * self.kv_dim if self.qkv_bias else 0
        return linear + bias + 2 * self.hidden  # + input and post-attention RMSNorm

    def embedding_params(self) -> int:
        return self.vocab * self.hidden

    def params(self) -> int:
        head = 0 if self.tied else self.embedding_params()
        return self.embedding_params() + head + self.layers * self.layer_params() + self.hidden

    def largest_layer_params(self) -> int:
        """Largest single module (DeepSpeed gathers one at a time): the embedding, mostly."""
        return max(self.embedding_params(), max(i * o for i, o in self.module_shapes().values()))


# RoPE types whose max_position_embeddings is already the scaled length (vLLM 0.32,
# config/model.py _get_and_verify_max_len); for the others vLLM multiplies by the factor
_ROPE_PRESCALED = {"su", "longrope", "llama3", "yarn", "deepseek_yarn", "deepseek_llama_scaling"}


def derived_max_len(cfg: dict) -> int | None:
    """vLLM's upper bound on a user max_model_len: max_position_embeddings x RoPE factor, or the
    config's model_max_length when that is larger."""
    base = cfg.get("max_position_embeddings")
    if base is None:
        return None
    rope = cfg.get("rope_scaling") or cfg.get("rope_parameters") or {}
    kind = rope.get("rope_type", rope.get("type", "default")) if isinstance(rope, dict) else "default"
    factor = float(rope.get("factor") or 1.0) if isinstance(rope, dict) and kind not in _ROPE_PRESCALED else 1.0
    return int(max(base * factor, cfg.get("model_max_length") or 0))


def valid_tp(arch: Arch, tp: int) -> list[str]:
    """Why vLLM 0.32 rejects tensor_parallel_size ``tp`` for this model (empty: accepted)."""
    why = []
    if arch.heads % tp:
        why.append(f"{arch.heads} attention heads")
    if tp < arch.kv_heads and arch.kv_heads % tp:
        why.append(f"{arch.kv_heads} KV heads")
    if tp >= arch.kv_heads and tp % arch.kv_heads:
        why.append(f"{arch.kv_heads} KV heads (replicated only when TP is a multiple of them)")
    if arch.intermediate % tp:
        why.append(f"intermediate size {arch.intermediate}")
    return why


def tp_choices(arch: Arch, up_to: int = TP_CANDIDATES_UP_TO) -> list[int]:
    return [t for t in range(1, up_to + 1) if not valid_tp(arch, t)]


# ---- finding config.json ------------------------------------------------------------------

def _read_json(path: Path) -> dict:
    return json.loads(Path(path).read_text())


def locate_model_config(name: str, m: dict, results: str, root: Path) -> tuple[Path | None, str]:
    """(config.json path or None, why not) for ``models.<name>``."""
    if m["source"] in ("toy", "gguf"):
        built = root / results / name / "model" / "config.json"
        if built.is_file():
            return built, ""
        return None, (f"built by the workflow ({m['source']}); {built} does not exist yet, "
                      "so its shape is checked once built")
    path = Path(m["path"]).expanduser()
    path = path if path.is_absolute() else root / path
    if path.is_dir():
        if (path / "config.json").is_file():
            return path / "config.json", ""
        return None, f"{path} has no config.json"
    try:
        from huggingface_hub import try_to_load_from_cache
    except ImportError:
        return None, "huggingface_hub is not installed to look up the hub cache"
    try:
        hit = try_to_load_from_cache(m["path"], "config.json")
    except Exception as e:  # a path that is not a valid repo id
        return None, f"{m['path']!r} is neither a folder nor a hub id in the cache ({e})"
    if isinstance(hit, str) and Path(hit).is_file():
        return Path(hit), ""
    return None, (f"config.json of {m['path']} is not in the local hub cache; tensor-parallel and "
                  f"memory checks skipped (fetch it: huggingface-cli download {m['path']} config.json)")


# ---- the checks ---------------------------------------------------------------------------

def gpu_memory_gib(gpu_model: str | None, cfg: dict) -> float | None:
    if not gpu_model:
        return None
    overrides = {_gpu_key(k): float(v) for k, v in cfg.get("plan", {}).get("gpu_memory_gib", {}).items()}
    return {**GPU_MEMORY_GIB, **overrides}.get(_gpu_key(gpu_model))


def _gpu_key(name: str) -> str:
    return "".join(ch for ch in str(name).lower() if ch.isalnum())


def _dtype_bytes(dtype: str) -> int:
    return 4 if dtype == "float32" else 2  # auto -> bf16 on GPU (generation.py, train.py)


def max_model_len(m: dict, arch: Arch | None) -> int | None:
    return m.get("max_model_len") or (arch.max_positions if arch else None)


def inference_memory(arch: Arch, tp: int, model_len: int, dtype_bytes: int, overhead_gib: float) -> dict:
    """GiB per GPU of one vLLM engine with tensor parallelism ``tp`` (formula: module docstring)."""
    kv_token = 2 * arch.layers * max(1, arch.kv_heads // tp) * arch.head_dim * dtype_bytes
    return {"weights": dtype_bytes * arch.params() / tp / GIB,
            "kv_per_seq": kv_token * model_len / GIB,
            "overhead": overhead_gib}


def trainable_params(arch: Arch, tcfg: dict) -> int:
    mode = tcfg["mode"]
    if mode == "full":
        return arch.params()
    if mode == "freeze":
        return int(tcfg["freeze_trainable_layers"]) * arch.layer_params()
    shapes = arch.module_shapes()
    r = int(tcfg["lora"]["r"])
    return arch.layers * sum(r * (i + o) for name, (i, o) in shapes.items()
                             if name in tcfg["lora"]["target_modules"])


def training_memory(arch: Arch, tcfg: dict, n_gpus: int, method: str, mcfg: dict | None = None,
                    gpu_gib: float | None = None) -> dict:
    """GiB per GPU of one training job (formula: module docstring). An on-policy trainer (GRPO) adds
    ``reference`` and ``generation`` (:func:`onpolicy_memory`; ``mcfg``: its method config,
    ``gpu_gib``: the GPU's memory, of which a colocated vLLM engine takes its share)."""
    optimizer = tcfg.get("optimizer", "adamw")
    trainable = trainable_params(arch, tcfg)
    frozen = arch.params() - trainable
    if tcfg.get("deepspeed"):
        states = (TRAIN_STATE_BYTES[optimizer] * trainable + 2 * frozen) / n_gpus
        states += 4 * arch.largest_layer_params()
    else:
        states = TRAIN_STATE_BYTES_NO_DS[optimizer] * trainable + 2 * frozen
    tokens = int(tcfg["per_device_batch_size"]) * int(tcfg["cutoff_len"]) * trainer_of(method).sequences
    parts = {"model_states": states / GIB,
             "checkpoints": tokens * arch.hidden * arch.layers * 2 / GIB,
             "recompute": tokens * (6 * arch.hidden + 2 * arch.kv_dim + 4 * arch.intermediate) * 2 / GIB,
             "lm_head": fused_lm_head_bytes(arch, tokens, head_trains=tcfg["mode"] == "full") / GIB,
             "trainable": trainable}
    if trainer_of(method).generates:
        parts.update(onpolicy_memory(arch, tcfg, mcfg or {}, n_gpus, gpu_gib))
    return parts


def onpolicy_memory(arch: Arch, tcfg: dict, mcfg: dict, n_gpus: int, gpu_gib: float | None) -> dict:
    """GiB per GPU an on-policy (GRPO) job adds to the training states (formula: module docstring).

    ``reference``: π_ref for the KL term (``beta > 0``), in bf16 (o1pruner.training.grpo loads it so),
    sharded by ZeRO-3; none with LoRA (TRL disables the adapter instead). ``generation``: with vLLM
    colocated (``generation: auto`` on CUDA), the engine's whole share, vllm_gpu_memory_utilization x
    the GPU (weights, KV cache and activations live inside it); with transformers, the bf16 KV cache
    of the generation batch (per_device_batch_size x gradient_accumulation_steps sequences of up to
    cutoff_len tokens).
    """
    zero3 = bool(tcfg.get("deepspeed"))
    beta = float(mcfg.get("beta", 0))
    reference = 2 * arch.params() / (n_gpus if zero3 else 1) if beta > 0 and tcfg["mode"] != "lora" else 0
    if mcfg.get("generation", "auto") == "auto":
        generation = float(mcfg.get("vllm_gpu_memory_utilization", 0.3)) * (gpu_gib or 0.0)
    else:
        sequences = int(tcfg["per_device_batch_size"]) * int(tcfg["gradient_accumulation_steps"])
        kv_token = 2 * arch.layers * arch.kv_heads * arch.head_dim * 2
        generation = sequences * int(tcfg["cutoff_len"]) * kv_token / GIB
    return {"reference": reference / GIB, "generation": generation}


def check_colocated_engine(name: str, method: str, arch: Arch, tcfg: dict, mcfg: dict, mem: float,
                           overhead: float) -> list[Finding]:
    """The colocated vLLM engine of an on-policy job within its share of the GPU: its weights, runtime
    overhead and one cutoff_len-token sequence must fit (vLLM refuses to start otherwise); fewer
    concurrent sequences than the generation batch is a warning (vLLM then preempts)."""
    if mcfg.get("generation", "auto") != "auto":
        return []
    share = float(mcfg["vllm_gpu_memory_utilization"])
    parts = inference_memory(arch, 1, int(tcfg["cutoff_len"]), 2, overhead)
    free = share * mem - parts["weights"] - parts["overhead"]
    fits = int(free // parts["kv_per_seq"]) if free > 0 else 0
    detail = (f"{_fmt(parts, ('weights', 'overhead'))} GiB + {parts['kv_per_seq']:.2f} GiB KV per "
              f"{tcfg['cutoff_len']}-token sequence in its {share * mem:.1f} GiB ({share:g} x {mem:g} GiB)")
    if fits < 1:
        need = (parts["weights"] + parts["overhead"] + parts["kv_per_seq"]) / mem
        return [Finding("error", name, "train",
                        f"{method}: the colocated vLLM engine does not fit its share: {detail}. Raise "
                        f"methods.{method}.vllm_gpu_memory_utilization to at least {math.ceil(need * 100) / 100:.2f}, "
                        "or lower cutoff_len")]
    batch = int(tcfg["per_device_batch_size"]) * int(tcfg["gradient_accumulation_steps"])
    if fits < batch:
        return [Finding("warning", name, "train",
                        f"{method}: the colocated vLLM engine holds {fits} concurrent sequences ({detail}), "
                        f"fewer than the {batch} of a generation batch (vLLM preempts)")]
    return []


# TRL 1.16's fused LM head: tokens per tile (trl/kernels/chunked_logprob.py TOKEN_CHUNK_SIZE) and
# vocabulary entries per tile (trl/trainer/utils.py _CHUNKED_LOGPROB_CHUNK_SIZE)
FUSED_HEAD_TILE = (4096, 32768)


def fused_lm_head_bytes(arch: Arch, tokens: int, head_trains: bool) -> int:
    """Peak extra bytes of the per-token log-probs through TRL's fused LM head, forward + backward
    (formula: module docstring). No [tokens, vocab] tensor exists, so the vocabulary enters only
    through the head's own weight gradient."""
    tile_tokens, tile_vocab = FUSED_HEAD_TILE
    tile = 2 * min(tokens, tile_tokens) * min(arch.vocab, tile_vocab) * 4
    grad_weight = arch.vocab * arch.hidden * 4 if head_trains else 0
    return tile + tokens * arch.hidden * 4 + grad_weight


def _fmt(parts: dict, keys: tuple[str, ...]) -> str:
    return " + ".join(f"{k.replace('_', ' ')} {parts[k]:.1f}" for k in keys)


def _label(name: str, m: dict) -> str:
    """models.<name> and, for hub models, the hub id (what a user recognises in a message)."""
    return f"{name} ({m['path']})" if m["source"] == "hf" else name


def _resources(m: dict, stage: str) -> dict:
    return (m.get("resources") or {}).get(stage) or {}


def check_inference(name: str, m: dict, arch: Arch, cfg: dict, stage: str) -> list[Finding]:
    res = _resources(m, stage)
    gpus = int(res.get("gpu", 0))
    if gpus < 1:
        return []
    backend = cfg["sampling" if stage == "sample" else "evaluation"].get("backend", "vllm")
    out = []
    tp = gpus if backend == "vllm" else 1
    if backend == "vllm":
        why = valid_tp(arch, tp)
        if why:
            ok = ", ".join(map(str, tp_choices(arch, max(TP_CANDIDATES_UP_TO, gpus))))
            out.append(Finding("error", name, stage,
                               f"{gpus} GPUs (vLLM tensor_parallel_size {gpus}) do not divide the "
                               f"{' and '.join(why)} of {_label(name, m)}; vLLM stops at engine start. Set "
                               f"models.{name}.resources.{stage}.gpu to one of {ok}"))
            return out
    mem = gpu_memory_gib(res.get("gpu_model"), cfg)
    model_len = max_model_len(m, arch)
    if mem is None or model_len is None:
        if mem is None:
            out.append(Finding("warning", name, stage,
                               f"gpu_model {res.get('gpu_model')!r} has no known memory; memory not "
                               "checked (set plan.gpu_memory_gib.<gpu_model>: GiB)"))
        return out
    overhead = float(cfg.get("plan", {}).get("runtime_overhead_gib", 2.0))
    parts = inference_memory(arch, tp, model_len, _dtype_bytes(m.get("dtype", "auto")), overhead)
    usable = VLLM_GPU_MEMORY_UTILIZATION * mem
    free = usable - parts["weights"] - parts["overhead"]
    fits = int(free // parts["kv_per_seq"]) if free > 0 else 0
    want = int(m.get("k", cfg["sampling"]["k"])) if stage == "sample" else 1
    detail = (f"per GPU {_fmt(parts, ('weights', 'overhead'))} GiB + {parts['kv_per_seq']:.2f} GiB "
              f"KV per {model_len}-token sequence, of {usable:.1f} GiB usable "
              f"({VLLM_GPU_MEMORY_UTILIZATION:g} x {mem:g} GiB {res.get('gpu_model')}, TP {tp})")
    if fits < 1:
        more = [t for t in tp_choices(arch, TP_CANDIDATES_UP_TO) if t > tp]
        fix = (f"use more GPUs (gpu: {', '.join(map(str, more))})" if more and backend == "vllm"
               else "use a larger GPU")
        out.append(Finding("error", name, stage,
                           f"does not fit: {detail}; not even one sequence fits. Lower "
                           f"models.{name}.max_model_len or {fix}"))
        return out
    if fits < want:
        out.append(Finding("warning", name, stage,
                           f"only {fits} concurrent {model_len}-token sequences fit ({detail}); the "
                           f"{want} samples of a problem cannot run together (vLLM preempts): more "
                           "GPUs or a shorter max_model_len"))
    if gpus > 1 and backend == "vllm":
        one = inference_memory(arch, 1, model_len, _dtype_bytes(m.get("dtype", "auto")), overhead)
        fits_one = int((usable - one["weights"] - overhead) // one["kv_per_seq"])
        # "fits one GPU" = the weights leave at least half of it to the KV cache (batching room)
        if fits_one >= want and one["weights"] <= usable / 2:
            how = "more sampling.shards" if stage == "sample" else "evaluation jobs side by side"
            out.append(Finding("advice", name, stage,
                               f"fits one GPU ({one['weights']:.1f} GiB weights, {fits_one} concurrent "
                               f"{model_len}-token sequences): data parallelism (gpu: 1, {how}, one "
                               f"engine per GPU) is faster than {gpus}-way tensor parallelism"))
    return out


def _trained_methods(cfg: dict) -> list[str]:
    """The methods whose runs the DAG trains: Table 2's (``evaluation.methods``), and the paper's
    method for Table 3's λ grid and Figure 4's difficulty bands. A registered method the config
    does not run is not checked."""
    blocks = cfg.get("methods") or {}
    wanted = set((cfg.get("evaluation") or {}).get("methods")
                 or [m.name for m in registry.METHODS.values() if m.paper])
    paper = registry.PAPER_METHOD
    if (blocks.get(paper) or {}).get(f"{registry.method(paper).run_param}_grid") or cfg.get("difficulty_splits"):
        wanted.add(paper)
    return [meth for meth in registry.trained() if meth in blocks and meth in wanted]


def check_training(name: str, m: dict, arch: Arch, cfg: dict) -> list[Finding]:
    res = _resources(m, "train")
    gpus = int(res.get("gpu", 0))
    methods = _trained_methods(cfg)
    if gpus < 1 or not methods:
        return []

    mem = gpu_memory_gib(res.get("gpu_model"), cfg)
    out = []
    if mem is None:
        return [Finding("warning", name, "train", f"gpu_model {res.get('gpu_model')!r} has no known "
                        "memory; memory not checked (set plan.gpu_memory_gib.<gpu_model>: GiB)")]
    overhead = float(cfg.get("plan", {}).get("runtime_overhead_gib", 2.0))
    for method in methods:
        tcfg = effective_training_config(cfg, name, method)
        if tcfg["mode"] == "freeze" and int(tcfg["freeze_trainable_layers"]) > arch.layers:
            out.append(Finding("error", name, "train",
                               f"{method}: freeze_trainable_layers {tcfg['freeze_trainable_layers']} but "
                               f"{name} has {arch.layers} decoder layers"))
            continue
        mcfg = method_config(cfg, method)
        parts = training_memory(arch, tcfg, gpus, method, mcfg, mem)
        keys = TRAIN_PARTS + (ONPOLICY_PARTS if trainer_of(method).generates else ())
        if trainer_of(method).generates:
            out += check_colocated_engine(name, method, arch, tcfg, mcfg, mem, overhead)
        total = sum(parts[k] for k in keys)
        zero = f"ZeRO-3 over {gpus} GPUs" if tcfg.get("deepspeed") else f"no DeepSpeed, replicated on {gpus}"
        detail = (f"{method} ({tcfg['mode']}, {parts['trainable'] / 1e9:.2f}B of {arch.params() / 1e9:.2f}B "
                  f"parameters trainable, {tcfg.get('optimizer', 'adamw')}, {zero}, cutoff_len "
                  f"{tcfg['cutoff_len']}, per_device_batch_size {tcfg['per_device_batch_size']}): "
                  f"{_fmt(parts, keys)} = {total:.1f} GiB "
                  f"per GPU of {mem:g} GiB {res.get('gpu_model')}")
        if total > mem:
            fix = ("more GPUs for ZeRO-3" if tcfg.get("deepspeed")
                   else "training.deepspeed: config/deepspeed/zero3.json")
            if trainer_of(method).generates:
                fix += f", a smaller methods.{method}.vllm_gpu_memory_utilization or beta 0"
            out.append(Finding("error", name, "train", f"does not fit: {detail}. Use {fix}, a shorter "
                               "cutoff_len, per_device_batch_size 1, freeze or lora mode"))
        elif total > 0.9 * mem:
            out.append(Finding("warning", name, "train", f"tight (> 90 %): {detail}"))
    return out


def check_lengths(name: str, m: dict, arch: Arch | None, cfg: dict) -> list[Finding]:
    """Issue 14: long outputs must fit the context, and training should see them whole."""
    out = []
    model_len = max_model_len(m, arch)
    uses_vllm = [s for s in ("sampling", "evaluation") if cfg.get(s, {}).get("backend", "vllm") == "vllm"]
    if (uses_vllm and arch and arch.context_len and m.get("max_model_len", 0) > arch.context_len
            and os.environ.get("VLLM_ALLOW_LONG_MAX_MODEL_LEN") != "1"):
        out.append(Finding("error", name, "sample" if "sampling" in uses_vllm else "evaluate",
                           f"models.{name}.max_model_len {m['max_model_len']} is above the "
                           f"{arch.context_len} positions of {arch.source} (max_position_embeddings x RoPE "
                           f"factor); vLLM refuses it. Lower it to at most {arch.context_len}"))
    for section, stage in (("sampling", "sample"), ("evaluation", "evaluate")):
        max_tokens = int(cfg.get(section, {}).get("max_tokens", 0))
        if model_len and max_tokens >= model_len:
            where = f"models.{name}.max_model_len" if m.get("max_model_len") else "max_position_embeddings"
            out.append(Finding("error", name, stage,
                               f"{section}.max_tokens {max_tokens} >= {where} {model_len}: no room for the "
                               f"prompt. Raise models.{name}.max_model_len or lower {section}.max_tokens"))
    sample_tokens = int(cfg["sampling"].get("max_tokens", 0))
    if not _trained_methods(cfg):
        return out

    short: dict[tuple[int, str], list[str]] = {}  # one warning per (cutoff_len, overlong), naming its methods
    for method in _trained_methods(cfg):
        tcfg = effective_training_config(cfg, name, method)
        if int(tcfg["cutoff_len"]) < sample_tokens:
            short.setdefault((int(tcfg["cutoff_len"]), tcfg["overlong"]), []).append(method)
    for (cutoff, overlong), methods in short.items():
        out.append(Finding("warning", name, "train",
                           f"{', '.join(methods)}: cutoff_len {cutoff} (prompt + response) is below "
                           f"sampling.max_tokens {sample_tokens}: longer pre-samples are "
                           f"{'cut at the cutoff' if overlong == 'truncate' else 'dropped'} "
                           f"(training.overlong: {overlong})"))
    return out


def check(cfg: dict, root: str | Path = ".") -> list[Finding]:
    """Every finding for a validated config (``o1pruner.config.validate``)."""
    root = Path(root)
    out = []
    for name, m in cfg["models"].items():
        path, why = locate_model_config(name, m, cfg.get("results", "results"), root)
        arch = None
        if path is not None:
            try:
                arch = Arch.from_config(_read_json(path), str(path))
            except (KeyError, ValueError, TypeError) as e:
                out.append(Finding("warning", name, "config", f"{path}: cannot read the model's shape ({e})"))
        elif m["source"] == "hf":
            out.append(Finding("warning", name, "config", why))
        out += check_lengths(name, m, arch, cfg)
        if arch is None:
            continue
        for stage in INFERENCE_STAGES:
            out += check_inference(name, m, arch, cfg, stage)
        out += check_training(name, m, arch, cfg)
    return out


def report(findings: list[Finding], log: Callable[[str], None]) -> None:
    for f in findings:
        log(f"check-plan {f}")


def check_or_raise(cfg: dict, root: str | Path = ".", log: Callable[[str], None] | None = None) -> list[Finding]:
    """Print warnings and advice; raise :class:`PlanError` listing the errors (unless
    ``plan.on_error: warn``). The Snakefile hook."""
    log = log or (lambda s: print(s, file=sys.stderr))
    findings = check(cfg, root)
    report(findings, log)
    errors = [f for f in findings if f.level == "error"]
    if errors and cfg.get("plan", {}).get("on_error", "stop") == "stop":
        raise PlanError("infeasible plan (o1pruner check-plan; plan.on_error: warn to go on anyway):\n  "
                        + "\n  ".join(f"models.{f.model} {f.stage}: {f.message}" for f in errors))
    return findings


# ---- layered config files -----------------------------------------------------------------
