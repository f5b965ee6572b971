"""The Snakemake workflow itself: lint, the DAG's job lists, and one tiny end-to-end run.

The end-to-end run uses `.test/config.yaml` (every rule, tiny sizes, transformers backend);
it takes a few minutes on 2 cores and is what CI runs of the whole DAG.
"""

from __future__ import annotations

import subprocess
from pathlib import Path

import pandas as pd
import pytest

from tests.conftest import REPO, job_counts, snakemake


def test_lint_is_clean():
    res = snakemake("--lint")
    assert res.returncode == 0 and "Congratulations" in res.stdout + res.stderr, res.stdout[-3000:]


def test_lambda_target_builds_only_that_lh_model(tmp_path):
    res = snakemake("-n", "--cores", "2", "--config", f"results={tmp_path}/r", "--",
                    f"{tmp_path}/r/lambda_5/aes.csv")
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = job_counts(res.stdout)
    assert jobs["train"] == 1 and "build_sft" not in jobs and "build_dpo" not in jobs
    assert jobs["evaluate"] == 2  # the baseline and lh_lambda_5, each on all eval datasets
    assert "runs/lh_lambda_5/model" in res.stdout
    # any λ given in the path works, not only the config's grid
    res = snakemake("-n", "--cores", "2", "--config", f"results={tmp_path}/r", "--",
                    f"{tmp_path}/r/lambda_0.75/aes.csv")
    assert res.returncode == 0 and "lh_lambda_0.75" in res.stdout


def test_all_plans_every_method_lambda_and_split(tmp_path):
    res = snakemake("-n", "--cores", "2", "--config", f"results={tmp_path}/r")
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = job_counts(res.stdout)
    # sft, dpo, λ ∈ {0, 2, 5} (the default grid), three difficulty splits, lh_onpolicy
    assert jobs["train"] == 2 + 3 + 3 + 1
    assert jobs["evaluate"] == 2 + jobs["train"]  # + baseline, fast_prompt


def _dry_run_with_overlay(tmp_path, overlay_text: str) -> subprocess.CompletedProcess:
    """`snakemake -n -p --configfile config/config.yaml overlay.yaml` (the overlay's keys win)."""
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(overlay_text)
    res = snakemake("-n", "-p", "--cores", "2", "--configfile", "config/config.yaml", str(overlay),
                    "--config", f"results={tmp_path}/r")
    assert res.returncode == 0, res.stderr[-3000:]
    return res


def test_layered_configfiles_dry_run(tmp_path):
    """--configfile A B: B holds one key; the merged config is validated once (not B alone)."""
    res = _dry_run_with_overlay(tmp_path, "sampling: {k: 2}\n")
    assert "--k 2 " in res.stdout and job_counts(res.stdout)["train"] == 9


def test_evaluation_and_sampling_get_the_same_engine_arguments(tmp_path):
    """One helper builds both stages' engine flags: max_model_len reaches evaluation too."""
    res = _dry_run_with_overlay(tmp_path, "models: {toy: {max_model_len: 777, dtype: float32}}\n")
    commands = [line.split("Shell command:", 1)[1].strip() for line in res.stdout.splitlines()
                if "Shell command: o1pruner " in line]
    for stage in ("sample", "evaluate"):
        mine = [c for c in commands if c.strip().startswith(f"o1pruner {stage} ")]
        assert mine, stage
        for c in mine:
            assert "--max-model-len 777" in c and "--dtype float32" in c and "--prompt-family default" in c
    fast = [c for c in commands if "--run fast_prompt" in c]
    assert len(fast) == 1 and "--speed fast" in fast[0]
    assert all("--speed normal" in c for c in commands if "o1pruner evaluate" in c and c not in fast)


def test_bad_config_stops_before_any_job(tmp_path):
    res = snakemake("-n", "--cores", "2", "--config", "sampling={'k': 0}")
    assert res.returncode != 0
    assert "sampling.k" in res.stdout + res.stderr


@pytest.mark.slow
def test_end_to_end_tiny(tiny_run, tmp_path):
    results = tiny_run
    t2 = pd.read_csv(results / "tables" / "table2.csv")
    assert t2["method"].tolist() == ["Baseline", "Fast-solving prompt", "SFT", "DPO", "O1-Pruner",
                                     "O1-Pruner on-policy (GRPO)"]
    t3 = pd.read_csv(results / "tables" / "table3.csv")
    assert sorted(t3["lambda"]) == [0.0, 2.0]
    _rerun_only_what_changed(results, tmp_path)


def _planned(results: Path, tmp_path: Path, overlay_text: str) -> tuple[dict[str, int], str]:
    overlay = tmp_path / "overlay.yaml"
    overlay.write_text(overlay_text)
    res = snakemake("-n", "--cores", "2", "--configfile", ".test/config.yaml", str(overlay),
                    "--config", f"results={results}")
    assert res.returncode == 0, res.stderr[-3000:]
    return job_counts(res.stdout), res.stdout


