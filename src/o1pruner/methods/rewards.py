"""Length rewards as plain functions, one registry: O1-Pruner's LH reward and its peers'.

A reward maps a *group* of samples of one problem to one number per sample::

    group = Group(num_tokens=[120, 80, 300], correct=[True, True, False],
                  ref_mean_length=166.7, ref_mean_acc=0.67)
    params = reward_params("kimi", {"weight": 0.5})      # defaults filled, checked
    values = reward("kimi").apply(group, params)         # (3,) float

The group is the problem's K pre-samples for the off-policy (LH) trainer, and the step's
generations of that prompt for an on-policy (GRPO) one. Notation, the same for every reward:

- c = 1 if the sample is graded correct, else 0;
- L = max(num_tokens, 1) (:func:`lengths`), and every group statistic (L_min, L_max, μ, s, L_SOL,
  the mean length) is taken over these L;
- L̄_ref(x), Ā_ref(x): the means of num_tokens and of c over the problem's pre-samples
  (:func:`o1pruner.reference_stats.reference_stats`), whichever trainer runs.

Each reward is a function ``fn(group, *, <keywords>) -> (n,) float`` with keyword-only parameters
and no defaults: the defaults live in the registry (:data:`REWARDS`, a JSON schema per reward in
the config schema's style; a key without a ``default`` is required), and :func:`reward_params`
fills them. They are the one home of these defaults: the config blocks of the methods trained on
a reward (``methods.kimi``, ``methods.kimi_onpolicy``, ..., and ``methods.lh.lambda``) are made
from them (:mod:`o1pruner.methods.registry`, :func:`o1pruner.config.load_schema`). A config key that is not a Python name is mapped to the function's keyword by the
entry's ``keywords`` (``lh``: ``lambda`` -> ``lam``), in one place, :meth:`Reward.apply`.

Over a whole graded table, each problem's rows being its group: :func:`group_rewards`
(``o1pruner rewards`` on the command line, :mod:`o1pruner.methods.commands`). Formulas, sources
and parameters: docs/methods.md.
"""

from __future__ import annotations

import copy
import inspect
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import jsonschema
import numpy as np

from o1pruner.schemas import require_columns

if TYPE_CHECKING:
    import pandas as pd

# the graded-table columns a group is built from (finish_reason, when present: truncated)
NEEDED = ["problem_id", "num_tokens", "correct"]
STATS_NEEDED = ["problem_id", "mean_length", "mean_acc"]
# a sample with this finish_reason was cut at the generation limit (generation/engines.py)
TRUNCATED_REASON = "length"


def lengths(num_tokens: np.ndarray) -> np.ndarray:
    """L = max(num_tokens, 1) as floats, (n,): an empty response counts as one token (the EOS it
    still has to emit), so no reward divides by zero."""
    return np.maximum(np.asarray(num_tokens, dtype=float), 1.0)


@dataclass(frozen=True)
class Group:
    """One problem's samples: what every reward reads."""

    num_tokens: np.ndarray             # (n,) int >= 0: tokens of each response
    correct: np.ndarray                # (n,) bool: graded correct
    truncated: np.ndarray | None = None  # (n,) bool: cut at the generation limit; None: not known
    ref_mean_length: float = math.nan  # L̄_ref(x): mean num_tokens of the problem's pre-samples
    ref_mean_acc: float = math.nan     # Ā_ref(x): mean correctness of the problem's pre-samples

    def __post_init__(self):
        num = np.asarray(self.num_tokens)
        correct = np.asarray(self.correct, dtype=bool)
        if num.ndim != 1 or correct.shape != num.shape:
            raise ValueError(f"Group: num_tokens {num.shape} and correct {correct.shape} must be (n,) alike")
        if num.size and (not np.isfinite(num).all() or (num < 0).any() or (num != np.round(num)).any()):
            raise ValueError("Group: num_tokens must be whole numbers >= 0")
        object.__setattr__(self, "num_tokens", num.astype(np.int64))
        object.__setattr__(self, "correct", correct)
        if self.truncated is not None:
            truncated = np.asarray(self.truncated, dtype=bool)
            if truncated.shape != num.shape:
                raise ValueError(f"Group: truncated {truncated.shape} must be (n,) as num_tokens {num.shape}")
            object.__setattr__(self, "truncated", truncated)
        object.__setattr__(self, "ref_mean_length", float(self.ref_mean_length))
        object.__setattr__(self, "ref_mean_acc", float(self.ref_mean_acc))

    @property
    def lengths(self) -> np.ndarray:
        """L = max(num_tokens, 1), (n,) float."""
        return lengths(self.num_tokens)


