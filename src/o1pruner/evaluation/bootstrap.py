"""Paired bootstrap over problems: 95 % intervals for Acc, Length and AES, and for each method's
difference to the baseline on the same problems.

All runs of one (model, dataset) were evaluated on the same problems, so one replicate draws
the problems once (with replacement) and every run – baseline included – is scored on that
same draw. A replicate's AES therefore compares the method's replicate Acc/Length with the
baseline's replicate Acc/Length on the same resampled problems. With sampled evaluation
(several rows share a ``problem_id``) a problem is drawn with all its samples.

Vectorised: a replicate is a vector of problem counts ``W[b, p]`` (how often problem ``p`` was
drawn), so the replicate sums of every run are one matrix product ``W @ S.T``. The AVERAGE cell
of a replicate is the mean over datasets of that replicate's per-dataset values (each dataset
drawn independently), as Table 2 averages.

Intervals are percentile intervals; replicates where the baseline scored 0 % (AES undefined)
are left out of the AES interval.
"""

from __future__ import annotations

import zlib
from collections.abc import Mapping

import numpy as np
import pandas as pd

from o1pruner.evaluation.aes import (
    AVERAGE,
    aes_from_deltas,
    delta_acc,
    delta_length,
    is_baseline,
)
from o1pruner.io import read_table
from o1pruner.methods import registry
from o1pruner.schemas import require_columns

EVAL_ROW_COLUMNS = ["problem_id", "correct", "num_tokens"]
METRICS = ("acc", "length", "aes")
DIFFS = ("acc_diff", "length_diff")


def ci_columns(names=METRICS + DIFFS) -> list[str]:
    return [f"{n}_{b}" for n in names for b in ("lo", "hi")]


def group_seed(seed: int, *names: str) -> list[int]:
    """A stable seed per (model, dataset): the same draw in Table 2, Table 3 and the λ targets."""
    return [int(seed)] + [zlib.crc32(str(n).encode()) for n in names]


def draw_indices(rng: np.random.Generator, n_problems: int, n_boot: int) -> np.ndarray:
    """(B, P) problem indices of B bootstrap replicates."""
    return rng.integers(0, n_problems, size=(n_boot, n_problems))


def counts_from_indices(idx: np.ndarray, n_problems: int) -> np.ndarray:
    """(B, P) how often each problem was drawn in each replicate (one bincount for all B)."""
    n_boot = idx.shape[0]
    flat = (idx + np.arange(n_boot)[:, None] * n_problems).ravel()
    return np.bincount(flat, minlength=n_boot * n_problems).reshape(n_boot, n_problems).astype(float)


def per_problem(rows: pd.DataFrame, problems: pd.Index, where: str) -> np.ndarray:
    """(3, P): correct count, token sum and sample count per problem, in ``problems`` order."""
    require_columns(rows, EVAL_ROW_COLUMNS, where)
    codes = problems.get_indexer(rows["problem_id"])
    size = len(problems)
    n = np.bincount(codes[codes >= 0], minlength=size)
    if (codes < 0).any() or (n == 0).any():
        extra = rows["problem_id"][codes < 0].unique()[:3]
        missing = problems[n == 0][:3]
        raise ValueError(f"{where}: not the baseline's problems (missing {list(missing)}, "
                         f"extra {list(extra)}); a paired bootstrap needs the same problems")
    c = np.bincount(codes, weights=rows["correct"].to_numpy(dtype=float), minlength=size)
    t = np.bincount(codes, weights=rows["num_tokens"].to_numpy(dtype=float), minlength=size)
    return np.vstack([c, t, n.astype(float)])


