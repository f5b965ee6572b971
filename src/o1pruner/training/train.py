"""Train one method on the pre-sampled data: SFT, DPO or O1-Pruner's Length-Harmonizing (LH).

What the workflow runs (only what the run depends on; both JSON objects from
``o1pruner.training.train.effective_training_config`` / ``method_config``, or ``o1pruner training-config``):

    o1pruner train --method lh --training-json "$(o1pruner training-config --config config/config.yaml \
            --model toy --method lh)" --method-json '{"epsilon": 0.2}' \
        --model-path results/toy/model --data results/toy/datasets/lh_lambda_2.parquet \
        --output results/toy/runs/lh_lambda_2/model [--log-dir results/logs/toy/runs/lh_lambda_2]

or, from a config file: ``o1pruner train --method lh --config config/config.yaml --model-name toy
--model-path ... --data ... --output ...``. Multi-GPU or DeepSpeed: ``torchrun --standalone
--nproc_per_node N -m o1pruner.cli train ...`` (same arguments; :func:`launcher` builds the
prefix the workflow's train rule uses).

Settings: :mod:`o1pruner.training.settings` resolves them. Precedence, later wins: the schema's
defaults < ``training`` < ``methods.<method>.training`` < ``models.<model>.training`` <
``models.<model>.methods.<method>.training``.

Methods (paper Section 5.1.3; data from ``o1pruner build-dataset``): each method of the registry
(:mod:`o1pruner.methods.registry`) names its trainer, one row of :data:`TRAINERS` (table columns,
config class, trainer class, data preparation):

- ``sft``: TRL ``SFTTrainer`` on prompt-completion pairs (loss on the completion only).
- ``dpo``: TRL ``DPOTrainer`` (sigmoid loss, β = ``methods.dpo.beta``). The reference model is
  the initial policy, so we set ``precompute_ref_log_probs=True``: one no-grad pass before
  training instead of a second model copy kept in memory for the whole run.
- ``lh``: :class:`o1pruner.training.lh_trainer.LHTrainer` with :class:`~o1pruner.training.lh_trainer.LHConfig`
  (PPO-clip, ε = ``methods.lh.epsilon``), π_ref's log-probs computed once from the initial model,
  in the training dtype, when training starts.
- ``grpo`` (``lh_onpolicy``): :class:`o1pruner.training.grpo.GRPOTrainer`, TRL's GRPO on a prompt set
  (:mod:`o1pruner.methods.onpolicy`): it samples ``num_generations`` completions per prompt while
  training (transformers on CPU, vLLM colocated on CUDA), grades them with the config's ``grading``
  (the train rule passes it with the method's keys: :func:`run_method_config`) and scores each group
  with the reward the table names. ``per_device_batch_size`` counts completions; prompts that leave
  no room for ``max_completion_length`` tokens within ``cutoff_len`` are dropped.

The prompt column is chat-templated text ending with the assistant header; every method appends
the tokenizer's EOS to the response. ``cutoff_len`` bounds prompt + response + EOS tokens;
``overlong: truncate`` cuts the response tail, ``overlong: drop`` removes the example (for DPO
when either response does not fit).

Training modes (``training.mode``): ``full``; ``freeze`` (only the last
``freeze_trainable_layers`` decoder layers train, nothing else; the paper trains QwQ's last 48);
``lora`` (peft adapters, merged into the base weights before saving, so every checkpoint is a
plain HF folder). Optimizer (``training.optimizer``): ``adamw`` or ``adam_mini``
(:mod:`o1pruner.training.optimizers`); ``max_grad_norm`` clips gradients (DeepSpeed's ``gradient_clipping:
auto`` takes it too).

Precision: ``auto`` = bf16 on CUDA, fp32 on CPU. Under bf16 the weights are loaded in bf16 and,
without DeepSpeed, the trainable ones are upcast to fp32 and trained under bf16 autocast (as
LLaMA-Factory, the official code's trainer, does: AdamW on bf16 weights drops small updates);
DeepSpeed keeps its own fp32 master weights. The final checkpoint is saved in the load dtype.
Gradient checkpointing is on for GPU runs (long reasoning traces) and off on CPU (small models).

Checkpoint safety and resuming: :mod:`o1pruner.training.run_folder` (everything is written under
``<output>.tmp``, renamed to ``<output>`` at the end; with ``save_steps > 0`` a rerun of the
same run resumes from its last complete checkpoint).

Outputs: the model folder (weights, config, tokenizer, ``train_summary.json``) and the loss log
``<log-dir>/train_<method>.jsonl`` (default: ``<output>/train_<method>.jsonl``), one JSON object
per Trainer log entry (loss, learning_rate, grad_norm; LH adds lh_ratio, lh_clip_frac; DPO its
rewards). Only the main process writes.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from o1pruner.hooks import import_object
from o1pruner.io import write_text
from o1pruner.methods import registry
from o1pruner.prompts import render_official_training
from o1pruner.schemas import require_columns
from o1pruner.training import distributed, run_folder
from o1pruner.training.health import training_warnings
from o1pruner.training.settings import (  # noqa: F401  (effective_training_config, method_config: API)
    check_training,
    effective_training_config,
    method_config,
)

# TRL's trainers ping the Hub from rank 0; huggingface_hub reads this once, at its import
os.environ.setdefault("HF_HUB_DISABLE_TELEMETRY", "1")

SUMMARY_NAME = "train_summary.json"


# ---- small helpers ------------------------------------------------------------------------



def _import(path: str) -> Any:
    """``"module:Name"`` -> the object (the trainer modules import TRL, which takes seconds)."""
    return import_object(path)


def _check_run(tcfg: dict, on_gpu: bool) -> None:
    """What only the machine can tell (the values themselves were checked against the schema)."""
    if tcfg["deepspeed"] and not on_gpu:
        raise ValueError(f"training.deepspeed is set ({tcfg['deepspeed']!r}) but no CUDA device is "
                         "available; DeepSpeed runs need GPUs (set training.deepspeed: null for CPU runs)")
    if tcfg["deepspeed"] and not Path(tcfg["deepspeed"]).is_file():
        raise FileNotFoundError(f"training.deepspeed: {tcfg['deepspeed']} does not exist")


def _precision(tcfg: dict, on_gpu: bool) -> str:
    if tcfg["precision"] == "auto":
        return "bf16" if on_gpu else "fp32"
    return tcfg["precision"]


def launcher(gpus: int, deepspeed: str | None) -> str:
    """The command that starts ``train`` for a job of ``gpus`` GPUs (the train rule's prefix).

    One process per GPU through torchrun (one node, ``--standalone``: the SLURM profile asks
    ``--nodes=1``) when there are several GPUs, and also for DeepSpeed on one GPU: accelerate
    initialises DeepSpeed's process group only when LOCAL_RANK is set (accelerate/state.py,
    PartialState), and without RANK/WORLD_SIZE/MASTER_ADDR/... DeepSpeed's own init falls back to MPI
    discovery (deepspeed 0.19.8, comm/comm.py init_distributed), which needs mpi4py. One GPU
    without DeepSpeed, or CPU: the plain command, in-process.
    """
    if gpus > 1 or (gpus == 1 and deepspeed):
        return f"torchrun --standalone --nproc_per_node {gpus} -m o1pruner.cli"
    return "o1pruner"


# ---- the methods --------------------------------------------------------------------------

def _kept(method: str, counts: dict, cutoff: int) -> None:
    if counts["kept"] == 0:
        raise ValueError(f"{method}: no example fits cutoff_len={cutoff}")


def _sft_data(tokenizer: Any, df: pd.DataFrame, tcfg: dict, folder: Path, args: Any):
    kept, counts = apply_cutoff(tokenizer, df, ["response"], tcfg["cutoff_len"], tcfg["overlong"])
    _kept("sft", counts, tcfg["cutoff_len"])
    data = kept[["prompt", "response"]].rename(columns={"response": "completion"})
    return _file_backed_dataset(data, folder, args), counts


def _dpo_data(tokenizer: Any, df: pd.DataFrame, tcfg: dict, folder: Path, args: Any):
    kept, counts = apply_cutoff(tokenizer, df, ["chosen", "rejected"], tcfg["cutoff_len"], tcfg["overlong"])
    _kept("dpo", counts, tcfg["cutoff_len"])
    return _file_backed_dataset(kept[["prompt", "chosen", "rejected"]], folder, args), counts


def _lh_data(tokenizer: Any, df: pd.DataFrame, tcfg: dict, folder: Path, args: Any):
    from o1pruner.training.lh_trainer import tokenize_lh_dataset

    features, counts = tokenize_lh_dataset(tokenizer, df, tcfg["cutoff_len"], tcfg["overlong"])
    _kept("lh", counts, tcfg["cutoff_len"])
    return features, counts


def _grpo_data(tokenizer: Any, df: pd.DataFrame, tcfg: dict, folder: Path, args: Any):
    """The prompt set, without the prompts that leave no room for ``max_completion_length`` tokens
    within ``cutoff_len`` (whatever ``overlong`` says: a completion is generated, not cut)."""
    prompt_len = pd.Series(_n_tokens(tokenizer, df["prompt"].tolist()), index=df.index)
    drop = prompt_len + int(args.max_completion_length) > int(tcfg["cutoff_len"])
    counts = {"examples": int(len(df)), "kept": int((~drop).sum()), "truncated": 0, "dropped": int(drop.sum())}
    _kept("grpo", counts, tcfg["cutoff_len"])
    data = df.loc[~drop, list(TRAINERS["grpo"].columns)].reset_index(drop=True)
    data = data.astype({"problem_id": str, "gold": str, "ref_mean_length": float, "ref_mean_acc": float})
    return _file_backed_dataset(data, folder, args), counts


def _grpo_fields(t: dict, m: dict) -> dict:
    """GRPOConfig's own fields from the run's training settings and methods.<method>'s keys."""
    return dict(num_generations=int(m["num_generations"]), max_completion_length=int(m["max_completion_length"]),
                temperature=float(m["temperature"]), top_p=float(m["top_p"]), epsilon=float(m["epsilon"]),
                beta=float(m["beta"]), loss_type=m["loss_type"], scale_rewards=m["scale_rewards"],
                generation=m["generation"], vllm_mode="colocate",
                vllm_gpu_memory_utilization=float(m["vllm_gpu_memory_utilization"]),
                vllm_max_model_length=int(t["cutoff_len"]), grading=grading_options(m.get("grading")))