# ---- the rewards: fn(group, *, params) -> (n,) float --------------------------------------------

def length_harmonizing_reward(
    num_tokens: np.ndarray, correct: np.ndarray, mean_length: np.ndarray, mean_acc: np.ndarray,
    lam: float,
) -> np.ndarray:
    """R = L̄_ref/L − 1 + λ·(A − Ā_ref), elementwise: the one home of the LH formula (the ``lh``
    reward of a group, and :func:`o1pruner.methods.datasets.build_lh` over a whole table).

    L = max(num_tokens, 1) (:func:`lengths`); the official script has no such guard.
    """
    acc = np.asarray(correct, dtype=float)
    return np.asarray(mean_length, float) / lengths(num_tokens) - 1.0 + lam * (acc - np.asarray(mean_acc, float))


def lh(group: Group, *, lam: float) -> np.ndarray:
    """O1-Pruner: L̄_ref(x)/L − 1 + λ·(c − Ā_ref(x))."""
    if not (math.isfinite(group.ref_mean_length) and math.isfinite(group.ref_mean_acc)):
        raise ValueError("reward 'lh' needs the reference statistics: the group's ref_mean_length and "
                         f"ref_mean_acc are {group.ref_mean_length}, {group.ref_mean_acc}")
    return length_harmonizing_reward(group.num_tokens, group.correct, group.ref_mean_length,
                                     group.ref_mean_acc, lam)


def kimi(group: Group, *, weight: float) -> np.ndarray:
    """Kimi k1.5: c + w·ℓ, λᵢ = 0.5 − (L − L_min)/(L_max − L_min) (0 when L_max = L_min),
    ℓ = λᵢ if correct, min(0, λᵢ) otherwise."""
    length, c = group.lengths, group.correct
    if length.size == 0:
        return np.zeros(0)
    lo, hi = length.min(), length.max()
    lam = 0.5 - (length - lo) / (hi - lo) if hi > lo else np.zeros_like(length)
    return c.astype(float) + weight * np.where(c, lam, np.minimum(0.0, lam))


def _sigmoid(z: np.ndarray) -> np.ndarray:
    """1 / (1 + e^−z), written with tanh so no exp overflows."""
    return 0.5 * (1.0 + np.tanh(0.5 * z))


def arora(group: Group, *, alpha: float) -> np.ndarray:
    """Arora & Zanette: c·(1 − α·σ((L − μ)/s)), μ and s the mean and population std of the
    correct samples' L; (L − μ)/s = 0 when s = 0 or fewer than two samples are correct."""
    length, c = group.lengths, group.correct
    ok = length[c]
    if ok.size < 2 or np.ptp(ok) == 0:
        z = np.zeros_like(length)
    else:
        z = (length - ok.mean()) / ok.std(ddof=0)
    return c.astype(float) * (1.0 - alpha * _sigmoid(z))


def budget(group: Group, *, max_tokens: int) -> np.ndarray:
    """ThinkPrune: c·[L ≤ L_max]; a truncated sample (``group.truncated``) scores 0 whatever its
    length: it was cut before its answer, so it is over its budget."""
    cut = group.lengths > max_tokens
    if group.truncated is not None:
        cut = cut | group.truncated
    return np.where(cut, 0.0, group.correct.astype(float))


def shorter_better(group: Group, *, alpha: float, beta: float) -> np.ndarray:
    """ShorterBetter: α·c − β·|L − L_SOL|, L_SOL the shortest correct L of the group, or the
    group's mean L when none is correct."""
    length, c = group.lengths, group.correct
    if length.size == 0:
        return np.zeros(0)
    sol = length[c].min() if c.any() else length.mean()
    return alpha * c.astype(float) - beta * np.abs(length - sol)


# ---- the registry --------------------------------------------------------------------------------

