"""O1-Pruner's objective solved on-policy (GRPO): the training prompt set and the group rewards.

The paper optimises the Length-Harmonizing reward off-policy, on the reference model's pre-samples,
"for simplicity"; ``lh_onpolicy`` samples from the policy being trained instead (TRL's
``GRPOTrainer``, :mod:`o1pruner.training.grpo`). Its training table is the set of PROMPTS, one row
per training problem (:func:`prompt_set`), with what scoring a fresh sample needs:

    problem_id, prompt, gold, ref_mean_length, ref_mean_acc, group_reward, reward_params [, problem]

- ``prompt``: the prompt the pre-samples were generated with (chat-templated, from the graded table),
  so the policy is sampled exactly as the reference model was;
- ``gold``: the problem's answer (the :class:`o1pruner.grading.grader.Grader` scores samples against it);
- ``ref_mean_length``, ``ref_mean_acc``: the reference statistics L̄_ref(x), Ā_ref(x) of the problem
  (:mod:`o1pruner.reference_stats`), which stay fixed while the policy moves;
- ``group_reward``: the name of the group reward (:data:`GROUP_REWARDS`); ``reward_params``: its
  keyword arguments as JSON (``lh``: ``{"lam": λ, "clip": [lo, hi]}``). The run's parameter (λ of
  ``lh_onpolicy_lambda_2``) thus travels in the table, as the off-policy λ travels in the LH weights:
  the trainer reads no method key to score.

A group reward scores the G samples of one prompt at one step together (it may need the group: its
shortest length, its accuracy)::

    group_reward(num_tokens: np.ndarray, correct: np.ndarray, ref_mean_length: float,
                 ref_mean_acc: float, **params) -> np.ndarray    # one reward per sample of the group

``num_tokens`` counts the completion's tokens without its EOS, as the pre-samples' ``num_tokens``
(``o1pruner.generation.engines.Generation``), so L(y) and L̄_ref(x) are measured alike.
"""

from __future__ import annotations

import json
from collections.abc import Callable

import numpy as np
import pandas as pd

from o1pruner.methods.datasets import _canonical, _keep_problem, _reference_means, length_harmonizing_reward
from o1pruner.schemas import require_columns

PROMPT_SET_COLUMNS = ["problem_id", "prompt", "gold", "ref_mean_length", "ref_mean_acc",
                      "group_reward", "reward_params"]

GroupReward = Callable[..., np.ndarray]


def lh_group_reward(num_tokens: np.ndarray, correct: np.ndarray, ref_mean_length: float, ref_mean_acc: float,
                    lam: float, clip: tuple[float, float] | None = None) -> np.ndarray:
    """The LH reward of each sample, R = L̄_ref/L − 1 + λ·(A − Ā_ref)
    (:func:`o1pruner.methods.datasets.length_harmonizing_reward`), clipped to ``clip`` as the
    off-policy data set clips it. It needs no other member of the group: GRPO's group baseline
    (mean and std of the group's rewards) then plays the part of the off-policy standardisation."""
    reward = length_harmonizing_reward(num_tokens, correct, ref_mean_length, ref_mean_acc, float(lam))
    if clip is not None:
        lo, hi = (float(c) for c in clip)
        reward = np.clip(reward, lo, hi)
    return reward


# name -> group reward; the ``group_reward`` column of a prompt set names one of these. A registry
# of group rewards (lh, kimi, arora, budget, shorter_better) plugs in here with one line, e.g.
# ``GROUP_REWARDS.update(rewards.REWARDS)``, or by ``group_reward`` returning its lookup.
GROUP_REWARDS: dict[str, GroupReward] = {"lh": lh_group_reward}


def group_reward(name: str) -> GroupReward:
    """The group reward called ``name`` (the trainer's only way to one: the hook)."""
    if name not in GROUP_REWARDS:
        raise ValueError(f"unknown group reward {name!r}; known: {', '.join(GROUP_REWARDS)}")
    return GROUP_REWARDS[name]


def build_prompt_set(graded: pd.DataFrame, stats: pd.DataFrame | None, reward: str, params: dict) -> pd.DataFrame:
    """One row per training problem of ``graded`` (columns: module docstring), problems in order.

    Problems without a gold answer are left out (no sample of theirs could ever be graded right).
    """
    group_reward(reward)  # a typo fails here, not at the first training step
    require_columns(graded, ["gold"], "graded samples")
    df = _canonical(graded)
    ref = _reference_means(df, stats)
    first = df.groupby("problem_id", sort=True).head(1)
    prompts = df.groupby("problem_id", sort=True)["prompt"].nunique()
    if (prompts > 1).any():
        raise ValueError(f"graded samples: problem {prompts[prompts > 1].index[0]!r} was sampled with "
                         "several prompts; the prompt set needs one per problem")
    has_gold = first["gold"].notna() & (first["gold"].astype(str).str.strip() != "")
    first = first[has_gold]
    means = ref.loc[first["problem_id"]]
    out = first[_keep_problem(["problem_id", "prompt"], first)].copy()
    out["gold"] = first["gold"].astype(str).to_numpy()
    out["ref_mean_length"] = means["mean_length"].to_numpy()
    out["ref_mean_acc"] = means["mean_acc"].to_numpy()
    out["group_reward"] = reward
    out["reward_params"] = json.dumps(params, sort_keys=True)
    return out[_keep_problem(PROMPT_SET_COLUMNS, out)].reset_index(drop=True)


def prompt_set(graded: pd.DataFrame, stats: pd.DataFrame, mcfg: dict, seed: int, value: float | None) -> pd.DataFrame:
    """The registry's builder of ``lh_onpolicy``: the prompt set scored by the LH reward at
    λ = ``value`` (the run's λ: ``lh_onpolicy_lambda_<λ>``), clipped to ``methods.lh_onpolicy.clip``."""
    lam = float(value)
    if not np.isfinite(lam) or lam < 0:
        raise ValueError(f"lambda must be a finite number >= 0, got {value}")
    lo, hi = (float(c) for c in mcfg["clip"])
    if not lo < hi:
        raise ValueError(f"clip must be (lo, hi) with lo < hi, got {mcfg['clip']}")
    return build_prompt_set(graded, stats, "lh", {"lam": lam, "clip": [lo, hi]})
