"""A length reward trained on-policy (GRPO): the training prompt set.

The paper optimises the Length-Harmonizing reward off-policy, on the reference model's pre-samples,
"for simplicity"; the ``<reward>_onpolicy`` methods (``lh_onpolicy``, ``kimi_onpolicy``, ...) sample
from the policy being trained instead (TRL's ``GRPOTrainer``, :mod:`o1pruner.training.grpo`) and
score each prompt's G samples of a step as one group with a reward of
:mod:`o1pruner.methods.rewards`. Their training table is the set of PROMPTS, one row per training
problem (:func:`prompt_set`), with what scoring a fresh sample needs:

    problem_id, prompt, gold, ref_mean_length, ref_mean_acc, group_reward, reward_params,
    reward_clip [, problem]

- ``prompt``: the prompt the pre-samples were generated with (chat-templated, from the graded table),
  so the policy is sampled exactly as the reference model was;
- ``gold``: the problem's answer (the :class:`o1pruner.grading.grader.Grader` scores samples against it);
- ``ref_mean_length``, ``ref_mean_acc``: the reference statistics L̄_ref(x), Ā_ref(x) of the problem
  (:mod:`o1pruner.reference_stats`), which stay fixed while the policy moves;
- ``group_reward``: the reward's name (:data:`o1pruner.methods.rewards.REWARDS`); ``reward_params``:
  its parameters as JSON, defaults filled (``lh``: ``{"lambda": 2.0}``); ``reward_clip``: [lo, hi],
  the clip applied to each raw reward, as the off-policy table clips it. The run's parameter (λ of
  ``lh_onpolicy_lambda_2``) thus travels in the table, as the off-policy λ travels in the LH weights:
  the trainer reads no method key to score.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from o1pruner.methods.datasets import _canonical, _keep_problem, _reference_means, check_clip, reward_params_of
from o1pruner.methods.rewards import reward_params
from o1pruner.schemas import require_columns

PROMPT_SET_COLUMNS = ["problem_id", "prompt", "gold", "ref_mean_length", "ref_mean_acc",
                      "group_reward", "reward_params", "reward_clip"]


def build_prompt_set(graded: pd.DataFrame, stats: pd.DataFrame | None, reward: str, params: dict,
                     clip: tuple[float, float]) -> pd.DataFrame:
    """One row per training problem of ``graded`` (columns: module docstring), problems in order,
    scored by ``reward`` at ``params`` (checked, defaults filled, here: a typo fails now, not at the
    first training step), each raw reward clipped to ``clip``.

    Problems without a gold answer are left out (no sample of theirs could ever be graded right).
    """
    params = reward_params(reward, params)
    bounds = list(check_clip(clip))
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
    out["reward_clip"] = [bounds] * len(out)
    return out[_keep_problem(PROMPT_SET_COLUMNS, out)].reset_index(drop=True)


def prompt_set(graded: pd.DataFrame, stats: pd.DataFrame, mcfg: dict, seed: int, value: float | None,
               *, reward: str) -> pd.DataFrame:
    """The registry's builder of ``<reward>_onpolicy``: the prompt set scored by ``reward`` with
    ``methods.<m>``'s parameters, its run parameter at ``value`` (``lh_onpolicy_lambda_2``: λ = 2),
    clipped to ``methods.<m>.clip``."""
    if value is not None and not np.isfinite(float(value)):
        raise ValueError(f"the run's value must be a finite number, got {value}")
    return build_prompt_set(graded, stats, reward, reward_params_of(reward, mcfg, value), mcfg["clip"])
