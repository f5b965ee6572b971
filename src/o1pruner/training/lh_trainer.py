"""Length-Harmonizing (O1-Pruner) loss and a ``transformers.Trainer`` that optimises it.

The LH objective is an off-policy PPO-clip loss on pre-sampled reference solutions (official
``src/llamafactory/train/wsft/trainer.py``). Per sequence, over RESPONSE tokens only::

    r    = exp(mean_t log πθ(y_t | ·) − mean_t log π_ref(y_t | ·))
    loss = mean_seq max(−w·r, −w·clip(r, 1−ε, 1+ε)),   ε = 0.2

with w the standardised LH weight of ``o1pruner build-dataset --method lh``.

API (the training entry point ``o1pruner.training.train`` wires these together, as TRL's trainers are):

    features, counts = tokenize_lh_dataset(tokenizer, lh_df, cutoff_len, overlong="truncate")
    trainer = LHTrainer(model=policy, args=LHConfig(output_dir=..., epsilon=0.2),
                        train_dataset=features, processing_class=tokenizer)
    trainer.train()   # first scores every example with the initial policy = π_ref

- :class:`LHConfig`: ``TrainingArguments`` + ``epsilon`` (PPO clip), ``optimizer`` (adamw |
  adam_mini, :mod:`o1pruner.training.optimizers`) and ``precompute_ref_log_probs`` (default True).

- :func:`tokenize_lh_example` / :func:`tokenize_lh_dataset`: prompt ids + response ids + EOS,
  labels −100 on the prompt; over-long handling below.
- :func:`precompute_reference_logprobs`: one no-grad pass of the reference model, adds a
  ``ref_logp`` float to every feature. The official trainer keeps a second (reference) model in
  memory and runs it every step; since π_ref is frozen, one pass up front gives the same numbers
  and halves the memory during training. Run it in the same dtype/autocast as training so the
  step-0 ratio is 1 up to rounding (batch composition differs, so it is not bit-exact).
- :class:`LHDataCollator`: right-pads ``input_ids`` (pad id), ``attention_mask`` (0), ``labels``
  (−100) and stacks ``weight`` / ``ref_logp`` as float32 vectors.
- :func:`sequence_mean_logprobs`, :func:`lh_sequence_losses`, :func:`lh_loss`: the math.
- :func:`model_mean_logprobs`: what the trainer and the reference pass compute, the same mean
  log-prob through TRL 1.16's fused LM head (:func:`add_fused_head`,
  ``trl.trainer.utils.add_fused_lm_head``), which projects the hidden states onto the vocabulary
  in tiles and never holds the ``[B, T, V]`` logits (at 17,408 tokens and Qwen's 151,936-entry
  vocabulary those are ~10 GB in float32 per sequence before the backward pass): always on CUDA,
  and on CPU where those logits would pass 1 GiB (:func:`use_fused_head`; below that, TRL's CPU
  fallback is slower than the logits). Loss and gradient are those of
  :func:`sequence_mean_logprobs` on the model's logits (tests/training/test_lh_loss.py).
- :class:`LHTrainer`: ``compute_loss`` = the LH loss; gradient accumulation gives the gradient of
  the mean over all sequences of the accumulated micro-batches (see the class docstring). With a
  plain ``TrainingArguments`` (no ``precompute_ref_log_probs``) the features must carry
  ``ref_logp`` already and ε is the paper's 0.2.

Over-long examples (``cutoff_len`` counts prompt + response + EOS tokens):
  ``overlong="truncate"`` keeps the whole prompt and cuts the response's tail (EOS included), so
  the mean log-prob is over the kept response tokens; ``overlong="drop"`` removes the example.
  An example whose prompt alone leaves no room for one response token (len(prompt) >=
  cutoff_len) is always dropped. LLaMA-Factory (official, ``infer_seqlen``) does the same as
  ``truncate`` whenever the prompt is under half the cutoff (it cuts only the response, to
  cutoff − prompt); only when the prompt is longer than that does it shorten prompt and response in
  proportion, where we keep the prompt intact because the response is what the loss scores.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from contextlib import nullcontext
from dataclasses import dataclass, field
from typing import Any

import torch
import transformers

from o1pruner.training import distributed
from o1pruner.training.optimizers import OptimizerArguments, OptimizerMixin

IGNORE_INDEX = -100
# a function argument, not a config key (the config's value is checked by the schema): this
# guards direct callers from a typo silently meaning "truncate"
OVERLONG_MODES = ("truncate", "drop")
FLOAT32_KEYS = ("weight", "ref_logp")  # batch entries the LH loss reads in float32


# ---- the math -----------------------------------------------------------------------------

def _token_logprobs(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """log softmax(logits)[target] in float32, one row at a time to bound the temporary.

    logits: [B, T, V], targets: [B, T] -> [B, T] float32
    """
    rows = [
        torch.log_softmax(row.float(), dim=-1).gather(-1, idx.unsqueeze(-1)).squeeze(-1)  # [T]
        for row, idx in zip(logits, targets)
    ]
    return torch.stack(rows)


def sequence_mean_logprobs(
    logits: torch.Tensor, labels: torch.Tensor, response_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean log-probability of each sequence's response tokens under a causal LM.

    logits: [B, T, V] from the model; labels: [B, T] token ids (−100 where not scored);
    response_mask: [B, T] bool, True where ``labels[:, t]`` is a scored response token
    (default ``labels != -100``). Position t's logits predict token t+1, so the last logit and the
    first label are unused. A row with no scored token returns 0 (never NaN).
    Returns [B] float32.
    """
    if response_mask is None:
        response_mask = labels != IGNORE_INDEX
    target = labels[:, 1:]                                         # [B, T-1]
    mask = response_mask[:, 1:].bool()                             # [B, T-1]
    safe_target = torch.where(mask, target, torch.zeros_like(target))  # −100 is no valid index
    token_logp = _token_logprobs(logits[:, :-1], safe_target)      # [B, T-1]
    token_logp = torch.where(mask, token_logp, torch.zeros_like(token_logp))
    n_tokens = mask.sum(-1).clamp(min=1)                           # [B]
    return token_logp.sum(-1) / n_tokens                           # [B]


