"""Accuracy-Efficiency Score (AES), the paper's summary metric (§5.1, "Evaluation Metric").

    o1pruner aes --input metrics.csv --output aes.csv [--variant paper|table2]
                 [--alpha 1 --beta 3 --gamma 5]

With ΔLength = (L_base − L) / L_base and ΔAcc = (Acc − Acc_base) / Acc_base:

    AES = α·ΔLength + β·|ΔAcc|   if ΔAcc ≥ 0
    AES = α·ΔLength − γ·|ΔAcc|   if ΔAcc < 0          (α=1, β=3, γ=5; γ > β)

Variants (see the README, section "AES", for the evidence):

* ``"paper"`` (default) – the formula exactly as written above.
* ``"table2"`` – the reading that reproduces every AES value printed in the paper's
  Table 2: ``α·ΔLength + β·|ΔAcc|`` whatever the sign of ΔAcc, i.e. an accuracy *drop*
  is rewarded with β like a gain. The literal formula misses the 10 Table 2 cells
  where accuracy fell (and the 5 averages that include one); this variant matches all
  24 cells and all 8 averages.

Both variants average over datasets the same way Table 2 does: the ``AVERAGE`` row's
AES is the mean of the per-dataset AES values (not the AES of the mean Acc/Length).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from o1pruner.schemas import require_columns

VARIANTS = ("paper", "table2")
DEFAULT_WEIGHTS = {"alpha": 1.0, "beta": 3.0, "gamma": 5.0}

# input columns of compute_aes; acc is in percent, length in tokens
METRICS = ["model", "method", "dataset", "acc", "length"]
# columns compute_aes adds
AES_EXTRA = ["delta_length", "delta_acc", "aes"]
AVERAGE = "AVERAGE"
# optional columns that tell apart several runs of one method (Table 3's λ ablation)
RUN_COLUMNS = ("lambda",)


def is_baseline(method: object) -> bool:
    """The untouched long-thought model: method id ``baseline`` or the display name ``Baseline``."""
    return str(method).strip().lower() == "baseline"


def _check_weights(alpha: float, beta: float, gamma: float, variant: str) -> None:
    if variant not in VARIANTS:
        raise ValueError(f"unknown AES variant {variant!r}; choose one of {list(VARIANTS)}")
    for name, value in (("alpha", alpha), ("beta", beta), ("gamma", gamma)):
        # the paper requires α, β, γ > 0
        if not (isinstance(value, (int, float)) and math.isfinite(value) and value > 0):
            raise ValueError(f"AES weight {name} must be a finite number > 0, got {value!r}")


def delta_length(length, length_base):
    """ΔLength = (L_base − L) / L_base: the fraction of tokens saved (positive = shorter)."""
    return (length_base - length) / length_base


def delta_acc(acc, acc_base):
    """ΔAcc = (Acc − Acc_base) / Acc_base: relative accuracy change (positive = better)."""
    return (acc - acc_base) / acc_base


def aes_from_deltas(d_length, d_acc, alpha=1.0, beta=3.0, gamma=5.0, variant="paper"):
    """AES from ΔLength and ΔAcc (scalars or arrays) for the given variant."""
    d_length = np.asarray(d_length, dtype=float)
    d_acc = np.asarray(d_acc, dtype=float)
    gain = alpha * d_length + beta * np.abs(d_acc)
    if variant == "table2":
        return gain
    if variant == "paper":
        return np.where(d_acc >= 0, gain, alpha * d_length - gamma * np.abs(d_acc))
    raise ValueError(f"unknown AES variant {variant!r}; choose one of {list(VARIANTS)}")


def aes_score(acc, length, acc_base, length_base, alpha=1.0, beta=3.0, gamma=5.0,
              variant="paper") -> float:
    """AES of one (model, dataset) result against its baseline; acc in percent, length in tokens."""
    _check_weights(alpha, beta, gamma, variant)
    values = {"acc": acc, "length": length, "acc_base": acc_base, "length_base": length_base}
    for name, value in values.items():
        if not _is_finite_number(value):
            raise ValueError(f"aes_score: {name} must be a finite number, got {value!r}")
    if length <= 0 or length_base <= 0:
        raise ValueError(f"aes_score: lengths must be > 0, got length={length}, length_base={length_base}")
    if acc_base == 0:
        raise ValueError("aes_score: acc_base is 0, so the relative ΔAcc is undefined")
    d_l = delta_length(float(length), float(length_base))
    d_a = delta_acc(float(acc), float(acc_base))
    return float(aes_from_deltas(d_l, d_a, alpha, beta, gamma, variant))


def _is_finite_number(value) -> bool:
    if isinstance(value, bool):
        return False
    try:
        return math.isfinite(float(value))
    except (TypeError, ValueError):
        return False


def _plain(value):
    """numpy scalars as Python ones, so messages read ``acc=nan`` rather than ``np.float64(nan)``."""
    return value.item() if isinstance(value, np.generic) else value


def _row_label(df: pd.DataFrame, idx, run_cols: list[str]) -> str:
    keys = ["model", "method", "dataset", *run_cols]
    return f"row {idx} (" + ", ".join(f"{k}={_plain(df.at[idx, k])!r}" for k in keys) + ")"


def _check_values(df: pd.DataFrame, run_cols: list[str]) -> None:
    """Every acc/length must be a finite number, 0 ≤ acc ≤ 100 (percent) and length > 0."""
    for col in ("acc", "length"):
        numeric = pd.to_numeric(df[col], errors="coerce")
        bad = ~np.isfinite(numeric.to_numpy(dtype=float))
        if bad.any():
            idx = df.index[bad][0]
            raise ValueError(f"compute_aes: {col}={_plain(df.at[idx, col])!r} is not a finite number "
                             f"in {_row_label(df, idx, run_cols)}")
    acc = df["acc"].astype(float)
    out = df.index[(acc < 0) | (acc > 100)]
    if len(out):
        raise ValueError(f"compute_aes: acc={_plain(df.at[out[0], 'acc'])!r} is outside [0, 100] "
                         f"(acc is in percent) in {_row_label(df, out[0], run_cols)}")
    short = df.index[df["length"].astype(float) <= 0]
    if len(short):
        raise ValueError(f"compute_aes: length={_plain(df.at[short[0], 'length'])!r} must be > 0 "
                         f"in {_row_label(df, short[0], run_cols)}")
    if (df["dataset"].astype(str) == AVERAGE).any():
        idx = df.index[df["dataset"].astype(str) == AVERAGE][0]
        raise ValueError(f"compute_aes: dataset {AVERAGE!r} is reserved for the rows compute_aes "
                         f"adds; drop it from the input ({_row_label(df, idx, run_cols)})")


def _baselines(df: pd.DataFrame, run_cols: list[str]) -> pd.DataFrame:
    """Exactly one Baseline row per (model, dataset), indexed by (model, dataset)."""
    base = df[df["method"].map(is_baseline)]
    dup = base.duplicated(["model", "dataset"], keep=False)
    if dup.any():
        first = base[dup].iloc[0]
        rows = list(base.index[dup & (base["model"] == first["model"])
                               & (base["dataset"] == first["dataset"])])
        raise ValueError(f"compute_aes: duplicate Baseline for model={first['model']!r}, "
                         f"dataset={first['dataset']!r} (rows {rows}); need exactly one")
    zero = base.index[base["acc"].astype(float) == 0]
    if len(zero):
        raise ValueError(f"compute_aes: Baseline acc is 0 in {_row_label(base, zero[0], run_cols)}, "
                         "so the relative ΔAcc is undefined")
    base = base.set_index(["model", "dataset"])
    for pair in df.loc[~df["method"].map(is_baseline), ["model", "dataset"]].drop_duplicates().itertuples(index=False):
        if tuple(pair) not in base.index:
            raise ValueError(f"compute_aes: no Baseline row for model={pair.model!r}, "
                             f"dataset={pair.dataset!r}; AES is relative to it")
    return base


def _averages(out: pd.DataFrame, base: pd.DataFrame, run_cols: list[str]) -> pd.DataFrame:
    """One AVERAGE row per run: mean acc/length, and AES = mean of the per-dataset AES (as in
    Table 2). Its ΔLength/ΔAcc compare the mean length/acc with the baseline's mean, which is how
    the paper's prose quotes "a 40.5% reduction in solution length"."""
    keys = ["model", "method", *run_cols]
    base_datasets = {m: set(g.index.get_level_values("dataset")) for m, g in base.groupby(level="model")}
    base_avg = base.groupby(level="model")[["acc", "length"]].mean()
    rows = []
    for key, group in out.groupby(keys, sort=False, dropna=False):
        key = dict(zip(keys, key))
        missing = sorted(base_datasets[key["model"]] - set(group["dataset"]))
        if missing:
            run = ", ".join(f"{k}={_plain(v)!r}" for k, v in key.items())
            raise ValueError(f"compute_aes: {run} has no result for dataset(s) {missing} that the "
                             "Baseline has, so its AVERAGE would not be comparable")
        acc, length = group["acc"].mean(), group["length"].mean()
        acc_b, length_b = base_avg.loc[key["model"], "acc"], base_avg.loc[key["model"], "length"]
        row = {**key, "dataset": AVERAGE, "acc": acc, "length": length,
               "delta_length": delta_length(length, length_b),
               "delta_acc": delta_acc(acc, acc_b), "aes": group["aes"].mean()}
        if is_baseline(key["method"]):
            row.update(dict.fromkeys(AES_EXTRA, 0.0))  # exact 0, not a rounding -0.0
        rows.append(row)
    return pd.DataFrame(rows)


