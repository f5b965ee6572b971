"""Is a training run healthy? Plain warnings from its log entries, printed at the end of training
(o1pruner.training.train) and written into the run's diagnostics figure
(o1pruner.reporting.diagnostics)."""

from __future__ import annotations

import math

from o1pruner.methods import registry

CLIP_FRAC_LIMIT = 0.5
RATIO_RANGE = (0.5, 2.0)
ZERO_STD_LIMIT = 0.9   # GRPO: share of groups whose samples all got one reward (no advantage)


def series(entries: list[dict], key: str) -> tuple[list[float], list[float]]:
    """(steps, values) of the training entries that log ``key`` (the final summary entry, with
    ``train_loss`` instead of ``loss``, is skipped by construction)."""
    steps, values = [], []
    for i, e in enumerate(entries):
        if key in e and e[key] is not None:
            try:
                v = float(e[key])
            except (TypeError, ValueError):
                continue
            steps.append(float(e.get("step", i)))
            values.append(v)
    return steps, values


def _fmt(x: float) -> str:
    return f"{x:.3g}"


def training_warnings(entries: list[dict], method: str) -> list[str]:
    """Plain warnings about a run from its log entries (empty list: nothing to report).

    * the loss is NaN or infinite at some step;
    * LH: the clip fraction stays above 0.5 – above it in every entry of the second half of
      training (most of the weighted ratios are clipped, so the loss barely moves the model);
    * LH: the mean ratio π/π_ref leaves [0.5, 2] (the policy drifted far from the reference);
    * GRPO (on-policy): in every entry of the second half of training more than 90 % of the groups
      gave all their samples one reward (``frac_reward_zero_std``): their advantages are 0, so the
      policy barely learns (e.g. every sample cut at max_completion_length and wrong).
    """
    out = []
    steps, loss = series(entries, "loss")
    bad = [s for s, v in zip(steps, loss) if not math.isfinite(v)]
    if bad:
        out.append(f"loss is NaN/inf at {len(bad)} logged step(s), first at step {bad[0]:g}")
    if registry.method(method).trainer == "lh":  # the LH trainer logs its PPO-clip statistics
        steps, clip = series(entries, "lh_clip_frac")
        late = clip[len(clip) // 2:]
        if late and min(late) > CLIP_FRAC_LIMIT:
            out.append(f"LH clip fraction stays above {CLIP_FRAC_LIMIT:g} (min {_fmt(min(late))} over the "
                       f"last {len(late)} logged steps): most ratios are clipped")
        steps, ratio = series(entries, "lh_ratio")
        lo, hi = RATIO_RANGE
        outside = [(s, v) for s, v in zip(steps, ratio) if not (lo <= v <= hi)]
        if outside:
            s, v = outside[0]
            out.append(f"LH mean ratio leaves [{lo:g}, {hi:g}] at {len(outside)} logged step(s), "
                       f"first at step {s:g} ({_fmt(v)})")
    if registry.method(method).trainer == "grpo":
        steps, zero = series(entries, "frac_reward_zero_std")
        late = zero[len(zero) // 2:]
        if late and min(late) > ZERO_STD_LIMIT:
            out.append(f"GRPO: over {ZERO_STD_LIMIT:.0%} of the groups got one reward for all their samples "
                       f"(min {_fmt(min(late))} over the last {len(late)} logged steps): no advantage, "
                       "little learning")
    return out
