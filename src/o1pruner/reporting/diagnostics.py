"""Training diagnostics: one figure per training run from its JSONL log, and plain warnings.

    o1pruner training-figure --model-dir results/toy/runs/lh_lambda_2/model \\
        --output results/figures/training_toy_lh_lambda_2 --title "toy lh_lambda_2"

The log is the run's ``train_<method>.jsonl`` (one Trainer log entry per line: loss,
learning_rate, grad_norm; LH adds lh_ratio and lh_clip_frac; DPO rewards/margins and
rewards/accuracies). It is found through ``train_summary.json`` in the model folder (its ``log``
field), else next to the weights.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

from o1pruner.methods import registry
from o1pruner.reporting.plotting import pyplot, save
from o1pruner.training.health import (
    CLIP_FRAC_LIMIT,
    RATIO_RANGE,
    series,
    training_warnings,
)
from o1pruner.training.train import TRAINERS

# (log key, axis label) per panel; a panel is drawn only when the log has the key
COMMON_PANELS = [("loss", "loss"), ("learning_rate", "learning rate"), ("grad_norm", "gradient norm")]


def trainer_panels(method: str) -> list[tuple[str, str]]:
    """The panels the method's trainer adds (o1pruner.training.train.TRAINERS)."""
    return list(TRAINERS[registry.method(method).trainer].panels)


def find_log(model_dir: Path, method: str) -> Path:
    """The run's JSONL log: ``train_summary.json``'s ``log`` field, else next to the weights."""
    summary = model_dir / "train_summary.json"
    candidates = []
    if summary.exists():
        log = json.loads(summary.read_text()).get("log")
        if log:
            candidates.append(Path(log))
    candidates.append(model_dir / f"train_{method}.jsonl")
    for c in candidates:
        if c.exists():
            return c
    raise FileNotFoundError(f"{model_dir}: no training log (looked for {[str(c) for c in candidates]})")


def run_method(model_dir: Path) -> str:
    summary = model_dir / "train_summary.json"
    if summary.exists():
        return str(json.loads(summary.read_text())["method"])
    raise FileNotFoundError(f"{summary}: no such file (is {model_dir} a trained run?)")


def figure(entries: list[dict], method: str, stem: Path, title: str) -> list[str]:
    """Draw the panels the log has; warnings go in the figure and are returned."""
    plt = pyplot()
    from matplotlib.ticker import MaxNLocator

    panels = [(k, label) for k, label in COMMON_PANELS + trainer_panels(method)
              if series(entries, k)[0]]
    if not panels:
        raise ValueError(f"{title}: the training log has none of {[k for k, _ in COMMON_PANELS]}")
    warnings = training_warnings(entries, method)
    cols = 2 if len(panels) > 1 else 1
    rows = math.ceil(len(panels) / cols)
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 2.6 * rows + 0.4 * len(warnings)),
                             squeeze=False)
    for ax, (key, label) in zip(axes.ravel(), panels):
        steps, values = series(entries, key)
        ax.plot(steps, values, marker="." if len(steps) < 50 else None, lw=1)
        ax.set_title(label, fontsize=9)
        ax.set_xlabel("step", fontsize=8)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        if key == "lh_clip_frac":
            ax.axhline(CLIP_FRAC_LIMIT, color="red", ls=":", lw=1)
        if key == "lh_ratio":
            for bound in RATIO_RANGE:
                ax.axhline(bound, color="red", ls=":", lw=1)
    for ax in axes.ravel()[len(panels):]:
        ax.set_axis_off()
    head = f"Training: {title}"
    if warnings:
        head += "\n" + "\n".join("WARNING: " + w for w in warnings)
    fig.suptitle(head, fontsize=9, color="darkred" if warnings else "black")
    save(fig, stem)
    return warnings