def _base_model(model: torch.nn.Module) -> torch.nn.Module:
    """The model under DeepSpeed / DDP (``.module``) and PEFT (``get_base_model``) wrappers."""
    inner = getattr(model, "module", model)
    return inner.get_base_model() if hasattr(inner, "get_base_model") else inner


def add_fused_head(model: torch.nn.Module) -> torch.nn.Module:
    """TRL's fused LM head on ``model`` (its base model under PEFT, as TRL's trainers do), once.

    ``trl.trainer.utils.add_fused_lm_head`` replaces the instance's ``forward``; without
    ``fused_lm_head=True`` that forward is the original one, so saving and generation are unchanged.
    Returns the model that was patched.
    """
    from trl.trainer.utils import add_fused_lm_head

    base = _base_model(model)
    if not getattr(base, "_o1pruner_fused_head", False):
        add_fused_lm_head(base, outputs=("log_probs",))
        base._o1pruner_fused_head = True  # a second patch would wrap the fused forward in itself
    return base


# Bytes of float32 [B, T, V] logits above which the CPU, too, takes the fused head
FULL_LOGITS_LIMIT = 1 << 30


def use_fused_head(device: torch.device | str, n_positions: int, vocab_size: int) -> bool:
    """Whether a batch's log-probs go through TRL's fused head (:func:`add_fused_head`).

    On CUDA always: TRL's Triton kernel never holds the ``[B, T, V]`` logits and is as fast. On CPU
    TRL runs its torch fallback, 2-3× slower than the logits at SmolLM2's vocabulary
    (benchmarks/bench_lh_fused_head.py), so the CPU takes it only where the float32 logits of the
    batch (``n_positions`` = B·T tokens × ``vocab_size`` × 4 bytes) would pass
    :data:`FULL_LOGITS_LIMIT`: where the vocabulary dominates the memory. Both paths give the same
    loss and gradient (tests/training/test_lh_loss.py).
    """
    return torch.device(device).type == "cuda" or 4 * n_positions * vocab_size > FULL_LOGITS_LIMIT


def _vocab_size(model: torch.nn.Module) -> int:
    return int(_base_model(model).config.vocab_size)