def grading_options(block: dict | None) -> dict:
    """The config's ``grading`` block with the schema's defaults filled in: the Grader's keywords."""
    from o1pruner.config import fill_defaults, load_schema

    schema = load_schema()
    return fill_defaults(dict(block or {}), schema["properties"]["grading"], schema)


@dataclass(frozen=True)
class Trainer:
    """One trainer: what it reads, how it is configured and trained."""

    columns: tuple[str, ...]   # columns of its training table (o1pruner build-<method>)
    config: str                # "module:Class" of its TrainingArguments dataclass
    trainer: str               # "module:Class" of its Trainer
    reads: tuple[str, ...]     # the keys of methods.<method> its trainer reads (the rest builds data)
    fields: Callable[[dict, dict], dict]  # (training, method config) -> its config's own fields
    data: Callable[..., tuple[Any, dict]]  # (tokenizer, table, training, folder, args) -> (train_dataset, counts)
    sequences: int = 1         # sequences through the model per example (DPO: chosen and rejected), for the plan
    # what its log adds to the training figure: (log key, panel title)
    panels: tuple[tuple[str, str], ...] = ()
    grades: bool = False       # it grades answers itself: the run's method config carries `grading`
    generates: bool = False    # on-policy: it samples from the policy while training (the plan counts the engine)


