"""Does the toy build converge on this machine? Build the default config's toy for several seeds,
evaluate each build as the workflow would, and print one column per seed with the targets.

    o1pruner toy-check --config config/config.yaml --seeds 0 1 2 --workdir results/toy_check

Per seed: the toy is built with the config's ``models.<toy>.toy`` block and that ``seed``; the
Baseline's greedy accuracy on each toy evaluation set; the pre-samples (the config's training set,
``sampling.k`` samples at the config's temperature and top-p) graded as the workflow grades them;
and the reflection statistics of ``o1pruner toy-reflection`` on them (paired more-minus-fewer
re-checks, corrections). A build that stops in the middle of learning shows here as a seed
whose easy/medium accuracy falls short (no slips exist there: any error is a failure to learn).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from o1pruner.evaluation.evaluate import evaluate
from o1pruner.generation.engines import SamplingSpec, generate
from o1pruner.generation.sampling import render_prompts, samples_frame
from o1pruner.grading import Grader
from o1pruner.problems import load_dataset
from o1pruner.toy.anatomy import add_anatomy, reflection_value
from o1pruner.toy.model import ToyConfig, train_toy

# (row, target as text, predicate on the value or on the list of all seeds' values)
TARGETS = {
    "greedy_easy": ("≥ 97", lambda v: v >= 97),
    "greedy_medium": ("≥ 97", lambda v: v >= 97),
    "hard_more_minus_fewer": ("≥ +8", lambda v: v >= 8),
    "easy_more_minus_fewer": ("within ±5", lambda v: abs(v) <= 5),
    "hard_with_correction_pct": ("≥ 5", lambda v: v >= 5),
    "hard_acc_with_correction": ("≥ 70", lambda v: v >= 70),
    "build_s": ("≤ 300", lambda v: v <= 300),
}
SPREAD_TARGET = 5.0  # pre-sample accuracy of all seeds within ±5 points of each other


def toy_block(cfg: dict) -> tuple[str, dict]:
    """(model name, ToyConfig overrides) of the config's first toy model."""
    for name, m in cfg["models"].items():
        if m.get("source") == "toy":
            return name, dict(m.get("toy", {}))
    raise SystemExit("toy-check: the config names no model with `source: toy`")


def greedy_accuracy(model: Path, sets: dict[str, pd.DataFrame], max_tokens: int) -> dict[str, float]:
    out = evaluate(str(model), list(sets.values()), "transformers", max_tokens)
    return {name: 100 * float(graded["correct"].mean()) for name, (graded, _, _) in zip(sets, out)}


def presample(model: Path, problems: pd.DataFrame, sampling: dict, seed: int) -> pd.DataFrame:
    """The pre-samples as the workflow draws and grades them, with the toy anatomy columns."""
    spec = SamplingSpec(n=int(sampling["k"]), temperature=float(sampling["temperature"]),
                        top_p=float(sampling["top_p"]), max_tokens=int(sampling["max_tokens"]),
                        seed=seed, batch_size=int(sampling.get("batch_size", 256)))
    prompts = render_prompts(problems, str(model))
    gens, _ = generate("transformers", str(model), prompts, spec)
    with Grader() as grader:
        graded = grader.grade_frame(samples_frame(problems, prompts, gens, seed))
    return add_anatomy(graded)


def check_seed(cfg: dict, seed: int, workdir: Path, groups: dict[str, list[int]],
               extra: dict | None = None) -> dict:
    """Build the toy with ``seed`` (reusing a finished build in ``workdir``), then measure it."""
    overrides = {**toy_block(cfg)[1], **(extra or {})}
    model = workdir / f"seed{seed}" / "model"
    info_path = model / "toy_config.json"
    if not info_path.exists():
        train_toy(ToyConfig(**{**overrides, "seed": seed}), model)
    info = json.loads(info_path.read_text())
    sets = {d: load_dataset(d, cfg["datasets"][d]) for d in cfg["eval_datasets"]
            if cfg["datasets"][d]["source"] == "toy"}
    acc = greedy_accuracy(model, sets, int(cfg["evaluation"]["max_tokens"]))
    graded = presample(model, load_dataset(cfg["train_dataset"], cfg["datasets"][cfg["train_dataset"]]), cfg["sampling"],
                       int(cfg["sampling"].get("seed", 0)))
    graded.to_parquet(workdir / f"seed{seed}" / "presample_graded.parquet")
    refl = reflection_value(graded, groups)
    tenths = info.get("loss_by_tenth") or [np.nan, np.nan]
    row = {"seed": seed, "build_s": info["wall_s"], "final_loss": round(info["final_loss"], 4),
           # how much the loss still fell over the last tenth of the steps: small once converged
           "loss_drop_last_tenth_pct": round(100 * (1 - tenths[-1] / tenths[-2]), 1),
           "presample_acc": refl["all"]["acc"][0]}
    row.update({f"greedy_{k.removeprefix('toy_')}": round(v, 1) for k, v in acc.items()})
    for g in groups:
        row[f"{g}_more_minus_fewer"] = refl[g]["more_minus_fewer"][0]
        row[f"{g}_more_minus_fewer_ci"] = refl[g]["more_minus_fewer"][1:]
    if "hard" in groups:
        row["hard_with_correction_pct"] = refl["hard"]["with_correction_pct"][0]
        row["hard_acc_with_correction"] = refl["hard"]["acc_with_correction"][0]
    return row


def render(rows: list[dict], cpu: str) -> str:
    """The per-seed table as Markdown: one column per seed, the target and whether all meet it."""
    seeds = [r["seed"] for r in rows]
    lines = [f"CPU: {cpu}", "",
             "| measure | " + " | ".join(f"seed {s}" for s in seeds) + " | target | met |",
             "|---|" + "---:|" * len(seeds) + "---|---|"]
    keys = [k for k in rows[0] if k != "seed" and not k.endswith("_ci")]
    for k in keys:
        vals = [r.get(k) for r in rows]
        cells = []
        for r, v in zip(rows, vals):
            ci = r.get(f"{k}_ci")
            cells.append(f"{v:+.1f} [{ci[0]:+.1f}, {ci[1]:+.1f}]" if ci else f"{v:g}")
        target, met = "", ""
        if k in TARGETS:
            target, ok = TARGETS[k][0], TARGETS[k][1]
            met = "yes" if all(v is not None and ok(v) for v in vals) else "**no**"
        elif k == "presample_acc":
            spread = max(vals) - min(vals)
            target, met = f"spread ≤ {2 * SPREAD_TARGET:g}", ("yes" if spread <= 2 * SPREAD_TARGET
                                                             else f"**no** ({spread:.1f})")
        lines.append(f"| {k} | " + " | ".join(cells) + f" | {target} | {met} |")
    return "\n".join(lines) + "\n"