def model_mean_logprobs(
    model: torch.nn.Module, input_ids: torch.Tensor, attention_mask: torch.Tensor, labels: torch.Tensor,
    fused: bool | None = None,
) -> torch.Tensor:
    """:func:`sequence_mean_logprobs` of the model's logits: [B] float32, 0 for a row without scored
    tokens. ``fused`` (None: :func:`use_fused_head` decides): through the fused head
    (:func:`add_fused_head` first), else from the model's full logits."""
    if fused is None:
        fused = use_fused_head(input_ids.device, input_ids.numel(), _vocab_size(model))
    if not fused:
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits  # [B, T, V]
        return sequence_mean_logprobs(logits, labels)
    out = model(input_ids=input_ids, attention_mask=attention_mask, labels=labels, fused_lm_head=True)
    token_logp = out.log_probs.float()                              # [B, T-1], 0 where labels[:, 1:] = −100
    n_tokens = (labels[:, 1:] != IGNORE_INDEX).sum(-1).clamp(min=1)  # [B]
    return token_logp.sum(-1) / n_tokens


def lh_sequence_losses(
    policy_mean_logp: torch.Tensor, ref_mean_logp: torch.Tensor, weights: torch.Tensor,
    epsilon: float = 0.2,
) -> torch.Tensor:
    """Per-sequence PPO-clip terms max(−w·r, −w·clip(r, 1−ε, 1+ε)); all inputs [B] -> [B]."""
    ratio = torch.exp(policy_mean_logp - ref_mean_logp.detach().to(policy_mean_logp.dtype))  # [B]
    w = weights.to(ratio.dtype)                                                              # [B]
    unclipped = -w * ratio
    clipped = -w * torch.clamp(ratio, 1.0 - epsilon, 1.0 + epsilon)
    return torch.maximum(unclipped, clipped)


def lh_loss(
    policy_mean_logp: torch.Tensor, ref_mean_logp: torch.Tensor, weights: torch.Tensor,
    epsilon: float = 0.2,
) -> torch.Tensor:
    """The LH loss: mean over sequences of :func:`lh_sequence_losses` (scalar)."""
    return lh_sequence_losses(policy_mean_logp, ref_mean_logp, weights, epsilon).mean()


# ---- tokenisation -------------------------------------------------------------------------

def tokenize_lh_example(
    tokenizer: Any, prompt: str, response: str, cutoff_len: int, overlong: str = "truncate"
) -> dict[str, Any] | None:
    """Token ids and labels of one (already chat-templated) prompt and its response.

    ``input_ids = prompt ids + response ids + [eos]``; ``labels`` are −100 on the prompt and
    equal to ``input_ids`` elsewhere. Both texts are encoded with ``add_special_tokens=False``
    because the chat template already wrote the special tokens into the prompt. Returns None when
    the example is dropped (see the module docstring); otherwise a dict with ``input_ids``,
    ``labels`` and ``truncated`` (bool).
    """
    if overlong not in OVERLONG_MODES:
        raise ValueError(f"overlong must be one of {OVERLONG_MODES}, got {overlong!r}")
    if tokenizer.eos_token_id is None:
        raise ValueError("tokenizer has no eos_token_id; the response must end with EOS")
    prompt_ids = list(tokenizer(prompt, add_special_tokens=False)["input_ids"])
    target_ids = list(tokenizer(response, add_special_tokens=False)["input_ids"]) + [tokenizer.eos_token_id]
    room = cutoff_len - len(prompt_ids)
    if room < 1:
        return None
    truncated = len(target_ids) > room
    if truncated:
        if overlong == "drop":
            return None
        target_ids = target_ids[:room]
    return {
        "input_ids": prompt_ids + target_ids,
        "labels": [IGNORE_INDEX] * len(prompt_ids) + target_ids,
        "truncated": truncated,
    }