TRAINERS: dict[str, Trainer] = {
    "sft": Trainer(
        columns=("prompt", "response"),
        config="o1pruner.training.trl_trainers:SFTConfig", trainer="o1pruner.training.trl_trainers:SFTTrainer", reads=(),
        fields=lambda t, m: dict(max_length=t["cutoff_len"], truncation_mode="keep_start",
                                 completion_only_loss=True, packing=False),
        data=_sft_data),
    "dpo": Trainer(
        columns=("prompt", "chosen", "rejected"),
        config="o1pruner.training.trl_trainers:DPOConfig", trainer="o1pruner.training.trl_trainers:DPOTrainer", reads=("beta",),
        # ref_model=None + precompute_ref_log_probs: the initial policy scores the data once
        fields=lambda t, m: dict(beta=float(m["beta"]), max_length=t["cutoff_len"], truncation_mode="keep_start",
                                 precompute_ref_log_probs=True,
                                 precompute_ref_batch_size=t["per_device_batch_size"]),
        data=_dpo_data, sequences=2,
        panels=(("rewards/margins", "reward margin"), ("rewards/accuracies", "reward accuracy"))),
    "lh": Trainer(
        columns=("prompt", "response", "weight"),
        config="o1pruner.training.lh_trainer:LHConfig", trainer="o1pruner.training.lh_trainer:LHTrainer", reads=("epsilon",),
        fields=lambda t, m: dict(epsilon=float(m["epsilon"]), precompute_ref_log_probs=True),
        data=_lh_data,
        panels=(("lh_ratio", "mean ratio π/π_ref (lh_ratio)"), ("lh_clip_frac", "clip fraction (lh_clip_frac)"))),
    "grpo": Trainer(
        columns=("problem_id", "prompt", "gold", "ref_mean_length", "ref_mean_acc", "group_reward", "reward_params",
                 "reward_clip"),
        config="o1pruner.training.grpo:GRPOConfig", trainer="o1pruner.training.grpo:GRPOTrainer",
        reads=("num_generations", "max_completion_length", "temperature", "top_p", "epsilon", "beta",
               "loss_type", "scale_rewards", "generation", "vllm_gpu_memory_utilization"),
        fields=_grpo_fields, data=_grpo_data, grades=True, generates=True,
        panels=(("reward", "mean reward (group_reward)"), ("onpolicy/accuracy", "accuracy of the samples"),
                ("onpolicy/length_ratio", "mean L(y) / L̄_ref(x)"),
                ("completions/clipped_ratio", "share cut at max_completion_length"), ("kl", "KL to π_ref"))),
}


