"""The optimizer switch of every trainer: ``training.optimizer`` = ``adamw`` | ``adam_mini``.

- ``adamw``: transformers' own optimizer (``TrainingArguments.optim``' default, AdamW); what every
  run used before the switch existed.
- ``adam_mini``: Adam-mini (PyPI ``adam-mini``; Zhang et al. 2024), which the official Marco-o1
  LH and DPO runs use (LLaMA-Factory's ``use_adam_mini: true``). Built the way LLaMA-Factory
  builds it (``_create_adam_mini_optimizer``): all named parameters (Adam-mini skips frozen ones),
  AdamW's lr / betas / eps / weight decay from the TrainingArguments, ``dim``, ``n_heads`` and
  ``n_kv_heads`` from the MODEL CONFIG (under ZeRO-3 the weights are already sharded when the
  optimizer is built, so their shapes say nothing), ``model_sharding`` = ZeRO-3 on.

Under DeepSpeed the Trainer asks ``create_optimizer`` for the optimizer when the DeepSpeed JSON
has no ``optimizer`` section (``config/deepspeed/zero3.json`` has none and sets
``zero_allow_untested_optimizer``), so the same hook serves both. ZeRO-3 then hands the optimizer
one FLAT (1-D) fp32 partition per parameter group. adam-mini 1.0.5 and later give MLP/o_proj
blocks one learning rate per neuron and index their state as a matrix, which fails on those
partitions ("IndexError: too many indices for tensor of dimension 1", LLaMA-Factory issue 6680,
on A800s); 1.0.4 (one rate per head for q/k, per block for the rest, Adam for embedding/output)
steps on them, so it is the version pinned (requirements.txt, envs/train.yaml) and
tests/test_train.py steps it on flat partitions on CPU.

Adam-mini 1.0.4 takes ``torch.cuda.device_count()`` as its world size (``Adam_mini.__init__``) and,
when that is above 1, all-gathers each block's size over the process group on its first step:
a single process on a node with several visible GPUs has no group and crashes, and a torchrun
job using fewer ranks than visible GPUs gathers into the wrong number of slots. The world that
matters is the processes that really shard the weights: the torch.distributed group under
ZeRO-3, and 1 otherwise (each DDP rank holds whole parameters and already-averaged gradients),
so :func:`create_adam_mini` sets that (:func:`adam_mini_world_size`).

Adam-mini is not offered with LoRA (refused when the settings are checked, before any model is
loaded, :mod:`o1pruner.training.settings`).

Trainers opt in with :class:`OptimizerMixin` and a config carrying ``optimizer``
(:class:`OptimizerArguments`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class OptimizerArguments:
    """The ``optimizer`` field every o1pruner training config adds to transformers' arguments."""

    optimizer: str = field(default="adamw", metadata={"help": "adamw (transformers' optim) | adam_mini"})


def adam_mini_kwargs(model_config: Any, args: Any, zero3: bool) -> dict[str, Any]:
    """Keyword arguments of ``adam_mini.Adam_mini`` besides ``named_parameters``."""
    dim = getattr(model_config, "hidden_size", None)
    n_heads = getattr(model_config, "num_attention_heads", None)
    if dim is None or n_heads is None:
        raise ValueError(f"{type(model_config).__name__}: adam_mini needs hidden_size and num_attention_heads "
                         "in the model config (it splits q_proj/k_proj by attention head)")
    # models without grouped-query attention have no num_key_value_heads: as many as query heads
    n_kv_heads = getattr(model_config, "num_key_value_heads", None) or n_heads
    return {
        "lr": float(args.learning_rate),
        "betas": (float(args.adam_beta1), float(args.adam_beta2)),
        "eps": float(args.adam_epsilon),
        "weight_decay": float(args.weight_decay),
        "model_sharding": bool(zero3),  # as LLaMA-Factory; adam-mini >= 1.0.2 assumes sharding anyway
        "dim": int(dim),
        "n_heads": int(n_heads),
        "n_kv_heads": int(n_kv_heads),
        "verbose": args.process_index == 0,  # it prints every parameter block it found, once is enough
    }


def check_zero3_partitions(kwargs: dict[str, Any], world_size: int) -> None:
    """Adam-mini views each rank's flat q_proj / k_proj partition as whole attention heads, so under
    ZeRO-3 every rank must hold whole heads: ``world_size`` must divide n_heads and n_kv_heads
    (Marco-o1 = Qwen2-7B: 28 and 4 heads, so at most 4 GPUs, as the official run used)."""
    for key in ("n_heads", "n_kv_heads"):
        if kwargs[key] % world_size:
            raise ValueError(f"optimizer adam_mini under ZeRO-3 on {world_size} GPUs: the model's {key} = "
                             f"{kwargs[key]} is not divisible by {world_size}, so a rank's q/k partition is "
                             "not whole attention heads; use a number of GPUs dividing "
                             f"{math.gcd(kwargs['n_heads'], kwargs['n_kv_heads'])}, or optimizer adamw")


def adam_mini_world_size(zero3: bool) -> int:
    """The processes among which Adam-mini's blocks are sharded (module docstring)."""
    import torch.distributed as dist

    if zero3 and dist.is_available() and dist.is_initialized():
        return dist.get_world_size()
    return 1


def create_adam_mini(model: Any, args: Any) -> Any:
    try:
        from adam_mini import Adam_mini
    except ImportError:
        raise ImportError("training.optimizer: adam_mini needs the adam-mini package "
                          "(pip install adam-mini; pinned in requirements.txt and envs/train.yaml)") from None
    from transformers.integrations.deepspeed import is_deepspeed_zero3_enabled

    zero3 = is_deepspeed_zero3_enabled()
    kwargs = adam_mini_kwargs(model.config, args, zero3)
    if zero3:
        check_zero3_partitions(kwargs, args.world_size)
    optimizer = Adam_mini(named_parameters=model.named_parameters(), **kwargs)
    optimizer.world_size = adam_mini_world_size(zero3)  # not torch.cuda.device_count() (docstring)
    return optimizer


class OptimizerMixin:
    """``create_optimizer`` builds Adam-mini when ``args.optimizer == "adam_mini"``; otherwise
    transformers builds its default. Put it before the Trainer class in the bases."""

    def create_optimizer(self, model=None):
        # the value was checked against the schema's enum with the rest of the settings
        if self.optimizer is None and getattr(self.args, "optimizer", "adamw") == "adam_mini":
            self.optimizer = create_adam_mini(self.model if model is None else model, self.args)
        optimizer = super().create_optimizer(model)
        # before accelerate/DeepSpeed wrap it: which optimizer the run really used (train_summary.json)
        self.optimizer_class = type(optimizer).__name__
        return optimizer
