"""Training sets built from the graded reference samples: SFT, DPO and Length-Harmonizing (LH).

    o1pruner build-dataset --method sft --samples results/toy/presample/graded.parquet \
        --stats results/toy/reference_stats.parquet --method-json '{"n_shortest": 2}' --output sft.parquet
    o1pruner build-dataset --method lh --samples results/toy/presample/graded.parquet \
        --stats results/toy/reference_stats.parquet --method-json '{"samples_per_problem": 2, "clip": [-2, 4]}' \
        --value 2 --seed 0 [--difficulty-percentiles 0 40] --output lh_lambda_2.parquet

(the method's keys and defaults: ``methods.<method>`` of the config schema; the workflow passes
the ones its builder reads, :data:`o1pruner.methods.registry.Method.data_keys`).

Input: a graded-samples table (``schemas.GRADED``; this module needs ``problem_id, sample_idx,
prompt, response, num_tokens, correct``). ``(problem_id, sample_idx)`` must be unique.
Every builder sorts by ``(problem_id, sample_idx)`` first, so the output (rows and Parquet
bytes) does not depend on the input row order.

Python API (all return a new DataFrame with a fresh RangeIndex):

- :func:`build_sft` -> ``problem_id, sample_idx, prompt, response, num_tokens``
- :func:`build_dpo` -> ``problem_id, prompt, chosen, rejected, chosen_tokens, rejected_tokens,
  chosen_sample_idx, rejected_sample_idx``
- :func:`build_lh`  -> ``problem_id, sample_idx, prompt, response, num_tokens, correct, reward,
  reward_clipped, weight, ref_mean_length, ref_mean_acc`` (``weight`` is what the LH loss uses)

The LH reward (the paper's length-harmonizing reward; official ``o1_scripts/construct_dataset.py``)::

    R(x, y) = L̄_ref(x) / L(y) - 1 + λ · (A(x, y) - Ā_ref(x))
    weight  = (clip(R, lo, hi) - mean) / std        # over the whole dataset, population std

where L̄_ref(x) and Ā_ref(x) are the mean ``num_tokens`` and mean ``correct`` over ALL graded
samples of problem x (as in the official script, which averages over all K samples), and
L(y) = max(num_tokens, 1). The formula's one home is
:func:`o1pruner.methods.rewards.length_harmonizing_reward` (the ``lh`` reward of the reward
registry, :mod:`o1pruner.methods.rewards`); it is imported here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from o1pruner.config import schema_default
from o1pruner.methods.rewards import group_rewards, length_harmonizing_reward
from o1pruner.methods.rewards import reward as reward_spec
from o1pruner.reference_stats import reference_stats
from o1pruner.schemas import require_columns

# columns every builder reads from the graded table
NEEDED = ["problem_id", "sample_idx", "prompt", "response", "num_tokens", "correct"]

SFT_COLUMNS = ["problem_id", "sample_idx", "prompt", "response", "num_tokens"]
DPO_COLUMNS = [
    "problem_id", "prompt", "chosen", "rejected", "chosen_tokens", "rejected_tokens",
    "chosen_sample_idx", "rejected_sample_idx",
]
LH_COLUMNS = [
    "problem_id", "sample_idx", "prompt", "response", "num_tokens", "correct", "reward",
    "reward_clipped", "weight", "ref_mean_length", "ref_mean_acc",
]


def _keep_problem(columns: list[str], df: pd.DataFrame) -> list[str]:
    """``columns`` plus the problem text when the samples carry it: the trainer needs it to
    render the official training prompt (``training.prompt: official``)."""
    return columns + ["problem"] if "problem" in df.columns else columns


# ---- input checks -------------------------------------------------------------------------

def _canonical(graded: pd.DataFrame, where: str = "graded samples") -> pd.DataFrame:
    """Check the graded table and return it sorted by (problem_id, sample_idx).

    Sorting first is what makes every builder independent of the input row order.
    """
    require_columns(graded, NEEDED, where)
    df = graded.copy()
    if df["correct"].isna().any():
        bad = sorted(df.loc[df["correct"].isna(), "problem_id"].astype(str).unique())[:5]
        raise ValueError(f"{where}: 'correct' is missing (ungraded) for problem(s) {bad}")
    if df["num_tokens"].isna().any() or (df["num_tokens"] < 0).any():
        bad = sorted(df.loc[df["num_tokens"].isna() | (df["num_tokens"] < 0), "problem_id"]
                     .astype(str).unique())[:5]
        raise ValueError(f"{where}: 'num_tokens' is missing or negative for problem(s) {bad}")
    dup = df.duplicated(["problem_id", "sample_idx"], keep=False)
    if dup.any():
        first = df.loc[dup, ["problem_id", "sample_idx"]].iloc[0].tolist()
        raise ValueError(f"{where}: duplicate (problem_id, sample_idx), e.g. {first}")
    df["correct"] = df["correct"].astype(bool)
    df["num_tokens"] = df["num_tokens"].astype(np.int64)
    return df.sort_values(["problem_id", "sample_idx"], kind="mergesort").reset_index(drop=True)


def _reference_means(df: pd.DataFrame, stats: pd.DataFrame | None = None) -> pd.DataFrame:
    """Per-problem L̄_ref(x) (``mean_length``) and Ā_ref(x) (``mean_acc``), indexed by problem_id:
    the reference statistics (:func:`o1pruner.reference_stats.reference_stats`) of the graded
    samples, or the ``stats`` table of ``o1pruner reference-stats`` when one is passed.
    """
    if stats is None:
        stats = reference_stats(df)
    require_columns(stats, ["problem_id", "mean_length", "mean_acc"], "reference stats")
    if stats["problem_id"].duplicated().any():
        dup = stats.loc[stats["problem_id"].duplicated(), "problem_id"].iloc[0]
        raise ValueError(f"reference stats: duplicate problem_id {dup!r}")
    ref = stats.set_index("problem_id")[["mean_length", "mean_acc"]].astype(float)
    missing = sorted(set(df["problem_id"]) - set(ref.index), key=str)
    if missing:
        raise ValueError(f"reference stats: no row for problem(s) {missing[:5]}")
    if not np.isfinite(ref.loc[df["problem_id"].unique()].to_numpy()).all():
        raise ValueError("reference stats: non-finite mean_length/mean_acc")
    return ref


# ---- SFT / DPO ----------------------------------------------------------------------------

def _shortest_correct(df: pd.DataFrame, n: int) -> pd.DataFrame:
    """Per problem, the n shortest correct samples (ties by sample_idx), problems in order.

    One stable sort and a groupby-head instead of a Python loop over problems: the same rows,
    ~30x faster at a million samples (benchmarks/bench_data_stages.py).
    """
    correct = df[df["correct"]]
    ordered = correct.sort_values(["problem_id", "num_tokens", "sample_idx"], kind="mergesort")
    return ordered.groupby("problem_id", sort=False).head(n)


def build_sft(graded: pd.DataFrame, n_shortest: int = schema_default("methods.sft.n_shortest")) -> pd.DataFrame:
    """SFT baseline: per problem, the ``n_shortest`` shortest correct solutions.

    Problems without a correct sample contribute nothing. Rows are ordered by problem_id, then by
    length (shortest first).
    """
    if n_shortest < 1:
        raise ValueError(f"n_shortest must be >= 1, got {n_shortest}")
    df = _canonical(graded)
    return _shortest_correct(df, n_shortest)[_keep_problem(SFT_COLUMNS, df)].reset_index(drop=True)


def build_dpo(graded: pd.DataFrame, n_chosen: int = schema_default("methods.dpo.n_chosen")) -> pd.DataFrame:
    """DPO baseline: chosen = the ``n_chosen`` shortest correct, rejected = the longest other one.

    The rejected response is the longest sample of the problem that is not among the chosen
    ones (any correctness; ties broken by the lowest sample_idx), paired with every chosen
    response (one pair per chosen). Problems with no correct sample or no sample left to reject
    are skipped, as are pairs whose chosen and rejected texts are identical (no preference
    signal).
    """
    if n_chosen < 1:
        raise ValueError(f"n_chosen must be >= 1, got {n_chosen}")
    df = _canonical(graded)
    chosen = _shortest_correct(df, n_chosen)
    others = df.drop(index=chosen.index)
    others = others[others["problem_id"].isin(chosen["problem_id"])]
    rejected = (others.sort_values(["problem_id", "num_tokens", "sample_idx"],
                                   ascending=[True, False, True], kind="mergesort")
                .groupby("problem_id", sort=False).head(1))
    pairs = chosen.merge(rejected[["problem_id", "response", "num_tokens", "sample_idx"]],
                         on="problem_id", suffixes=("", "_rej"), how="inner")
    pairs = pairs[pairs["response"] != pairs["response_rej"]]
    out = pd.DataFrame({
        "problem_id": pairs["problem_id"], "prompt": pairs["prompt"],
        "chosen": pairs["response"], "rejected": pairs["response_rej"],
        "chosen_tokens": pairs["num_tokens"].astype(int),
        "rejected_tokens": pairs["num_tokens_rej"].astype(int),
        "chosen_sample_idx": pairs["sample_idx"], "rejected_sample_idx": pairs["sample_idx_rej"],
    })
    if "problem" in pairs.columns:
        out["problem"] = pairs["problem"]
    return out[_keep_problem(DPO_COLUMNS, df)].reset_index(drop=True)


# ---- Length-Harmonizing -------------------------------------------------------------------

def standardise(values: np.ndarray) -> np.ndarray:
    """(v − mean) / std with the population std (ddof=0, ``np.std`` as in the official script).

    If all values are identical (including a single row) the std is 0; the official code would
    produce NaN there. We return 0 for every row instead: no example is preferred over another,
    so the LH loss has no gradient, which is the honest outcome for a dataset with no signal.
    """
    values = np.asarray(values, dtype=float)
    if values.size == 0 or np.ptp(values) == 0:
        return np.zeros_like(values)
    return (values - values.mean()) / values.std(ddof=0)


def _pick_samples(df: pd.DataFrame, samples_per_problem: int, seed: int) -> pd.DataFrame:
    """Choose ``samples_per_problem`` samples of each problem uniformly without replacement.

    One numpy Generator walks the problems in sorted problem_id order, so the pick depends only
    on the seed and the set of rows. Problems with fewer samples keep all of them. (The official
    script ``random.shuffle``s each problem's K samples and keeps the first two — the same
    distribution.)
    """
    rng = np.random.default_rng(seed)
    keep = []
    for _, group in df.groupby("problem_id", sort=True):
        k = min(samples_per_problem, len(group))
        keep.append(np.sort(rng.choice(group.index.to_numpy(), size=k, replace=False)))
    if not keep:
        return df.iloc[:0]
    return df.loc[np.concatenate(keep)]


def build_lh(
    graded: pd.DataFrame,
    lam: float,
    samples_per_problem: int = schema_default("methods.lh.samples_per_problem"),
    clip: tuple[float, float] = tuple(schema_default("methods.lh.clip")),
    seed: int = 0,
    stats: pd.DataFrame | None = None,
) -> pd.DataFrame:
    """Length-Harmonizing dataset: sampled solutions with their standardised reward as weight.

    Steps (official ``construct_dataset.py``; the defaults, k=2 and clip [-2, 4] as there, are the
    schema's ``methods.lh``):
      1. L̄_ref(x), Ā_ref(x) from all samples of x (or from ``stats``),
      2. pick ``samples_per_problem`` samples per problem at random (seeded),
      3. reward R (:func:`o1pruner.methods.rewards.length_harmonizing_reward`), clipped to ``clip``,
      4. weight = standardised clipped reward over the whole dataset (:func:`standardise`).

    Differences from the official script: lengths come from ``num_tokens`` recorded at sampling
    time instead of re-tokenising; empty responses use L = 1; a dataset whose clipped rewards
    are all equal gets weight 0 instead of NaN. Problems with no correct sample or only correct
    samples need no special case: A − Ā_ref is then 0 for every sample, and R is the pure
    length term.
    """
    lam = float(lam)
    if not np.isfinite(lam) or lam < 0:
        raise ValueError(f"lambda must be a finite number >= 0, got {lam}")
    lo, hi = check_clip(clip)
    if samples_per_problem < 1:
        raise ValueError(f"samples_per_problem must be >= 1, got {samples_per_problem}")

    df = _canonical(graded)
    ref = _reference_means(df, stats)
    picked = _pick_samples(df, samples_per_problem, seed).reset_index(drop=True)
    means = ref.loc[picked["problem_id"]]
    reward = length_harmonizing_reward(picked["num_tokens"].to_numpy(), picked["correct"].to_numpy(),
                                       means["mean_length"].to_numpy(), means["mean_acc"].to_numpy(), lam)
    return _weighted_table(picked, means, reward, (lo, hi))


def _weighted_table(picked: pd.DataFrame, means: pd.DataFrame, reward: np.ndarray,
                    clip: tuple[float, float]) -> pd.DataFrame:
    """The off-policy trainer's table (:data:`LH_COLUMNS`) of the ``picked`` samples: their raw
    ``reward``, clipped to ``clip``, standardised over the table into the ``weight``, with their
    problems' reference statistics ``means`` (rows aligned with ``picked``)."""
    out = picked[_keep_problem(["problem_id", "sample_idx", "prompt", "response", "num_tokens", "correct"],
                               picked)].copy()
    out["reward"] = np.asarray(reward, dtype=float)
    out["reward_clipped"] = np.clip(out["reward"].to_numpy(), *clip)
    out["weight"] = standardise(out["reward_clipped"].to_numpy())
    out["ref_mean_length"] = means["mean_length"].to_numpy()
    out["ref_mean_acc"] = means["mean_acc"].to_numpy()
    return out[_keep_problem(LH_COLUMNS, out)].reset_index(drop=True)


# ---- the registry's builders: (graded, reference stats, methods.<m> keys, seed, run value) ------

def sft_dataset(graded: pd.DataFrame, stats: pd.DataFrame, mcfg: dict, seed: int, value: float | None) -> pd.DataFrame:
    return build_sft(graded, int(mcfg["n_shortest"]))


def dpo_dataset(graded: pd.DataFrame, stats: pd.DataFrame, mcfg: dict, seed: int, value: float | None) -> pd.DataFrame:
    return build_dpo(graded, int(mcfg["n_chosen"]))


def lh_dataset(graded: pd.DataFrame, stats: pd.DataFrame, mcfg: dict, seed: int, value: float | None) -> pd.DataFrame:
    """LH at λ = ``value`` (the run's λ: ``lh_lambda_<λ>``)."""
    return build_lh(graded, value, samples_per_problem=int(mcfg["samples_per_problem"]),
                    clip=tuple(mcfg["clip"]), seed=seed, stats=stats)


# ---- a length reward on the off-policy trainer ---------------------------------------------

def reward_params_of(reward: str, mcfg: dict, value: float | None) -> dict:
    """The parameters of ``reward`` for one run: ``methods.<m>``'s keys of that reward, its run
    parameter at the run's ``value`` (``kimi_weight_0.5``: 0.5)."""
    r = reward_spec(reward)
    params = {k: mcfg[k] for k in r.params if k in mcfg}
    if value is not None:
        params[r.run_param] = value
    return params


def check_clip(clip) -> tuple[float, float]:
    lo, hi = (float(c) for c in clip)
    if not lo < hi:
        raise ValueError(f"clip must be (lo, hi) with lo < hi, got {clip}")
    return lo, hi


def reward_dataset(graded: pd.DataFrame, stats: pd.DataFrame, mcfg: dict, seed: int, value: float | None,
                   *, reward: str) -> pd.DataFrame:
    """A length reward on O1-Pruner's off-policy trainer: :func:`build_lh` with ``reward`` in place
    of the LH reward. Every pre-sample is scored with its problem's pre-samples as the group
    (:func:`o1pruner.methods.rewards.group_rewards`; the run parameter at ``value``), then the
    samples are picked, clipped and standardised as for LH; ``ref_mean_*`` are the reference
    statistics, as in LH's table."""
    params = reward_params_of(reward, mcfg, value)
    clip = check_clip(mcfg["clip"])
    df = _canonical(graded)
    ref = _reference_means(df, stats)
    df["reward"] = group_rewards(df, ref.reset_index(), reward, params)
    picked = _pick_samples(df, int(mcfg["samples_per_problem"]), seed).reset_index(drop=True)
    return _weighted_table(picked, ref.loc[picked["problem_id"]], picked["reward"].to_numpy(), clip)