def trainer_of(method: str) -> Trainer:
    """The trainer of a registered method that trains (sft, dpo, lh, ...)."""
    if method not in registry.trained():
        raise ValueError(f"method must be one of {tuple(registry.trained())}, got {method!r}")
    return TRAINERS[registry.method(method).trainer]


def run_method_config(cfg: dict, method: str) -> dict:
    """What a run's trainer reads of a validated config: the keys of ``methods.<method>`` in its
    ``reads``, and the ``grading`` block when it grades answers itself (GRPO scores its samples as
    the pre-samples were graded). The train rule passes exactly this (``--method-json``)."""
    spec = trainer_of(method)
    mcfg = method_config(cfg, method)
    out = {k: mcfg[k] for k in spec.reads}
    if spec.grades:
        out["grading"] = dict(cfg["grading"])
    return out


# ---- model modes --------------------------------------------------------------------------

def decoder_layers(model: Any) -> Any:
    """The decoder's list of transformer blocks (``model.model.layers`` for Llama/Qwen)."""
    import torch

    candidates = []
    if hasattr(model, "get_decoder"):
        candidates.append(getattr(model.get_decoder(), "layers", None))
    inner = getattr(model, "model", None)
    candidates.append(getattr(inner, "layers", None))
    candidates.append(getattr(getattr(model, "transformer", None), "h", None))  # GPT-2 style
    for layers in candidates:
        if isinstance(layers, torch.nn.ModuleList) and len(layers) > 0:
            return layers
    raise ValueError(f"{type(model).__name__}: cannot find the decoder layers "
                     "(looked for get_decoder().layers, model.layers, transformer.h)")