def _rerun_only_what_changed(results: Path, tmp_path: Path) -> None:
    """After a finished run, an edit reruns only the jobs whose result it can change."""
    jobs, out = _planned(results, tmp_path, "methods: {dpo: {beta: 0.2}}\n")
    assert jobs.get("train") == 1 and "runs/dpo/model" in out, out[-3000:]
    assert jobs.get("evaluate") == 1 and "sample_shard" not in jobs
    jobs, out = _planned(results, tmp_path, "eval_datasets: [toy_easy, toy_medium, toy_hard]\n")
    assert "train" not in jobs and "evaluate" not in jobs and "sample_shard" not in jobs, out[-3000:]
    jobs, out = _planned(results, tmp_path, "models: {toy: {resources: {train: {runtime: 999}}}}\n")
    assert "train" not in jobs and "evaluate" not in jobs, out[-3000:]
    t1 = pd.read_csv(results / "tables" / "table1_toy.csv")
    assert t1["interval"].tolist() == [1, 2, 3, 4]
    for f in ("figure1_toy", "figure2", "figure3", "figure4"):
        assert (results / "figures" / f"{f}.png").stat().st_size > 1000
    stats = pd.read_parquet(results / "toy" / "reference_stats.parquet")
    assert len(stats) == 10 and stats["n_samples"].eq(4).all()
    # the single-λ target reuses what `all` built: nothing left to do
    res = snakemake("-n", "--cores", "2", "--configfile", ".test/config.yaml", "--config",
                    f"results={results}", "--", f"{results}/lambda_2/aes.csv")
    assert res.returncode == 0
    assert "train" not in job_counts(res.stdout) if "Job stats:" in res.stdout else True
    # the run stays: it is the session's shared tiny_run (the report and results-page tests read it)


@pytest.mark.slow
def test_end_to_end_thinking(tmp_path):
    """The toy's thinking variant through the whole DAG (.test/think.yaml): samples record
    thinking/answer tokens, grading reads the answer after </think>, LH trains, evaluation
    reports the greedy and the sampled protocol."""
    import json

    results = tmp_path / "results"
    res = snakemake("--cores", "2", "--configfile", ".test/think.yaml", "--config",
                    f"results={results}", timeout=3000)
    assert res.returncode == 0, (res.stdout + res.stderr)[-5000:]
    graded = pd.read_parquet(results / "toy" / "presample" / "graded.parquet")
    assert (graded["thinking_tokens"] + graded["answer_tokens"] == graded["num_tokens"]).all()
    closed = graded["response"].str.contains("</think>", regex=False)
    assert closed.any() and (graded.loc[closed, "thinking_tokens"] > 0).all()
    assert graded["prompt"].str.endswith("<think>\n").all()
    # the graded answer comes from after </think>: never a box that only the thinking holds
    for _, row in graded[closed & graded["extracted"].notna()].iterrows():
        assert row["extracted"] in row["response"].rsplit("</think>", 1)[1]
    metrics = json.loads((results / "toy" / "eval" / "baseline" / "toy_easy.json").read_text())
    assert metrics["protocol"] == "greedy" and metrics["sampled"]["n"] == 2
    assert set(metrics["sampled"]["pass_at"]) == {"1", "2"}
    sampled = pd.read_parquet(results / "toy" / "eval" / "lh_lambda_2" / "toy_hard.sampled.parquet")
    assert sampled.groupby("problem_id").size().eq(2).all()
    t2 = pd.read_csv(results / "tables" / "table2.csv")
    assert t2["method"].tolist() == ["Baseline", "O1-Pruner"]


def test_gpu_jobs_tell_their_command_how_many_gpus_they_asked_for(tmp_path):
    """What lets a GPU job stop at once without CUDA (o1pruner.devices.require_gpus): sample and
    evaluate get --gpus <resources.gpu>, train O1PRUNER_JOB_GPUS=<resources.gpu> and torchrun."""
    res = _dry_run_with_overlay(tmp_path, "models: {toy: {resources: {sample: {gpu: 1}, evaluate: {gpu: 1}, "
                                          "train: {gpu: 2}}}}\n")
    commands = [line.split("Shell command:", 1)[1].strip() for line in res.stdout.splitlines()
                if "Shell command:" in line]
    by_stage = {stage: [c for c in commands if f" {stage} --" in f" {c}"] for stage in ("sample", "evaluate", "train")}
    assert all(by_stage.values()), commands[:5]
    assert all("--gpus 1 " in c for c in by_stage["sample"] + by_stage["evaluate"])
    assert all(c.startswith("O1PRUNER_JOB_GPUS=2 torchrun --standalone --nproc_per_node 2 ") for c in by_stage["train"])


def test_rules_find_the_cli_without_an_activated_venv(tmp_path):
    """`.venv/bin/snakemake --cores 2 <target>` from a shell whose PATH lacks the venv: the rules'
    `o1pruner` is the one beside Snakemake's interpreter, not a bare `exit status 127`."""
    import os
    import sys

    bare = os.pathsep.join(p for p in os.environ.get("PATH", "").split(os.pathsep)
                           if Path(p).resolve() != Path(sys.executable).parent.resolve())
    target = tmp_path / "results" / "data" / "toy_easy.parquet"
    res = subprocess.run([sys.executable, "-m", "snakemake", "--cores", "1", "--config",
                          f"results={tmp_path / 'results'}", "--", str(target)],
                         cwd=REPO, capture_output=True, text=True, timeout=600, env={**os.environ, "PATH": bare})
    assert res.returncode == 0, res.stderr[-3000:]
    assert "127" not in res.stderr
    assert len(pd.read_parquet(target)) == 150