@dataclass(frozen=True)
class Reward:
    """One reward: its function, the JSON schema of its parameters, where it comes from."""

    name: str                         # --reward NAME; the key of REWARDS
    function: Callable[..., np.ndarray]  # fn(group, *, keywords) -> (n,) float
    params: dict                      # JSON schema of its keys (as Method.params); no "default": required
    source: str                       # paper and repository
    formula: str                      # one line
    display: str                      # its label in the tables and figures
    run_param: str                    # the key whose value names a run (kimi_weight_0.5) and is swept
    keywords: dict = field(default_factory=dict)  # a key -> the function's keyword, where they differ
    reference: bool = False           # reads L̄_ref(x), Ā_ref(x)

    def __post_init__(self):
        if self.run_param not in self.params:
            raise ValueError(f"reward {self.name!r}: run_param {self.run_param!r} is none of its parameters")

    def required(self) -> list[str]:
        return [k for k, spec in self.params.items() if "default" not in spec]

    def schema(self) -> dict:
        """The JSON schema of its parameter mapping."""
        return {"type": "object", "additionalProperties": False, "properties": self.params,
                "required": self.required()}

    def apply(self, group: Group, params: dict) -> np.ndarray:
        """The reward of each sample of ``group`` at ``params`` (all keys given:
        :func:`reward_params`), (n,) float."""
        return self.function(group, **{self.keywords.get(k, k): v for k, v in params.items()})


REWARDS: dict[str, Reward] = {}


def register_reward(r: Reward) -> Reward:
    """Add ``r`` to :data:`REWARDS` (a new name; every key maps to a keyword of its function)."""
    if not re.fullmatch(r"[a-z][a-z0-9_]*", r.name):
        raise ValueError(f"reward name {r.name!r}: lower-case letters, digits and _ only")
    if r.name in REWARDS and REWARDS[r.name] != r:
        raise ValueError(f"reward {r.name!r} is registered already")
    takes = set(inspect.signature(r.function).parameters)
    for key in r.params:
        if r.keywords.get(key, key) not in takes:
            raise ValueError(f"reward {r.name!r}: parameter {key!r} is no keyword of {r.function.__name__}")
    stray = set(r.keywords) - set(r.params)
    if stray:
        raise ValueError(f"reward {r.name!r}: keywords for unknown parameter(s) {sorted(stray)}")
    REWARDS[r.name] = r
    return r


def reward(name: str) -> Reward:
    if name not in REWARDS:
        raise ValueError(f"unknown reward {name!r}; registered: {', '.join(REWARDS)}")
    return REWARDS[name]


def reward_params(name: str, given: dict | None) -> dict:
    """``given`` with the reward's defaults filled in, in its schema's key order, checked: an
    unknown key, a missing required one or a value the schema refuses (or NaN/inf) raises a
    ValueError naming the reward and the key."""
    r = reward(name)
    given = dict(given or {})
    unknown = [k for k in given if k not in r.params]
    if unknown:
        raise ValueError(f"reward {name!r}: unknown parameter {unknown[0]!r}; "
                         f"it takes {', '.join(map(repr, r.params)) or 'none'}")
    missing = [k for k in r.required() if k not in given]
    if missing:
        raise ValueError(f"reward {name!r}: parameter {missing[0]!r} is required (it has no default)")
    out = {k: given[k] if k in given else copy.deepcopy(spec["default"]) for k, spec in r.params.items()}
    errors = sorted(jsonschema.Draft202012Validator(r.schema()).iter_errors(out), key=lambda e: list(map(str, e.path)))
    if errors:
        key = errors[0].path[0] if errors[0].path else "?"
        raise ValueError(f"reward {name!r}: parameter {key!r}: {errors[0].message}")
    for k, v in out.items():
        if isinstance(v, float) and not math.isfinite(v):
            raise ValueError(f"reward {name!r}: parameter {k!r}: {v} is not a finite number")
    return out


register_reward(Reward(
    "lh", lh, keywords={"lambda": "lam"}, reference=True,
    params={"lambda": {"type": "number", "minimum": 0, "default": 2,
                       "description": "λ: weight of the accuracy term (paper: 2 Marco-o1, 5 QwQ)"}},
    display="O1-Pruner", run_param="lambda",
    source="Luo et al., O1-Pruner (arXiv 2501.12570); StarDewXXX/O1-Pruner o1_scripts/construct_dataset.py",
    formula="L̄_ref(x)/L − 1 + λ·(c − Ā_ref(x))"))
register_reward(Reward(
    "kimi", kimi,
    params={"weight": {"type": "number", "minimum": 0, "default": 1, "description": "w: weight of the length term"}},
    display="Kimi k1.5 reward", run_param="weight",
    source="Kimi Team, Kimi k1.5 (arXiv 2501.12599) §2.3.3; huggingface/open-r1 src/open_r1/rewards.py len_reward",
    formula="c + w·ℓ, λᵢ = 0.5 − (L − L_min)/(L_max − L_min), ℓ = λᵢ if c = 1 else min(0, λᵢ)"))