def freeze_all_but_last_layers(model: Any, n_trainable: int) -> None:
    """requires_grad only for the parameters of the last ``n_trainable`` decoder layers."""
    layers = decoder_layers(model)
    if not 1 <= n_trainable <= len(layers):
        raise ValueError(f"training.freeze_trainable_layers = {n_trainable}, but the model has "
                         f"{len(layers)} decoder layers")
    for p in model.parameters():
        p.requires_grad_(False)
    for layer in layers[len(layers) - n_trainable:]:
        for p in layer.parameters():
            p.requires_grad_(True)


def add_lora(model: Any, lora: dict) -> Any:
    from peft import LoraConfig, get_peft_model

    config = LoraConfig(r=int(lora["r"]), lora_alpha=float(lora["alpha"]),
                        lora_dropout=float(lora["dropout"]),
                        target_modules=list(lora["target_modules"]), bias="none",
                        task_type="CAUSAL_LM")
    return get_peft_model(model, config)


def count_parameters(model: Any) -> tuple[int, int]:
    """(trainable, total) parameter counts."""
    def numel(p):
        return getattr(p, "ds_numel", None) or p.numel()  # ZeRO-3 loads parameters already sharded

    trainable = sum(numel(p) for p in model.parameters() if p.requires_grad)
    total = sum(numel(p) for p in model.parameters())
    return int(trainable), int(total)


def load_policy(model_path: str, tcfg: dict, precision: str):
    """Load the model and apply the training mode. Returns (model, load dtype)."""
    import torch
    import transformers

    load_dtype = torch.bfloat16 if precision == "bf16" else torch.float32
    # seeds the LoRA initialisation (the Trainer seeds again before training)
    transformers.set_seed(int(tcfg["seed"]))
    model = transformers.AutoModelForCausalLM.from_pretrained(model_path, dtype=load_dtype)
    model.config.use_cache = False  # no KV cache while training
    if tcfg["mode"] == "freeze":
        freeze_all_but_last_layers(model, int(tcfg["freeze_trainable_layers"]))
    elif tcfg["mode"] == "lora":
        model = add_lora(model, tcfg["lora"])
    if precision == "bf16" and not tcfg["deepspeed"]:
        # fp32 master copy of what the optimizer updates; frozen weights stay bf16
        for p in model.parameters():
            if p.requires_grad:
                p.data = p.data.float()
    return model, load_dtype


# ---- data ---------------------------------------------------------------------------------

def read_training_table(method: str, data_path: str | Path) -> pd.DataFrame:
    columns = list(trainer_of(method).columns)
    df = pd.read_parquet(data_path)
    require_columns(df, columns, str(data_path))
    if df.empty:
        raise ValueError(f"{data_path}: the {method} training table has no rows")
    for col in columns:
        if df[col].isna().any():
            row = int(df.index[df[col].isna()][0])
            raise ValueError(f"{data_path}: column {col!r} is missing in row {row}")
    return df.reset_index(drop=True)


def apply_training_prompt(df: pd.DataFrame, tokenizer: Any, prompt: str, where: str) -> pd.DataFrame:
    """``training.prompt``: ``sampling`` keeps each row's prompt (the one its response was sampled
    with); ``official`` re-renders it as the official training set does (Marco-o1's system prompt
    for every model, the raw problem as the user turn; o1pruner.prompts.render_official_training)."""
    if prompt == "sampling":
        return df
    if "problem" not in df.columns:
        raise ValueError(f"{where}: training.prompt: official needs the problem text (column 'problem'); "
                         "rebuild the training table with this version (o1pruner build-dataset keeps it)")

    out = df.copy()
    out["prompt"] = [render_official_training(tokenizer, q, p) for q, p in zip(df["problem"], df["prompt"])]
    return out


def _n_tokens(tokenizer: Any, texts: list[str]) -> list[int]:
    return [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]