def replicate_metrics(sums: np.ndarray, counts: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Replicate Acc (percent) and Length, each (B, R), from per-problem sums (R, 3, P)."""
    r = sums.shape[0]
    # one product for all runs and all three sums: (B, P) @ (P, 3R)
    total = counts @ np.ascontiguousarray(sums.transpose(2, 1, 0).reshape(sums.shape[2], 3 * r))
    c, t, n = total[:, :r], total[:, r:2 * r], total[:, 2 * r:]
    return 100.0 * c / n, t / n


def replicate_aes(acc, length, acc_base, length_base, alpha, beta, gamma, variant):
    """AES per replicate from the replicate's own baseline; NaN where the baseline scored 0."""
    with np.errstate(divide="ignore", invalid="ignore"):
        d_a = delta_acc(acc, acc_base)
        d_l = delta_length(length, length_base)
        out = aes_from_deltas(d_l, d_a, alpha, beta, gamma, variant)
    return np.where(np.isfinite(d_a), out, np.nan)


def _interval(x: np.ndarray, confidence: float) -> tuple[np.ndarray, np.ndarray]:
    q = (1 - confidence) / 2
    x = np.asarray(x, dtype=float)
    with np.errstate(invalid="ignore"):
        if np.isnan(x).any():
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", RuntimeWarning)
                return np.nanquantile(x, q, axis=0), np.nanquantile(x, 1 - q, axis=0)
        return np.quantile(x, q, axis=0), np.quantile(x, 1 - q, axis=0)


def bootstrap_group(runs: Mapping[tuple, pd.DataFrame], n_boot: int, rng: np.random.Generator,
                    weights: dict, variant: str, where: str = "") -> dict[tuple, dict[str, np.ndarray]]:
    """Replicates of one (model, dataset): ``{run: {"acc", "length", "aes", "acc_diff",
    "length_diff"}}`` each of shape (B,). ``runs`` maps a run key to its evaluation rows; exactly
    one run is the baseline (``run[0]`` is its method)."""
    keys = list(runs)
    base = [k for k in keys if is_baseline(k[0])]
    if len(base) != 1:
        raise ValueError(f"bootstrap {where}: need exactly one baseline run, got {len(base)}")
    base = base[0]
    problems = pd.Index(pd.unique(runs[base]["problem_id"]))
    if len(problems) == 0:
        raise ValueError(f"bootstrap {where}: the baseline has no evaluation rows")
    sums = np.stack([per_problem(runs[k], problems, f"bootstrap {where} {k}") for k in keys])
    counts = counts_from_indices(draw_indices(rng, len(problems), n_boot), len(problems))
    acc, length = replicate_metrics(sums, counts)
    b = keys.index(base)
    aes = replicate_aes(acc, length, acc[:, [b]], length[:, [b]], variant=variant, **weights)
    aes[:, b] = 0.0
    return {k: {"acc": acc[:, i], "length": length[:, i], "aes": aes[:, i],
                "acc_diff": acc[:, i] - acc[:, b], "length_diff": length[:, i] - length[:, b]}
            for i, k in enumerate(keys)}


def paired_difference(a: pd.DataFrame, b: pd.DataFrame, n_boot: int, rng: np.random.Generator,
                      where: str = "") -> dict[str, np.ndarray]:
    """Replicates of run ``b`` minus run ``a`` on the same resampled problems (``a``'s): ``acc_diff``
    (points) and ``length_diff`` (tokens), each (B,). Neither run is a baseline: the draw is the
    one :func:`bootstrap_group` makes, for any two runs evaluated on the same problems."""
    problems = pd.Index(pd.unique(a["problem_id"]))
    if len(problems) == 0:
        raise ValueError(f"paired difference {where}: the first run has no evaluation rows")
    sums = np.stack([per_problem(a, problems, f"paired difference {where} (first run)"),
                     per_problem(b, problems, f"paired difference {where} (second run)")])
    counts = counts_from_indices(draw_indices(rng, len(problems), n_boot), len(problems))
    acc, length = replicate_metrics(sums, counts)
    return {"acc_diff": acc[:, 1] - acc[:, 0], "length_diff": length[:, 1] - length[:, 0]}


def interval(x: np.ndarray, confidence: float) -> tuple[float, float]:
    """The percentile interval of replicates ``x`` (B,)."""
    lo, hi = _interval(x, confidence)
    return float(lo), float(hi)


def bootstrap_cells(samples: Mapping[tuple, pd.DataFrame], n_boot: int = 1000, seed: int = 0,
                    confidence: float = 0.95, alpha: float = 1.0, beta: float = 3.0,
                    gamma: float = 5.0, variant: str = "paper") -> pd.DataFrame:
    """Interval table for every (model, method, lambda, dataset) cell and every AVERAGE cell.

    ``samples`` maps ``(model, method, lambda, dataset)`` (lambda ``None`` when not a λ run) to
    that run's per-problem evaluation rows (``problem_id, correct, num_tokens``). Returns
    columns ``model, method, lambda, dataset`` and ``<m>_lo, <m>_hi`` for m in acc, length, aes,
    acc_diff (points), length_diff (tokens), plus ``n_boot``.
    """
    if n_boot < 2:
        raise ValueError(f"bootstrap: need at least 2 replicates, got {n_boot}")
    weights = {"alpha": alpha, "beta": beta, "gamma": gamma}
    groups = _by_model_and_dataset(samples)
    reps: dict[tuple, dict[str, dict[str, np.ndarray]]] = {}
    for (model, dataset), runs in groups.items():
        rng = np.random.default_rng(group_seed(seed, model, dataset))
        for (method, lam), r in bootstrap_group(runs, n_boot, rng, weights, variant,
                                                f"model={model!r} dataset={dataset!r}").items():
            reps.setdefault((model, method, lam), {})[dataset] = r
    return _cells_frame(reps, n_boot, confidence)


def _by_model_and_dataset(samples: Mapping[tuple, pd.DataFrame]) -> dict[tuple, dict[tuple, pd.DataFrame]]:
    """``{(model, dataset): {(method, lambda): rows}}``: the runs one bootstrap draw is shared by."""
    groups: dict[tuple, dict[tuple, pd.DataFrame]] = {}
    for (model, method, lam, dataset), rows in samples.items():
        groups.setdefault((model, dataset), {})[(method, lam)] = rows
    return groups


def _cells_frame(reps: dict, n_boot: int, confidence: float) -> pd.DataFrame:
    """One row per (model, method, λ, dataset) with the percentile interval of every metric;
    AVERAGE cells are the per-replicate mean over the datasets (only for runs on every dataset
    of their model's Baseline)."""
    base_sets = {m: set(d) for (m, meth, _), d in reps.items() if is_baseline(meth)}
    rows = []
    for (model, method, lam), by_dataset in reps.items():
        cells = dict(by_dataset)
        if set(by_dataset) == base_sets.get(model):
            cells[AVERAGE] = {name: np.mean([r[name] for r in by_dataset.values()], axis=0)
                              for name in METRICS + DIFFS}
        for dataset, r in cells.items():
            row = {"model": model, "method": method, "lambda": lam, "dataset": dataset}
            for name in METRICS + DIFFS:
                lo, hi = _interval(r[name], confidence)
                row[f"{name}_lo"], row[f"{name}_hi"] = float(lo), float(hi)
            rows.append(row)
    out = pd.DataFrame(rows, columns=["model", "method", "lambda", "dataset", *ci_columns()])
    out["n_boot"] = n_boot
    return out


def naive_bootstrap_cells(samples: Mapping[tuple, pd.DataFrame], n_boot: int = 1000, seed: int = 0,
                          confidence: float = 0.95, alpha: float = 1.0, beta: float = 3.0,
                          gamma: float = 5.0, variant: str = "paper") -> pd.DataFrame:
    """The same intervals with a plain loop over replicates and runs (reference for tests and
    the benchmark): each replicate indexes the per-problem arrays with its drawn problems."""
    groups = _by_model_and_dataset(samples)
    reps: dict[tuple, dict[str, dict[str, np.ndarray]]] = {}
    for (model, dataset), runs in groups.items():
        rng = np.random.default_rng(group_seed(seed, model, dataset))
        keys = list(runs)
        base = next(k for k in keys if is_baseline(k[0]))
        problems = pd.Index(pd.unique(runs[base]["problem_id"]))
        sums = {k: per_problem(runs[k], problems, str(k)) for k in keys}
        idx = draw_indices(rng, len(problems), n_boot)
        out = {k: {n: np.empty(n_boot) for n in ("acc", "length")} for k in keys}
        for b in range(n_boot):
            for k in keys:
                c, t, n = sums[k][:, idx[b]].sum(axis=1)
                out[k]["acc"][b] = 100.0 * c / n
                out[k]["length"][b] = t / n
        for k in keys:
            r = out[k]
            if k == base:
                r["aes"] = np.zeros(n_boot)
            else:
                r["aes"] = np.array([float(aes_from_deltas(
                    delta_length(r["length"][b], out[base]["length"][b]),
                    delta_acc(r["acc"][b], out[base]["acc"][b]), alpha, beta, gamma, variant))
                    if out[base]["acc"][b] > 0 else np.nan for b in range(n_boot)])
            r["acc_diff"] = r["acc"] - out[base]["acc"]
            r["length_diff"] = r["length"] - out[base]["length"]
            reps.setdefault((model, *k), {})[dataset] = r
    return _cells_frame(reps, n_boot, confidence)


def _lam_key(v):
    return None if v is None or pd.isna(v) else float(v)


def attach_intervals(aes_df: pd.DataFrame, ci: pd.DataFrame) -> pd.DataFrame:
    """The AES table with the point differences ``acc_diff, length_diff`` and the interval
    columns; the point estimates already in ``aes_df`` are kept as they are."""
    out = aes_df.copy()
    has_lam = "lambda" in out.columns
    key = lambda df: list(zip(df["model"], df["method"].astype(str), df["dataset"],  # noqa: E731
                              (map(_lam_key, df["lambda"]) if has_lam else [None] * len(df))))
    ci_by_key = dict(zip(key(ci), ci[ci_columns()].to_numpy()))
    missing = [k for k in key(out) if k not in ci_by_key]
    if missing:
        raise ValueError(f"bootstrap: no evaluation rows for cell {missing[0]} (model, method, "
                         "dataset, lambda)")
    values = np.array([ci_by_key[k] for k in key(out)])
    base = out[out["method"].map(is_baseline)].set_index(["model", "dataset"])[["acc", "length"]]
    pairs = pd.MultiIndex.from_frame(out[["model", "dataset"]])
    out["acc_diff"] = out["acc"].to_numpy() - base["acc"].reindex(pairs).to_numpy()
    out["length_diff"] = out["length"].to_numpy() - base["length"].reindex(pairs).to_numpy()
    out.loc[out["method"].map(is_baseline), ["acc_diff", "length_diff"]] = 0.0
    for j, col in enumerate(ci_columns()):
        out[col] = values[:, j]
    out["n_boot"] = int(ci["n_boot"].iloc[0]) if len(ci) else 0
    return out


def excludes_zero(lo, hi) -> np.ndarray:
    """True where the interval [lo, hi] lies entirely above or below 0."""
    lo, hi = np.asarray(lo, dtype=float), np.asarray(hi, dtype=float)
    return (lo > 0) | (hi < 0)


def discordance(base_correct: np.ndarray, method_correct: np.ndarray) -> dict:
    """Paired per-problem discordance: rates of (method right, baseline wrong) and the reverse."""
    b = np.asarray(base_correct, dtype=float)
    m = np.asarray(method_correct, dtype=float)
    return {"n": len(b), "p_gain": float(np.mean((m > b) * (m - b))),
            "p_loss": float(np.mean((b > m) * (b - m))), "var_d": float(np.var(m - b))}


def problems_needed(var_d: float, half_width_points: float = 3.0, z: float = 1.959964) -> int:
    """Problems n so that the paired 95 % interval of the accuracy difference is ±half_width:
    z·sqrt(Var(d)/n)·100 ≤ half_width, with d the per-problem difference in correctness."""
    h = half_width_points / 100.0
    return int(np.ceil(z * z * var_d / (h * h)))


def samples_from_index(index: pd.DataFrame) -> dict[tuple, pd.DataFrame]:
    """``{(model, method, lambda, dataset): rows}`` from a metrics CSV with a ``samples`` column
    (the evaluation Parquet of each cell)."""
    require_columns(index, ["model", "method", "dataset", "samples"], "bootstrap samples index")
    lam = index["lambda"] if "lambda" in index.columns else pd.Series([None] * len(index))
    out = {}
    for model, method, dataset, path, l in zip(index["model"], index["method"], index["dataset"],
                                               index["samples"], lam):
        out[(model, method, _lam_key(l), dataset)] = read_table(path)[EVAL_ROW_COLUMNS]
    return out


def eval_set_size(samples: Mapping[tuple, pd.DataFrame], method: str = registry.PAPER_METHOD, half_width: float = 3.0,
                  n_boot: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Problems per evaluation set for a paired 95 % interval of ``method``'s accuracy difference
    to the baseline of at most ±``half_width`` points, per (model, dataset).

    Method: per problem d = correct(method) − correct(baseline) (greedy: −1, 0, 1); its
    variance Var(d) = p_gain + p_loss − (p_gain − p_loss)² from the measured discordance rates
    (method right and baseline wrong, and the reverse). The difference of the means has standard
    error sqrt(Var(d)/n), so n = z²·Var(d)/h². Next to it, the half-width the paired bootstrap
    gives at the measured n, and that half-width scaled to the proposed n (∝ 1/sqrt(n)).
    """
    rows = []
    keys = {(m, d) for (m, _, _, d) in samples}
    for model, dataset in sorted(keys):
        runs = {(meth, lam): r for (m, meth, lam, d), r in samples.items() if (m, d) == (model, dataset)}
        base = next(k for k in runs if is_baseline(k[0]))
        target = [k for k in runs if k[0] == method]
        if not target:
            continue
        problems = pd.Index(pd.unique(runs[base]["problem_id"]))
        b = per_problem(runs[base], problems, "baseline")
        m = per_problem(runs[target[0]], problems, method)
        disc = discordance(b[0] / b[2], m[0] / m[2])
        reps = bootstrap_group({base: runs[base], target[0]: runs[target[0]]}, n_boot,
                               np.random.default_rng(group_seed(seed, model, dataset)),
                               {"alpha": 1.0, "beta": 3.0, "gamma": 5.0}, "paper")
        lo, hi = _interval(reps[target[0]]["acc_diff"], 0.95)
        # no discordant problem at all: the rates are unknown, not zero – no size follows
        need = problems_needed(disc["var_d"], half_width) if disc["var_d"] > 0 else None
        boot_half = (float(hi) - float(lo)) / 2
        rows.append({"model": model, "dataset": dataset, "n": disc["n"],
                     "acc_diff": 100 * float(np.mean(m[0] / m[2] - b[0] / b[2])),
                     "p_gain": disc["p_gain"], "p_loss": disc["p_loss"], "var_d": disc["var_d"],
                     "half_width_now": 1.959964 * 100 * np.sqrt(disc["var_d"] / disc["n"]),
                     "bootstrap_half_width_now": boot_half, "n_needed": need,
                     "bootstrap_half_width_at_n_needed": (boot_half * np.sqrt(disc["n"] / need)
                                                          if need else float("nan"))})
    return pd.DataFrame(rows)
