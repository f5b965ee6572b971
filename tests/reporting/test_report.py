"""Metrics collection, run ids, and Figures 2-4 from small hand-made inputs."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from o1pruner.evaluation.metrics import check_samples, collect_metrics
from o1pruner.methods.registry import parse_run
from o1pruner.reporting.figures import difficulty_band_label, figure2, figure3, figure4, parse_rulegraph, run_replicates

DOT = """digraph snakemake_dag {
    0[label = "all", color = "0.1 0.6 0.85", style="rounded"];
    1[label = "table2", color = "0.2 0.6 0.85", style="rounded"];
    2[label = "evaluate", color = "0.3 0.6 0.85", style="rounded"];
    1 -> 0
    2 -> 1
}"""


def test_parse_run():
    assert parse_run("baseline") == ("baseline", None, None)
    assert parse_run("lh_lambda_2") == ("lh", 2.0, None)
    assert parse_run("lh_lambda_0.5_hard") == ("lh", 0.5, "hard")
    with pytest.raises(ValueError, match="unknown run id"):
        parse_run("ppo")


def _metrics(tmp_path, run, dataset, acc, length, gen_s=1.0):
    p = tmp_path / f"{run}-{dataset}.json"
    p.write_text(json.dumps({"model": "toy", "method": run, "dataset": dataset, "acc": acc,
                             "length": length, "n": 10, "wall_s": gen_s + 1, "generate_s": gen_s,
                             "tokens_per_s": 100.0, "backend": "vllm"}))
    return p


def test_collect_metrics_and_figures(tmp_path):
    paths = [_metrics(tmp_path, r, d, a, l, g) for r, d, a, l, g in [
        ("baseline", "easy", 50, 100, 2.0), ("lh_lambda_2", "easy", 60, 50, 1.0),
        ("lh_lambda_2_hard", "easy", 55, 60, 1.2), ("fast_prompt", "easy", 40, 90, 1.8)]]
    df = collect_metrics(paths)
    assert df.loc[df["run"] == "lh_lambda_2_hard", ["method", "lambda", "split"]].values.tolist() == [["lh", 2.0, "hard"]]
    figure3(df, tmp_path / "f3")
    figure4(df, {"hard": [60, 100]}, tmp_path / "f4")
    figure2(DOT, tmp_path / "f2")
    for f in ("f2", "f3", "f4"):
        assert (tmp_path / f"{f}.png").stat().st_size > 1000 and (tmp_path / f"{f}.pdf").exists()


def test_parse_rulegraph():
    nodes, edges = parse_rulegraph(DOT)
    assert nodes == {"0": "all", "1": "table2", "2": "evaluate"} and ("2", "1") in edges
    with pytest.raises(ValueError, match="no rules"):
        parse_rulegraph("digraph {}")


def test_unreadable_metrics_file_is_named(tmp_path):
    p = tmp_path / "bad.json"
    p.write_text("{")
    with pytest.raises(ValueError, match="bad.json: unreadable metrics file"):
        collect_metrics([p])


def test_metrics_point_at_their_per_problem_rows(tmp_path):

    p = _metrics(tmp_path, "baseline", "easy", 50, 100)
    df = collect_metrics([p])
    assert df["samples"].tolist() == [str(p.with_suffix(".parquet"))]
    with pytest.raises(ValueError, match="no per-problem evaluation rows"):
        check_samples(df)
    pd.DataFrame({"problem_id": ["a"], "correct": [True], "num_tokens": [3]}).to_parquet(p.with_suffix(".parquet"))
    check_samples(df)


def test_figures_get_bootstrap_error_bars_from_the_rows(tmp_path):

    rows = {"baseline": ([1, 1, 0, 1], [10, 12, 30, 11]), "lh_lambda_2": ([1, 1, 1, 1], [5, 6, 9, 5])}
    paths = []
    for run, (c, t) in rows.items():
        p = _metrics(tmp_path, run, "easy", 100 * sum(c) / 4, sum(t) / 4)
        pd.DataFrame({"problem_id": list("abcd"), "correct": c, "num_tokens": t}).to_parquet(p.with_suffix(".parquet"))
        paths.append(p)
    df = collect_metrics(paths)
    reps = run_replicates(df, 200, 0)
    assert reps[("toy", "lh_lambda_2", "easy")]["acc"].min() == 100.0
    assert reps[("toy", "baseline", "easy")]["acc"].std() > 0
    figure3(df, tmp_path / "f3", n_boot=200)
    assert (tmp_path / "f3.png").stat().st_size > 1000


def test_difficulty_bands_are_named_so_they_cannot_be_read_backwards():

    assert difficulty_band_label(0, 40) == "easiest 40 %"
    assert difficulty_band_label(60, 100) == "hardest 40 %"
    assert difficulty_band_label(30, 70) == "30-70 %\n(easiest first)"