def apply_cutoff(tokenizer: Any, df: pd.DataFrame, responses: list[str], cutoff_len: int,
                 overlong: str) -> tuple[pd.DataFrame, dict[str, int]]:
    """SFT/DPO rows against ``cutoff_len`` (prompt + response + EOS tokens, as the trainers build them).

    Rows whose prompt alone fills the cutoff are dropped (no response token would be trained);
    with ``overlong="drop"`` rows where any of ``responses`` (column names) does not fit are
    dropped too; with ``truncate`` the TRL trainers cut the tail (``truncation_mode="keep_start"``).
    """
    prompt_len = pd.Series(_n_tokens(tokenizer, df["prompt"].tolist()), index=df.index)
    too_long = pd.Series(False, index=df.index)
    for col in responses:
        total = prompt_len + pd.Series(_n_tokens(tokenizer, df[col].tolist()), index=df.index) + 1
        too_long |= total > cutoff_len
    no_room = prompt_len >= cutoff_len
    drop = no_room | (too_long if overlong == "drop" else False)
    counts = {"examples": int(len(df)), "kept": int((~drop).sum()),
              "truncated": int((too_long & ~drop).sum()), "dropped": int(drop.sum())}
    return df.loc[~drop].reset_index(drop=True), counts


def _file_backed_dataset(df: pd.DataFrame, folder: Path, args: Any):
    """A ``datasets.Dataset`` stored under ``folder`` (written by the main process first).

    File-backed rather than in-memory because TRL caches the DPO reference log-probs next to the
    dataset's files; for an in-memory dataset every rank would pick a different random cache path.
    """
    import datasets

    with args.main_process_first(local=False, desc="writing the training dataset"):
        if args.process_index == 0:
            if folder.exists():
                shutil.rmtree(folder)
            datasets.Dataset.from_pandas(df, preserve_index=False).save_to_disk(str(folder))
        return datasets.load_from_disk(str(folder))


# ---- trainer construction -----------------------------------------------------------------

def training_arguments(method: str, tmp: Path, tcfg: dict, mcfg: dict, precision: str, on_gpu: bool):
    """The method's config dataclass (TrainingArguments + its own fields) for this run.

    Built before the model is loaded: with DeepSpeed ZeRO-3 the arguments register the DeepSpeed
    config, which makes ``from_pretrained`` shard the weights while loading.
    """
    spec = trainer_of(method)
    save_steps = int(tcfg["save_steps"])
    common = dict(
        output_dir=str(tmp),
        learning_rate=float(tcfg["learning_rate"]),
        num_train_epochs=float(tcfg["epochs"]),
        max_steps=int(tcfg["max_steps"]),
        lr_scheduler_type=tcfg["lr_scheduler"],
        warmup_steps=float(tcfg["warmup_ratio"]),  # < 1: a ratio of the total steps
        per_device_train_batch_size=int(tcfg["per_device_batch_size"]),
        gradient_accumulation_steps=int(tcfg["gradient_accumulation_steps"]),
        max_grad_norm=float(tcfg["max_grad_norm"]),
        optimizer=tcfg["optimizer"],
        seed=int(tcfg["seed"]),
        data_seed=int(tcfg["seed"]),
        logging_steps=int(tcfg["logging_steps"]),
        logging_first_step=True,
        save_strategy="steps" if save_steps > 0 else "no",
        save_steps=save_steps if save_steps > 0 else 500,
        save_total_limit=1,  # only the latest checkpoint is needed to resume
        bf16=precision == "bf16",
        fp16=False,
        gradient_checkpointing=on_gpu,
        gradient_checkpointing_kwargs={"use_reentrant": False} if on_gpu else None,
        deepspeed=tcfg["deepspeed"] or None,
        use_cpu=not on_gpu,
        report_to="none",
        dataloader_num_workers=0,
        # every trainable parameter is used in each forward (frozen ones are not tracked by DDP)
        ddp_find_unused_parameters=False,
    )
    return _import(spec.config)(**common, **spec.fields(tcfg, mcfg))