def tokenize_lh_dataset(
    tokenizer: Any, rows: Any, cutoff_len: int, overlong: str = "truncate"
) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Tokenise an LH table (DataFrame from ``build-dataset --method lh``, or records with prompt/response/weight).

    Returns (features, counts): each feature has ``input_ids, labels, weight`` (+ ``problem_id``
    and ``sample_idx`` when present, for tracing); counts has ``examples, kept, truncated,
    dropped`` so the caller can report what the cutoff did.
    """
    records = rows.to_dict("records") if hasattr(rows, "to_dict") else list(rows)
    features: list[dict[str, Any]] = []
    counts = {"examples": len(records), "kept": 0, "truncated": 0, "dropped": 0}
    for rec in records:
        ex = tokenize_lh_example(tokenizer, rec["prompt"], rec["response"], cutoff_len, overlong)
        if ex is None:
            counts["dropped"] += 1
            continue
        counts["kept"] += 1
        counts["truncated"] += int(ex.pop("truncated"))
        ex["weight"] = float(rec["weight"])
        for key in ("problem_id", "sample_idx"):
            if key in rec:
                ex[key] = rec[key]
        features.append(ex)
    return features, counts


# ---- batching -----------------------------------------------------------------------------

class LHDataCollator:
    """Right-pads a list of features into tensors and carries ``weight`` / ``ref_logp``.

    Keys other than input_ids, labels, weight, ref_logp are ignored, so features may carry
    tracing fields. Needs ``TrainingArguments(remove_unused_columns=False)``: otherwise the
    Trainer strips ``weight`` and ``ref_logp`` because the model's forward does not take them.
    """

    def __init__(self, pad_token_id: int, pad_to_multiple_of: int | None = None):
        self.pad_token_id = int(pad_token_id)
        self.pad_to_multiple_of = pad_to_multiple_of

    def __call__(self, features: Sequence[Mapping[str, Any]]) -> dict[str, torch.Tensor]:
        length = max(len(f["input_ids"]) for f in features)
        if self.pad_to_multiple_of:
            length = -(-length // self.pad_to_multiple_of) * self.pad_to_multiple_of
        batch_size = len(features)
        input_ids = torch.full((batch_size, length), self.pad_token_id, dtype=torch.long)  # [B, T]
        attention_mask = torch.zeros((batch_size, length), dtype=torch.long)              # [B, T]
        labels = torch.full((batch_size, length), IGNORE_INDEX, dtype=torch.long)         # [B, T]
        for i, f in enumerate(features):
            n = len(f["input_ids"])
            input_ids[i, :n] = torch.as_tensor(f["input_ids"], dtype=torch.long)
            attention_mask[i, :n] = 1
            labels[i, :n] = torch.as_tensor(f["labels"], dtype=torch.long)
        batch = {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
        for key in FLOAT32_KEYS:
            if key in features[0]:
                batch[key] = torch.tensor([float(f[key]) for f in features], dtype=torch.float32)  # [B]
        return batch


def _pad_id(tokenizer: Any = None, model: Any = None) -> int:
    for source in (tokenizer, getattr(model, "config", None)):
        for attr in ("pad_token_id", "eos_token_id"):
            value = getattr(source, attr, None) if source is not None else None
            if isinstance(value, (list, tuple)):
                value = value[0] if value else None
            if value is not None:
                return int(value)
    raise ValueError("no pad_token_id or eos_token_id on the tokenizer or the model config")


@torch.no_grad()
def precompute_reference_logprobs(
    model: torch.nn.Module,
    dataset: Sequence[Mapping[str, Any]],
    batch_size: int = 8,
    pad_token_id: int | None = None,
    device: torch.device | str | None = None,
) -> list[dict[str, Any]]:
    """π_ref mean response log-prob of every example, computed once before training.

    ``dataset``: features from :func:`tokenize_lh_dataset`. Returns new dicts (same order) with a
    ``ref_logp`` float added. The model runs in eval mode under ``torch.no_grad``; its previous
    train/eval mode is restored. Examples are batched longest-first to waste little padding.
    Load the reference model, call this, then free it before building the policy's trainer.
    The model gets the fused LM head (:func:`add_fused_head`).
    """
    add_fused_head(model)
    if pad_token_id is None:
        pad_token_id = _pad_id(model=model)
    collate = LHDataCollator(pad_token_id)
    if device is None:
        device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    order = sorted(range(len(dataset)), key=lambda i: -len(dataset[i]["input_ids"]))
    ref = [0.0] * len(dataset)
    try:
        for start in range(0, len(order), batch_size):
            idx = order[start:start + batch_size]
            batch = collate([dataset[i] for i in idx])
            mean_logp = model_mean_logprobs(model, batch["input_ids"].to(device),
                                            batch["attention_mask"].to(device), batch["labels"].to(device))  # [b]
            for i, value in zip(idx, mean_logp.tolist()):
                ref[i] = value
    finally:
        model.train(was_training)
    return [{**dict(ex), "ref_logp": float(value)} for ex, value in zip(dataset, ref)]


# ---- trainer ------------------------------------------------------------------------------

@dataclass
class LHConfig(OptimizerArguments, transformers.TrainingArguments):
    """``TrainingArguments`` of the LH trainer.

    ``epsilon``: PPO clip range (``methods.lh.epsilon``; 0.2 is the paper's and the default only for
    direct use: ``o1pruner train`` always passes the config's value). ``precompute_ref_log_probs``:
    score the training examples with the initial policy (= π_ref) when training starts.
    ``remove_unused_columns`` is False: ``weight`` and ``ref_logp`` must reach ``compute_loss``.
    """

    epsilon: float = field(default=0.2, metadata={"help": "PPO clip range ε"})
    precompute_ref_log_probs: bool = field(default=True, metadata={"help": "π_ref = the initial model, scored once"})
    remove_unused_columns: bool = field(default=False, metadata={"help": "keep weight and ref_logp"})



def training_autocast(args: Any):
    """bf16 autocast when training runs under it (bf16 without DeepSpeed), else nothing."""
    if args.bf16 and not args.deepspeed:
        return torch.autocast(device_type=args.device.type, dtype=torch.bfloat16)
    return nullcontext()


class LHTrainer(OptimizerMixin, transformers.Trainer):
    """``transformers.Trainer`` whose loss is the LH (off-policy PPO-clip) loss.

    Batches need ``input_ids, attention_mask, labels`` (−100 outside the response), ``weight``
    and ``ref_logp`` (:func:`precompute_reference_logprobs`); the default collator is
    :class:`LHDataCollator`. ``args.remove_unused_columns`` must be False.

    Gradient accumulation. The LH loss is a mean over sequences, while the Trainer's
    ``num_items_in_batch`` counts label TOKENS, so it is of no use here. Instead
    :meth:`get_batch_samples` (called once per optimizer step with all k micro-batches) records
    the number N of sequences in the step; each micro-batch returns sum(per-sequence loss) / N,
    and ``loss_is_scaled_for_ga = True`` tells ``Trainer.training_step`` (transformers 5.x) not
    to divide by k again. The accumulated gradient is then exactly that of the mean over all N
    sequences, also when the last micro-batch is smaller. (The official code returns the
    per-micro-batch mean and lets the Trainer divide by k, which weights sequences of a short
    last micro-batch more.) Under DDP each rank normalises by its own N, and DDP's gradient
    averaging gives the global mean when ranks hold equally many sequences.
    Outside training (evaluation) the loss is the plain batch mean.

    π_ref: with ``args.precompute_ref_log_probs`` (:class:`LHConfig`), :meth:`train` first scores
    every example with the model as it is then (the initial weights, also when resuming: the
    checkpoint is loaded later) in the training dtype; see :meth:`reference_pass`.
    """

    loss_is_scaled_for_ga = True

    def __init__(self, *args: Any, **kwargs: Any):
        if "loss_is_scaled_for_ga" not in vars(transformers.Trainer):
            raise RuntimeError(
                f"transformers {transformers.__version__}: Trainer has no `loss_is_scaled_for_ga`; "
                "LHTrainer's gradient-accumulation scaling relies on it (transformers >= 5)"
            )
        training_args = kwargs.get("args", args[1] if len(args) > 1 else None)
        if training_args is not None and training_args.remove_unused_columns:
            raise ValueError("LHTrainer needs TrainingArguments(remove_unused_columns=False) "
                             "so that `weight` and `ref_logp` reach compute_loss")
        if kwargs.get("data_collator") is None and len(args) < 3:
            model = kwargs.get("model", args[0] if args else None)
            kwargs["data_collator"] = LHDataCollator(_pad_id(kwargs.get("processing_class"), model))
        super().__init__(*args, **kwargs)
        add_fused_head(self.model)  # per-token log-probs without the [B, T, V] logits (use_fused_head)
        self.epsilon = float(getattr(self.args, "epsilon", LHConfig.epsilon))
        self._reference_scored = False
        self._lh_step_sequences: int | None = None
        self._lh_stats = torch.zeros(3, dtype=torch.float64)  # ratio sum, clipped count, sequences

    def train(self, *args: Any, **kwargs: Any):
        # once per trainer: a second train() call must not score with already-trained weights
        if getattr(self.args, "precompute_ref_log_probs", False) and not self._reference_scored:
            self.train_dataset = self.reference_pass(list(self.train_dataset))
            self._reference_scored = True
        return super().train(*args, **kwargs)

    def reference_pass(self, features: list[dict]) -> list[dict]:
        """π_ref log-probs of every example from the current (initial) weights, before any update.

        Runs in the training dtype (bf16 autocast when training uses it) on the training device. Under
        torchrun each rank scores a strided share and the results are all-gathered; every rank gets the
        same number of examples (a few repeated) so that ZeRO-3's collective weight gathers line up.
        """
        from transformers.integrations.deepspeed import is_deepspeed_zero3_enabled

        args, model = self.args, self.model
        world, rank = distributed.world()
        n = len(features)
        mine = list(range(rank, n, world))
        per_rank = -(-n // world)
        mine += [mine[-1] if mine else 0] * (per_rank - len(mine))
        if is_deepspeed_zero3_enabled():
            from trl.models.utils import prepare_deepspeed

            runner = prepare_deepspeed(model, self.accelerator)  # gathers sharded weights layer by layer
        else:
            model.to(args.device)
            runner = model
        with training_autocast(args):
            scored = precompute_reference_logprobs(runner, [features[i] for i in mine],
                                                   batch_size=args.per_device_train_batch_size,
                                                   pad_token_id=_pad_id(self.processing_class, model),
                                                   device=args.device)
        values = {i: ex["ref_logp"] for i, ex in zip(mine, scored)}
        if world > 1:
            import torch.distributed as dist

            gathered: list[Any] = [None] * world
            dist.all_gather_object(gathered, values)
            values = {k: v for part in gathered for k, v in part.items()}
        return [{**ex, "ref_logp": float(values[i])} for i, ex in enumerate(features)]

    def _prepare_inputs(self, inputs: dict[str, Any]) -> dict[str, Any]:
        # Trainer._prepare_input casts every floating tensor of the batch to DeepSpeed's dtype
        # (bf16): weight and ref_logp are loss inputs, not model inputs, and stay float32
        kept = {k: inputs[k] for k in FLOAT32_KEYS if k in inputs}
        prepared = super()._prepare_inputs({k: v for k, v in inputs.items() if k not in kept})
        prepared.update({k: v.to(device=self.args.device, dtype=torch.float32) for k, v in kept.items()})
        return prepared

    def get_batch_samples(self, epoch_iterator, num_batches, device):
        batch_samples, num_items_in_batch = super().get_batch_samples(epoch_iterator, num_batches, device)
        self._lh_step_sequences = sum(int(b["weight"].shape[0]) for b in batch_samples) or None
        return batch_samples, num_items_in_batch

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        if "ref_logp" not in inputs or "weight" not in inputs:
            raise KeyError("LH batch needs `weight` and `ref_logp`: run precompute_reference_logprobs "
                           "and keep remove_unused_columns=False")
        policy = model_mean_logprobs(model, inputs["input_ids"], inputs["attention_mask"], inputs["labels"])  # [B]
        per_sequence = lh_sequence_losses(policy, inputs["ref_logp"], inputs["weight"], self.epsilon)  # [B]
        if model.training and self._lh_step_sequences:
            loss = per_sequence.sum() / self._lh_step_sequences
            self._record(policy.detach(), inputs["ref_logp"], inputs["weight"])
        else:
            loss = per_sequence.mean()
        return (loss, {"policy_logp": policy}) if return_outputs else loss

    def _record(self, policy: torch.Tensor, ref: torch.Tensor, weight: torch.Tensor) -> None:
        """Accumulate the mean ratio and the fraction of sequences whose gradient the clip stops."""
        ratio = torch.exp(policy - ref.to(policy.dtype)).cpu().double()
        w = weight.cpu().double()
        stopped = ((w > 0) & (ratio > 1 + self.epsilon)) | ((w < 0) & (ratio < 1 - self.epsilon))
        self._lh_stats += torch.tensor([ratio.sum().item(), stopped.sum().item(), len(ratio)], dtype=torch.float64)

    def log(self, logs: dict[str, float], start_time: float | None = None) -> None:
        if "loss" in logs and self._lh_stats[2] > 0:
            logs["lh_ratio"] = float(self._lh_stats[0] / self._lh_stats[2])
            logs["lh_clip_frac"] = float(self._lh_stats[1] / self._lh_stats[2])
            self._lh_stats.zero_()
        super().log(logs, start_time)
