"""report.smk in the DAG: interval inputs of the AES rule, one training figure per trained run,
length by difficulty, and ours-vs-paper only where the config asks for it."""

from __future__ import annotations

from tests.conftest import job_counts, snakemake


def test_default_plan_has_diagnostics_per_run_and_no_paper_comparison(tmp_path):
    res = snakemake("-n", "--cores", "2", "--config", f"results={tmp_path}/r")
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = job_counts(res.stdout)
    assert jobs["training_figure"] == jobs["train"]  # one diagnostics page per trained run
    assert jobs["length_by_difficulty"] == 1 and "table2_vs_paper" not in jobs
    assert f"{tmp_path}/r/figures/training_toy_lh_lambda_5.png" in res.stdout


def test_paper_plan_compares_with_the_printed_table(tmp_path):
    res = snakemake("-n", "--cores", "2", "--configfile", "config/paper.yaml", "--config",
                    f"results={tmp_path}/r")
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = job_counts(res.stdout)
    assert jobs["table2_vs_paper"] == 1 and jobs["training_figure"] == jobs["train"] == 18


def test_lambda_target_bootstraps_from_the_evaluation_rows(tmp_path):
    res = snakemake("-n", "-p", "--cores", "2", "--config", f"results={tmp_path}/r", "--",
                    f"{tmp_path}/r/lambda_5/aes.csv")
    assert res.returncode == 0, res.stderr[-3000:]
    aes = res.stdout.split("rule aes:")[1].split("\n\n")[0]
    assert "eval/lh_lambda_5/toy_hard.parquet" in aes and "eval/baseline/toy_easy.parquet" in aes
    assert "--samples-index" in res.stdout and "--bootstrap-samples 1000" in res.stdout