def _log_callback(log_path: Path | None):
    """Appends every Trainer log entry to the JSONL log as it happens (main process only)."""
    import transformers

    class JsonlLog(transformers.TrainerCallback):
        def on_log(self, args, state, control, logs=None, **kwargs):
            if log_path is not None and state.is_world_process_zero and logs:
                with open(log_path, "a") as f:
                    f.write(json.dumps({"step": state.global_step, **logs}, default=float) + "\n")

    return JsonlLog()


def _no_final_checkpoint_callback():
    """Skips the Trainer checkpoint at the last step: the final model is saved right after it, and
    resuming from a checkpoint taken at ``max_steps`` makes transformers train one extra step."""
    import transformers

    class NoFinalCheckpoint(transformers.TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.max_steps and state.global_step >= state.max_steps:
                control.should_save = False

    return NoFinalCheckpoint()


def build_trainer(method: str, args: Any, model: Any, tokenizer: Any, df: pd.DataFrame, tmp: Path,
                  tcfg: dict, callbacks: list) -> tuple[Any, dict[str, int]]:
    """The trainer for ``method`` with its training data ready. Returns (trainer, data counts)."""
    spec = trainer_of(method)
    dataset, counts = spec.data(tokenizer, df, tcfg, tmp / "data", args)
    trainer = _import(spec.trainer)(model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
                                    callbacks=callbacks)
    return trainer, counts


# ---- saving -------------------------------------------------------------------------------

def save_final_model(trainer: Any, tokenizer: Any, model_path: str, final: Path, mode: str, load_dtype: Any) -> None:
    """Model + tokenizer into ``final`` as a plain HF folder (all ranks call; rank 0 writes).

    LoRA: the adapter is saved first (DeepSpeed-safe), then merged into a fresh copy of the base
    weights on the main process, so the folder never depends on peft.
    """
    import transformers

    if mode == "lora":
        adapter = final.parent / "adapter"
        trainer.save_model(str(adapter))
        if trainer.args.should_save:
            from peft import PeftModel
            from transformers.integrations.deepspeed import unset_hf_deepspeed_config

            unset_hf_deepspeed_config()  # load the base in full on this process, not ZeRO-3-sharded
            base = transformers.AutoModelForCausalLM.from_pretrained(model_path, dtype=load_dtype)
            merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
            merged.config.use_cache = True
            merged.save_pretrained(str(final))
            tokenizer.save_pretrained(str(final))
            shutil.rmtree(adapter, ignore_errors=True)
        distributed.barrier()
        return
    if not trainer.is_deepspeed_enabled:
        trainer.model.to(load_dtype)  # the trainable weights were upcast to fp32 for bf16 training
    trainer.model.config.use_cache = True
    trainer.save_model(str(final))
    if trainer.args.should_save:
        (final / "training_args.bin").unlink(missing_ok=True)  # a pickle of the run's arguments
    distributed.barrier()


def _peak_memory(on_gpu: bool) -> dict[str, float | None]:
    import torch

    rss_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB
    gpu_mb = torch.cuda.max_memory_allocated() / 2**20 if on_gpu else None
    return {"peak_rss_mb": round(rss_mb, 1), "peak_gpu_memory_mb": None if gpu_mb is None else round(gpu_mb, 1)}


def write_log(log_history: list[dict], path: Path) -> None:
    write_text("".join(json.dumps(entry, default=float) + "\n" for entry in log_history), path)


# ---- the entry point ----------------------------------------------------------------------

def train(method: str, model_path: str, data_path: str, output_dir: str, tcfg: dict, mcfg: dict,
          log_dir: str | None = None) -> dict:
    """Train ``method`` from ``model_path`` on ``data_path`` and save the model to ``output_dir``.

    ``tcfg``: the run's training settings (:func:`effective_training_config`; missing keys take
    the schema's defaults); ``mcfg``: the method's config (:func:`method_config`: ``beta`` for
    DPO, ``epsilon`` for LH; missing keys take the schema's defaults). Returns the run summary
    (also written to ``<output_dir>/train_summary.json``).
    """
    import torch
    import transformers

    start = time.time()
    trainer_of(method)
    tcfg = check_training(tcfg)
    grading = mcfg.get("grading")
    mcfg = method_config({"methods": {method: mcfg}}, method)
    if trainer_of(method).grades:  # the grader it scores with, defaults filled (the summary records it)
        mcfg["grading"] = grading_options(grading)
    on_gpu = torch.cuda.is_available()
    _check_run(tcfg, on_gpu)
    precision = _precision(tcfg, on_gpu)
    if not on_gpu:
        torch.set_num_threads(int(tcfg["threads"]))

    output = Path(output_dir)
    tmp = run_folder.tmp_dir(output)
    final = tmp / run_folder.FINAL_SUBDIR
    log_path = Path(log_dir or output) / f"train_{method}.jsonl"
    live_log = tmp / f"train_{method}.jsonl" if log_dir is None else log_path

    df = read_training_table(method, data_path)
    args = training_arguments(method, tmp, tcfg, mcfg, precision, on_gpu)
    resume = run_folder.prepare(tmp, run_folder.run_fingerprint(method, model_path, data_path, tcfg, mcfg),
                                int(tcfg["save_steps"]), args)
    if args.should_save:
        live_log.parent.mkdir(parents=True, exist_ok=True)
        live_log.write_text("")

    tokenizer = transformers.AutoTokenizer.from_pretrained(model_path)
    if tokenizer.eos_token is None:
        raise ValueError(f"{model_path}: the tokenizer has no EOS token; responses must end with one")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    df = apply_training_prompt(df, tokenizer, tcfg["prompt"], str(data_path))
    model, load_dtype = load_policy(model_path, tcfg, precision)
    trainable, total = count_parameters(model)
    if trainable == 0:
        raise ValueError(f"mode {tcfg['mode']!r}: no trainable parameters")

    trainer, counts = build_trainer(method, args, model, tokenizer, df, tmp, tcfg,
                                    [_log_callback(live_log if args.should_save else None),
                                     _no_final_checkpoint_callback()])
    result = trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    save_final_model(trainer, tokenizer, model_path, final, tcfg["mode"], load_dtype)

    history = trainer.state.log_history
    losses = [e["loss"] for e in history if "loss" in e]
    if distributed.world()[1] == 0:  # a plain warning in the run's log (clip fraction, ratio, NaN loss)
        for warning in training_warnings(history, method):
            print(f"o1pruner train: warning: {warning}", file=sys.stderr)
    world, _ = distributed.world()
    summary = {
        "method": method,
        "mode": tcfg["mode"],
        "precision": precision,
        "optimizer": getattr(trainer, "optimizer_class", None),  # the class actually built
        "device": "cuda" if on_gpu else "cpu",
        "world_size": world,
        "model_path": str(model_path),
        "data_path": str(data_path),
        "examples": counts["kept"],
        "examples_in_table": counts["examples"],
        "examples_truncated": counts["truncated"],
        "examples_dropped": counts["dropped"],
        "steps": int(trainer.state.global_step),
        "epochs": float(trainer.state.epoch or 0.0),
        "final_loss": float(losses[-1]) if losses else None,
        "train_loss": float(result.metrics.get("train_loss", float("nan"))),
        "trainable_params": trainable,
        "total_params": total,
        "resumed_from": resume.name if resume else None,
        "wall_time_s": round(time.time() - start, 2),
        **_peak_memory(on_gpu),
        "log": str(log_path),
        "training": tcfg,
        "method_config": mcfg,
    }
    if args.should_save:
        write_text(json.dumps(summary, indent=2, default=str) + "\n", final / SUMMARY_NAME)
        if log_dir is None:
            write_log(history, final / log_path.name)
        else:
            write_log(history, log_path)
        run_folder.publish(tmp, output)  # the finished model takes its final name only now
    distributed.barrier()
    return summary