register_reward(Reward(
    "arora", arora,
    params={"alpha": {"type": "number", "minimum": 0, "maximum": 1, "default": 0.1,
                      "description": "α: how much a long correct answer loses"}},
    display="Arora & Zanette reward", run_param="alpha",
    source="Arora & Zanette, Training Language Models to Reason Efficiently (arXiv 2502.04463); "
           "Zanette-Labs/efficient-reasoning",
    formula="c·(1 − α·sigmoid((L − μ)/s)), μ, s over the group's correct samples"))
register_reward(Reward(
    "budget", budget,
    params={"max_tokens": {"type": "integer", "minimum": 1,
                           "description": "L_max: the token budget; no default: set it per model"}},
    display="ThinkPrune budget reward", run_param="max_tokens",
    source="Hou et al., ThinkPrune (arXiv 2504.01296); UCSB-NLP-Chang/ThinkPrune",
    formula="c·[L ≤ L_max], a truncated sample scores 0"))
register_reward(Reward(
    "shorter_better", shorter_better,
    params={"alpha": {"type": "number", "minimum": 0, "default": 2,
                      "description": "α: reward of a correct answer"},
            "beta": {"type": "number", "minimum": 0, "default": 0.001,
                     "description": "β: penalty per token away from L_SOL"}},
    display="ShorterBetter reward", run_param="beta",
    source="Yi et al., ShorterBetter (arXiv 2504.21370); JingyangYi/ShorterBetter",
    formula="α·c − β·|L − L_SOL|, L_SOL the shortest correct L of the group, else its mean L"))


# ---- a whole graded table, each problem's rows one group -------------------------------------------

def check_samples(graded: pd.DataFrame, where: str = "graded samples") -> None:
    """The columns a group is built from are there and usable (``where`` names the table)."""
    require_columns(graded, NEEDED, where)
    for col in NEEDED:
        if graded[col].isna().any():
            bad = sorted(graded.loc[graded[col].isna(), "problem_id"].astype(str).unique())[:5]
            raise ValueError(f"{where}: {col!r} is missing for some rows (problem(s) {bad})")
    if (graded["num_tokens"] < 0).any():
        bad = sorted(graded.loc[graded["num_tokens"] < 0, "problem_id"].astype(str).unique())[:5]
        raise ValueError(f"{where}: 'num_tokens' is negative for problem(s) {bad}")


def group_rewards(graded: pd.DataFrame, stats: pd.DataFrame, name: str, params: dict | None) -> np.ndarray:
    """The reward ``name`` at ``params`` of every row of ``graded``, in its row order, (len(graded),)
    float: each problem's rows are one group; ``stats`` (one row per problem_id, as
    ``reference_stats.parquet``) gives its L̄_ref(x) (``mean_length``) and Ā_ref(x) (``mean_acc``).
    A row with ``finish_reason == "length"`` is truncated, when the column exists."""
    r = reward(name)
    params = reward_params(name, params)
    check_samples(graded)
    require_columns(stats, STATS_NEEDED, "reference stats")
    dup = stats["problem_id"].duplicated()
    if dup.any():
        raise ValueError(f"reference stats: duplicate problem_id {stats.loc[dup, 'problem_id'].iloc[0]!r}")
    ref = stats.set_index("problem_id")[["mean_length", "mean_acc"]].astype(float)
    missing = sorted(set(graded["problem_id"]) - set(ref.index), key=str)
    if missing:
        raise ValueError(f"reference stats: no row for problem(s) {missing[:5]}")
    num = graded["num_tokens"].to_numpy(dtype=float)  # Group checks they are whole
    correct = graded["correct"].astype(bool).to_numpy()
    truncated = (graded["finish_reason"] == TRUNCATED_REASON).to_numpy() if "finish_reason" in graded else None
    out = np.zeros(len(graded))
    for pid, rows in graded.groupby("problem_id", sort=False).indices.items():
        group = Group(num[rows], correct[rows], None if truncated is None else truncated[rows],
                      ref.at[pid, "mean_length"], ref.at[pid, "mean_acc"])
        out[rows] = r.apply(group, params)
    return out
