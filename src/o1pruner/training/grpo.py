"""A length reward trained on-policy: TRL's ``GRPOTrainer`` scored by our grader and a group reward.

    trainer = GRPOTrainer(model=policy, args=GRPOConfig(output_dir=..., num_generations=4,
                          max_completion_length=384, grading={"timeout": 5}),
                          train_dataset=prompt_set, processing_class=tokenizer)
    trainer.train()

The training table is a prompt set (:func:`o1pruner.methods.onpolicy.prompt_set`: prompt, gold,
problem_id, the reference statistics, the reward's name, parameters and clip). Each step TRL samples
``num_generations`` (G) completions per prompt from the policy, :class:`GroupRewardFunction` grades
them, scores each prompt's G completions as one group with the reward
(:data:`o1pruner.methods.rewards.REWARDS`; a completion cut at ``max_completion_length`` is
truncated, which the budget reward scores 0) and TRL turns the rewards into group-relative advantages (reward − group mean, over the group
std with ``scale_rewards: group``) for its clipped policy-gradient loss.

Generation: transformers' ``generate`` on CPU; on CUDA vLLM in colocate mode (``use_vllm=True,
vllm_mode="colocate"``: one engine per training process on the same GPU, its weights synced from the
policy before each generation), chosen by :class:`GRPOConfig` (``generation: auto``). The prompts are
encoded without special tokens, as the pre-samples' were (:func:`o1pruner.generation.engines.encode_prompts`;
TRL's own tokenisation adds them, a second BOS for R1-Distill's template).

The group gather. TRL calls a reward function on each process's slice of the generation batch, then
concatenates the rewards of all processes in rank order (``accelerate.utils.gather``) and forms groups
as consecutive blocks of G in that order (``rewards.view(-1, num_generations)``, TRL 1.16
``_generate_and_score_completions``); its ``RepeatSampler`` puts the G copies of a prompt next to
each other, and nothing aligns a group with a process: with ``per_device_train_batch_size`` 2 and G = 4
a group spans two processes (TRL's own sampler diagram shows 3 and 2). A reward that needs the whole
group therefore gathers: each process grades its own slice (the expensive part, in parallel), then
``torch.distributed.all_gather_object`` shares (problem_id, length, correct, reference statistics,
reward) records, every process scores the same groups, blocks of G in rank order as TRL does, and
returns its slice. A block whose problem ids differ means that layout changed: an error, never a
silently wrong reward.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
import trl

from o1pruner.generation.engines import encode_prompts
from o1pruner.grading.grader import Grader
from o1pruner.methods.rewards import Group, reward, reward_params
from o1pruner.training import distributed
from o1pruner.training.optimizers import OptimizerArguments, OptimizerMixin

GENERATION = ("auto", "transformers")


@dataclass
class GRPOConfig(OptimizerArguments, trl.GRPOConfig):
    """``trl.GRPOConfig`` + ``optimizer``, ``generation`` and ``grading``.

    ``generation``: ``auto`` = vLLM in colocate mode on CUDA, transformers on CPU (never vLLM there);
    ``transformers`` = ``model.generate`` everywhere. ``grading``: keyword arguments of the
    :class:`~o1pruner.grading.grader.Grader` that scores the samples (the config's ``grading``
    block, so that A(x, y) is judged as Ā_ref(x) was).
    """

    generation: str = field(default="auto", metadata={"help": "auto: vLLM colocate on CUDA, transformers on CPU"})
    grading: dict | None = field(default=None, metadata={"help": "Grader keyword arguments"})

    def __post_init__(self):
        if self.generation not in GENERATION:
            raise ValueError(f"generation must be one of {GENERATION}, got {self.generation!r}")
        if self.generation == "auto":
            self.use_vllm = not self.use_cpu and torch.cuda.is_available()
            if self.use_vllm:
                self.vllm_mode = "colocate"
        super().__post_init__()


def completion_lengths(completion_ids: list[list[int]], eos_token_ids: list[int]) -> np.ndarray:
    """L(y) of each completion: its tokens without the EOS that ended it (as the pre-samples count)."""
    eos = set(eos_token_ids)
    return np.array([len(ids) - (1 if ids and ids[-1] in eos else 0) for ids in completion_ids], dtype=np.int64)


def completion_truncated(completion_ids: list[list[int]], eos_token_ids: list[int]) -> np.ndarray:
    """Whether each completion was cut at the length limit: it did not end with an EOS."""
    eos = set(eos_token_ids)
    return np.array([not (ids and ids[-1] in eos) for ids in completion_ids], dtype=bool)


def score_groups(records: list[dict], num_generations: int) -> np.ndarray:
    """Rewards of every record, groups = consecutive blocks of ``num_generations`` (TRL's layout).

    A record: ``problem_id, num_tokens, correct, truncated, ref_mean_length, ref_mean_acc,
    group_reward`` (a reward's name), ``reward_params`` (its parameters as a JSON object) and
    ``reward_clip`` ([lo, hi] or None).
    """
    if len(records) % num_generations:
        raise ValueError(f"{len(records)} samples are not whole groups of {num_generations}")
    out = np.empty(len(records), dtype=np.float64)
    params_of: dict[str, dict] = {}
    for start in range(0, len(records), num_generations):
        block = records[start:start + num_generations]
        ids = {r["problem_id"] for r in block}
        if len(ids) != 1:
            raise RuntimeError(f"samples {start}..{start + num_generations - 1} of the gathered batch are one "
                               f"group to TRL but belong to problems {sorted(map(str, ids))}: the layout "
                               "the group gather relies on (o1pruner.training.grpo) no longer holds")
        first = block[0]
        spec = first["reward_params"]
        if spec not in params_of:  # defaults filled, checked once per spec
            params_of[spec] = reward_params(first["group_reward"], json.loads(spec))
        params = params_of[spec]
        group = Group(np.array([r["num_tokens"] for r in block], dtype=np.int64),
                      np.array([r["correct"] for r in block], dtype=bool),
                      np.array([r.get("truncated", False) for r in block], dtype=bool),
                      float(first["ref_mean_length"]), float(first["ref_mean_acc"]))
        rewards = np.asarray(reward(first["group_reward"]).apply(group, params), dtype=np.float64)
        clip = first.get("reward_clip")
        out[start:start + num_generations] = rewards if clip is None else np.clip(rewards, *map(float, clip))
    return out


def gather_records(records: list[dict]) -> tuple[list[dict], int]:
    """Every process's records in rank order, and where this process's start (no-op alone)."""
    world, rank = distributed.world()
    if world == 1:
        return records, 0
    parts: list[Any] = [None] * world
    torch.distributed.all_gather_object(parts, records)
    return [r for part in parts for r in part], sum(len(p) for p in parts[:rank])


class GroupRewardFunction:
    """The reward function TRL calls: grade this process's slice, gather the groups, score them.

    One :class:`Grader` per process, made on the first call and reused at every step (its cache and
    its math-verify workers carry over); :meth:`close` stops its workers. Logs, through TRL's
    ``log_metric``, the batch's accuracy (``onpolicy/accuracy``), mean length (``onpolicy/length``)
    and mean L(y)/L̄_ref(x) (``onpolicy/length_ratio``).
    """

    __name__ = "group_reward"  # TRL's name for its reward columns and logs (rewards/group_reward/mean)

    def __init__(self, num_generations: int, grading: dict | None = None, eos_token_ids: list[int] | None = None):
        self.num_generations = int(num_generations)
        self.grading = dict(grading or {})
        self.eos_token_ids = list(eos_token_ids or [])
        self.grader: Grader | None = None
        self.last: dict[str, Any] = {}  # the last call's records and rewards (tests, diagnostics)

    def close(self) -> None:
        if self.grader is not None:
            self.grader.close()
            self.grader = None

    def __call__(self, prompts: list, completions: list, completion_ids: list[list[int]], problem_id: list,
                 gold: list, ref_mean_length: list, ref_mean_acc: list, group_reward: list,
                 reward_params: list, reward_clip: list | None = None, log_metric=None, **_: Any) -> list[float]:
        if self.grader is None:
            self.grader = Grader(**self.grading)
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
        graded = self.grader.grade_many(texts, gold, [p if isinstance(p, str) else None for p in prompts])
        lengths = completion_lengths(completion_ids, self.eos_token_ids)
        cut = completion_truncated(completion_ids, self.eos_token_ids)
        clips = reward_clip if reward_clip is not None else [None] * len(lengths)
        mine = [{"problem_id": str(pid), "num_tokens": int(n), "correct": bool(ok), "truncated": bool(t),
                 "ref_mean_length": float(lm), "ref_mean_acc": float(la), "group_reward": str(name),
                 "reward_params": str(params), "reward_clip": None if c is None else [float(v) for v in c]}
                for pid, n, (_, ok), t, lm, la, name, params, c in zip(
                    problem_id, lengths, graded, cut, ref_mean_length, ref_mean_acc, group_reward,
                    reward_params, clips)]
        records, start = gather_records(mine)
        rewards = score_groups(records, self.num_generations)
        if log_metric is not None:  # the whole batch's: every process logs the same value
            log_metric("onpolicy/accuracy", float(np.mean([r["correct"] for r in records])))
            log_metric("onpolicy/length", float(np.mean([r["num_tokens"] for r in records])))
            log_metric("onpolicy/length_ratio", float(np.mean(
                [max(r["num_tokens"], 1) / max(r["ref_mean_length"], 1e-9) for r in records])))
        self.last = {"records": records, "rewards": rewards, "start": start}
        return rewards[start:start + len(mine)].tolist()


class GRPOTrainer(OptimizerMixin, trl.GRPOTrainer):
    """``trl.GRPOTrainer`` with our optimizer switch, rewarded by :class:`GroupRewardFunction`
    (unless ``reward_funcs`` is given), prompts encoded without special tokens."""

    def __init__(self, model: Any, args: GRPOConfig | None = None, reward_funcs: Any = None, **kwargs: Any):
        if args is None:
            raise ValueError("GRPOTrainer needs its GRPOConfig (num_generations, grading, ...)")
        if "_tokenize_prompts" not in vars(trl.GRPOTrainer):
            raise RuntimeError(f"trl {trl.__version__}: GRPOTrainer has no _tokenize_prompts; the prompts "
                               "would be encoded with special tokens (o1pruner.training.grpo)")
        if reward_funcs is None:
            reward_funcs = GroupRewardFunction(args.num_generations, getattr(args, "grading", None))
        if args.beta and args.bf16 and args.model_init_kwargs is None:
            # π_ref (beta > 0) is loaded in the policy's dtype, which is fp32 once its trainable weights
            # were upcast for bf16 training: in bf16 instead, the dtype its log-probs are computed in
            args.model_init_kwargs = {"dtype": torch.bfloat16}
        super().__init__(model=model, reward_funcs=reward_funcs, args=args, **kwargs)
        for f in self.reward_funcs:
            if isinstance(f, GroupRewardFunction):
                f.eos_token_ids = list(self.eos_token_ids)  # every EOS id TRL stops at

    def _tokenize_prompts(self, prompts: list):
        # text prompts are chat-templated already: no special tokens added (the pre-samples' encoding)
        if prompts and all(isinstance(p, str) for p in prompts):
            return encode_prompts(self.processing_class, prompts), None, {}
        return super()._tokenize_prompts(prompts)

    def train(self, *args: Any, **kwargs: Any):
        try:
            return super().train(*args, **kwargs)
        finally:
            for f in self.reward_funcs:
                if isinstance(f, GroupRewardFunction):
                    f.close()
