"""The methods do on the default toy what the paper says they do (issue-level check, ~10 min).

With the shipped ``config/config.yaml`` (toy model, training set, pre-sampling and per-method
hyperparameters): build the toy reference model, pre-sample the training problems at the
paper's temperature, grade, build the SFT / DPO / LH (default λ) datasets, train each method,
then decode greedily on the same training prompts, as Section 5 compares models.

    python -m pytest -q tests/integration/test_methods_on_toy.py
    O1PRUNER_TOY_MODEL=results/toy_check/seed1/model python -m pytest -q tests/integration/test_methods_on_toy.py

The bounds rest on what held on every default build measured with ``o1pruner toy-check``
(docs/toy.md), not on one build's numbers: the reference nearly solves levels 2-5 (no slips there),
its errors are on the hard levels, and its re-checks vary in number. The second command runs the test on a build of another
seed (a folder ``toy-check`` made); it was run once on the builds of seeds 1 and 2.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from o1pruner.config import load
from o1pruner.evaluation.evaluate import evaluate
from o1pruner.generation.engines import SamplingSpec
from o1pruner.generation.sampling import sample_problems
from o1pruner.grading import Grader
from o1pruner.methods.datasets import build_dpo, build_lh, build_sft
from o1pruner.problems import load_dataset
from o1pruner.toy.model import ToyConfig, train_toy
from o1pruner.training.train import effective_training_config, method_config, train

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
EASY_LEVELS = 5  # levels 2-5: no slips by design, so the reference solves them once converged


@pytest.fixture(scope="module")
def toy_run(tmp_path_factory):
    """Reference model, its greedy result on the training prompts, and the graded pre-samples."""
    cfg = load(ROOT / "config" / "config.yaml")
    work = tmp_path_factory.mktemp("methods_on_toy")
    prebuilt = os.environ.get("O1PRUNER_TOY_MODEL")
    model = Path(prebuilt) if prebuilt else work / "reference"
    if not prebuilt:
        train_toy(ToyConfig(**cfg["models"]["toy"]["toy"]), model, log=lambda s: None)

    problems = load_dataset(cfg["train_dataset"], cfg["datasets"][cfg["train_dataset"]])
    s = cfg["sampling"]
    spec = SamplingSpec(n=s["k"], temperature=s["temperature"], top_p=s["top_p"],
                        max_tokens=s["max_tokens"], seed=s["seed"], batch_size=s["batch_size"])
    samples = sample_problems(problems, str(model), spec, "transformers")
    with Grader() as grader:
        graded = grader.grade_frame(samples)
    return {"cfg": cfg, "work": work, "model": model, "problems": problems, "graded": graded,
            "reference": greedy(model, problems, cfg)}


def greedy(model: Path, problems: pd.DataFrame, cfg: dict) -> dict:
    (graded, metrics, _), = evaluate(str(model), [problems], "transformers",
                                  cfg["evaluation"]["max_tokens"])
    easy = graded["level"] <= EASY_LEVELS
    return {"acc": metrics["acc"], "length": metrics["length"], "responses": graded["response"].tolist(),
            "acc_easy": 100 * graded.loc[easy, "correct"].mean(),
            "acc_hard": 100 * graded.loc[~easy, "correct"].mean(),
            "length_easy": graded.loc[easy, "num_tokens"].mean()}


def train_method(run: dict, method: str, table: pd.DataFrame) -> Path:
    cfg, work = run["cfg"], run["work"]
    data = work / f"{method}.parquet"
    table.to_parquet(data)
    out = work / method
    train(method, str(run["model"]), str(data), str(out),
          effective_training_config(cfg, "toy", method), method_config(cfg, method))
    return out


def weights_changed(a: Path, b: Path) -> bool:
    from safetensors.numpy import load_file

    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    return any(not np.array_equal(wa[k], wb[k]) for k in wa)


def test_presamples_show_length_disharmony(toy_run):
    g, ref = toy_run["graded"], toy_run["reference"]
    per_problem = g.groupby("problem_id")["num_tokens"]
    assert per_problem.std().mean() > 8              # lengths vary within a problem
    easy = g["level"] <= EASY_LEVELS
    # levels 2-5 (no slips) nearly solved: the default builds measured (docs/toy.md) were 95-100 %
    # greedy on the medium set and 99-100 % on the easy set; the errors, and the room to move, are
    # on the hard levels where slips happen (60-76 % greedy on the hard set)
    assert g.loc[easy, "correct"].mean() >= 0.90
    assert g.loc[~easy, "correct"].mean() < g.loc[easy, "correct"].mean() - 0.02
    assert ref["acc_easy"] >= 90 and ref["acc_hard"] < 90, ref


def test_lh_cuts_length_and_keeps_accuracy_near_the_reference(toy_run):
    lh = toy_run["cfg"]["methods"]["lh"]
    table = build_lh(toy_run["graded"], lh["lambda"], lh["samples_per_problem"], tuple(lh["clip"]),
                     seed=toy_run["cfg"]["seed"])
    out = train_method(toy_run, "lh", table)
    ref, after = toy_run["reference"], greedy(out, toy_run["problems"], toy_run["cfg"])
    # LH prunes where the re-checks are waste (levels 2-5, no slips) and keeps them where they pay:
    # on the default build, levels 2-5 went 68.9 -> 65.7 tokens (-4.7 %) at 96.5 -> 98.2 %, levels
    # 6-8 94.7 -> 95.3 tokens at 71.3 % both (the 1,300-step build, whose checks paid less: -10 %
    # overall on toy_val)
    assert after["length_easy"] < 0.98 * ref["length_easy"], (ref, after)
    assert after["acc"] >= ref["acc"] - 5, (ref, after)
    assert after["acc_hard"] >= ref["acc_hard"] - 5, (ref, after)


def test_sft_and_dpo_train_and_change_the_model(toy_run):
    m = toy_run["cfg"]["methods"]
    ref = toy_run["reference"]
    for method, table in (("sft", build_sft(toy_run["graded"], m["sft"]["n_shortest"])),
                          ("dpo", build_dpo(toy_run["graded"], m["dpo"]["n_chosen"]))):
        out = train_method(toy_run, method, table)
        after = greedy(out, toy_run["problems"], toy_run["cfg"])
        assert weights_changed(toy_run["model"], out), method
        assert after["responses"] != ref["responses"], method
        assert after["acc"] >= ref["acc"] - 10, (method, ref, after)   # still solves the task
        assert after["length"] < ref["length"], (method, ref, after)   # trained on short answers