def compute_aes(df: pd.DataFrame, alpha: float = 1.0, beta: float = 3.0, gamma: float = 5.0,
                variant: str = "paper") -> pd.DataFrame:
    """Add ``delta_length, delta_acc, aes`` to a metrics table and append AVERAGE rows.

    ``df`` has columns ``model, method, dataset, acc, length`` (acc in percent) with exactly one
    ``Baseline`` row per (model, dataset); an optional ``lambda`` column tells apart several
    runs of one method (the λ ablation). Existing ``delta_length/delta_acc/aes`` columns are
    recomputed. Baseline rows get AES 0. Returns the input rows followed by one
    ``dataset="AVERAGE"`` row per (model, method[, lambda]).
    """
    _check_weights(alpha, beta, gamma, variant)
    require_columns(df, METRICS, "compute_aes input")
    run_cols = [c for c in RUN_COLUMNS if c in df.columns]
    out = df.drop(columns=[c for c in AES_EXTRA if c in df.columns]).copy()
    if out.empty:
        raise ValueError("compute_aes: the metrics table has no rows")
    _check_values(out, run_cols)
    out["acc"] = out["acc"].astype(float)
    out["length"] = out["length"].astype(float)
    dup = out.duplicated(["model", "method", "dataset", *run_cols], keep=False)
    if dup.any():
        keys = ["model", "method", "dataset", *run_cols]
        idx = out.index[dup][0]
        # NaN (a baseline's λ) must compare equal to itself here
        key_of = dict(zip(out.index, (tuple(None if pd.isna(v) else v for v in row)
                                      for row in out[keys].itertuples(index=False))))
        same = [i for i, key in key_of.items() if key == key_of[idx]]
        raise ValueError(f"compute_aes: more than one result for {_row_label(out, idx, run_cols)}; "
                         f"rows {list(same)}")
    base = _baselines(out, run_cols)

    pairs = pd.MultiIndex.from_frame(out[["model", "dataset"]])
    acc_b = base["acc"].astype(float).reindex(pairs).to_numpy()
    length_b = base["length"].astype(float).reindex(pairs).to_numpy()
    out["delta_length"] = delta_length(out["length"].to_numpy(), length_b)
    out["delta_acc"] = delta_acc(out["acc"].to_numpy(), acc_b)
    out["aes"] = aes_from_deltas(out["delta_length"], out["delta_acc"], alpha, beta, gamma, variant)
    # the baseline scores 0 by definition (and not, e.g., -0.0 from rounding)
    out.loc[out["method"].map(is_baseline), AES_EXTRA] = 0.0
    return pd.concat([out, _averages(out, base, run_cols)], ignore_index=True)
