"""One reward on the two trainers: the on-policy run against the off-policy one, paired.

The paper trains its reward off-policy, on the reference model's pre-samples, "for simplicity";
``<reward>_onpolicy`` trains the same reward on the policy's own samples (GRPO). For every reward
evaluated on both trainers (``lh`` and ``lh_onpolicy``, ``kimi`` and ``kimi_onpolicy``, ...) this
table gives, per evaluation set and on the average, each run's accuracy and mean length and the
on-policy run's difference to the off-policy one with a paired-bootstrap interval over problems
(:func:`o1pruner.evaluation.bootstrap.paired_difference`: both runs scored on each resampled set of
problems; the AVERAGE replicate is the mean of the sets' replicates, as Table 2 averages)::

    o1pruner compare-trainers --pair toy lh_lambda_2 lh_onpolicy_lambda_2 --evals-root results \\
        --datasets toy_medium toy_easy toy_hard --output results/tables/trainers
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from o1pruner.evaluation.aes import AVERAGE
from o1pruner.evaluation.bootstrap import excludes_zero, group_seed, interval, paired_difference
from o1pruner.methods import registry

COLUMNS = ["model", "reward", "off_policy", "on_policy", "dataset", "acc_off", "acc_on", "acc_diff",
           "acc_diff_lo", "acc_diff_hi", "length_off", "length_on", "length_diff", "length_diff_lo",
           "length_diff_hi", "n_boot"]


def off_policy_twin(name: str) -> str | None:
    """The off-policy method of the on-policy method ``name`` (``kimi_onpolicy`` -> ``kimi``,
    ``lh_onpolicy`` -> ``lh``), or None when ``name`` is no on-policy reward method or its twin is
    not registered."""
    m = registry.method(name)
    if m.trainer != "grpo" or not name.endswith(registry.ON_POLICY_SUFFIX):
        return None
    twin = name[: -len(registry.ON_POLICY_SUFFIX)]
    return twin if twin in registry.METHODS and registry.METHODS[twin].reward in (None, m.reward) else None


def trainer_pairs(methods: list[str]) -> list[tuple[str, str]]:
    """(off-policy, on-policy) method pairs among ``methods`` (both evaluated), in their order."""
    return [(off, on) for on in methods if (off := off_policy_twin(on)) in methods]


def compare(evals: dict[tuple[str, str, str], pd.DataFrame], pairs: list[tuple[str, str, str]],
            datasets: list[str], n_boot: int = 1000, seed: int = 0, confidence: float = 0.95) -> pd.DataFrame:
    """The table (:data:`COLUMNS`): ``evals[(model, run, dataset)]`` are a run's evaluation rows
    (``problem_id, correct, num_tokens``); ``pairs`` are (model, off-policy run, on-policy run)."""
    rows = []
    for model, off, on in pairs:
        reps, points = {}, {}
        for d in datasets:
            a, b = evals[(model, off, d)], evals[(model, on, d)]
            rng = np.random.default_rng(group_seed(seed, model, d, off, on))
            reps[d] = paired_difference(a, b, n_boot, rng, f"{model} {d}: {off} vs {on}")
            points[d] = {**{f"{k}_off": v for k, v in _point(a).items()},
                         **{f"{k}_on": v for k, v in _point(b).items()}}
        if len(datasets) > 1:
            reps[AVERAGE] = {k: np.mean([reps[d][k] for d in datasets], axis=0) for k in ("acc_diff", "length_diff")}
            points[AVERAGE] = {k: float(np.mean([points[d][k] for d in datasets])) for k in points[datasets[0]]}
        name, _, _ = registry.parse_run(on)
        for d, r in reps.items():
            p = points[d]
            row = {"model": model, "reward": registry.method(name).reward, "off_policy": off, "on_policy": on,
                   "dataset": d, **p, "acc_diff": p["acc_on"] - p["acc_off"],
                   "length_diff": p["length_on"] - p["length_off"], "n_boot": n_boot}
            row["acc_diff_lo"], row["acc_diff_hi"] = interval(r["acc_diff"], confidence)
            row["length_diff_lo"], row["length_diff_hi"] = interval(r["length_diff"], confidence)
            rows.append(row)
    return pd.DataFrame(rows, columns=COLUMNS)


def _point(rows: pd.DataFrame) -> dict[str, float]:
    """Accuracy (%) and mean length of a run's rows, as its metrics JSON has them (evaluate.py)."""
    return {"acc": 100 * float(rows["correct"].mean()), "length": float(rows["num_tokens"].mean())}


def _holds(lo: float, hi: float) -> str:
    return "yes" if excludes_zero(lo, hi) else "no"


def markdown(table: pd.DataFrame, confidence: float = 0.95) -> str:
    """The table as Markdown, one row per pair and evaluation set: accuracy and length of each run,
    the on-policy run's differences with their intervals, and whether each excludes 0."""
    lines = ["| model | reward | off-policy | on-policy | dataset | Acc off → on | Δ Acc (points) | holds "
             "| Length off → on | Δ Length (tokens) | holds |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for _, r in table.iterrows():
        lines.append(
            f"| {r['model']} | {r['reward']} | {r['off_policy']} | {r['on_policy']} | {r['dataset']} | "
            f"{r['acc_off']:.1f} → {r['acc_on']:.1f} | {r['acc_diff']:+.1f} [{r['acc_diff_lo']:+.1f}, "
            f"{r['acc_diff_hi']:+.1f}] | {_holds(r['acc_diff_lo'], r['acc_diff_hi'])} | "
            f"{r['length_off']:.1f} → {r['length_on']:.1f} | {r['length_diff']:+.1f} "
            f"[{r['length_diff_lo']:+.1f}, {r['length_diff_hi']:+.1f}] | "
            f"{_holds(r['length_diff_lo'], r['length_diff_hi'])} |")
    note = (f"Δ = on-policy − off-policy on the same problems; [lo, hi]: {100 * confidence:g} % paired-bootstrap "
            "interval; holds: the interval excludes 0.")
    return "\n".join(lines) + "\n\n" + note + "\n"


def eval_path(root: Path, model: str, run: str, dataset: str) -> Path:
    return Path(root) / model / "eval" / run / f"{dataset}.parquet"
