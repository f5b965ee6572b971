"""The results page (o1pruner results-page): assembled from a run's own files, differences that
hold read from their intervals, run time from the benchmarks, the machine the run recorded, and
an error naming every missing file. The slow test checks the `.test` run's page (conftest.tiny_run).

    PYTHONPATH=src .venv/bin/python -m pytest tests/reporting/test_results_page.py -q
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from o1pruner import cli
from o1pruner.config import load
from o1pruner.reporting import length_disharmony, pareto, results_page, tables, trainers
from o1pruner.toy import anatomy
from tests.conftest import REPO

TEST_CONFIG = ".test/config.yaml"
MACHINE = {"cpu_model": "Test CPU 9000", "logical_cpus": 4, "usable_cpus": 2, "gpus": [],
           "os": "Linux 6.1", "python": "3.11.9", "torch": "2.5.1", "transformers": "4.46.0",
           "commit": "0123456789ab", "recorded_at": "2026-01-02 03:04 UTC"}


@pytest.fixture(scope="module")
def config() -> dict:
    return load(REPO / TEST_CONFIG)


def _aes_rows(method: str, acc_diff: tuple[float, float, float], lam: float | None = None,
             length: float = 100.0) -> list[dict]:
    """AES-table rows of one run on toy_easy and AVERAGE, with intervals (acc_diff = value, lo, hi)."""
    d, lo, hi = acc_diff
    row = {"model": "toy", "method": method, "acc": 80 + d, "acc_lo": 70.0, "acc_hi": 90.0, "length": length,
           "length_lo": length - 10, "length_hi": length + 10, "aes": 0.5, "aes_lo": 0.1, "aes_hi": 0.9,
           "acc_diff": d, "acc_diff_lo": lo, "acc_diff_hi": hi,
           "length_diff": -20.0, "length_diff_lo": -30.0, "length_diff_hi": -10.0}
    if lam is not None:
        row["lambda"] = lam
    return [{**row, "dataset": ds} for ds in ("toy_easy", "AVERAGE")]


def _write_run(results: Path) -> None:
    """The files a finished `.test` run gives the page, written by the package's own writers."""
    (results / "metrics").mkdir(parents=True)
    aes2 = pd.DataFrame(_aes_rows("baseline", (0.0, 0.0, 0.0)) + _aes_rows("sft", (5.0, 1.0, 9.0))
                        + _aes_rows("lh", (-2.0, -6.0, 3.0)))
    aes2.to_csv(results / "metrics" / "table2_aes.csv", index=False)
    tables.write_report_table(tables.table2(aes2), results / "tables" / "table2")
    aes3 = pd.DataFrame(_aes_rows("baseline", (0.0, 0.0, 0.0)) + _aes_rows("lh", (-3.0, -5.0, -1.0), 0.0)
                        + _aes_rows("lh", (1.0, -1.0, 3.0), 2.0))
    aes3.to_csv(results / "metrics" / "table3_aes.csv", index=False)
    tables.write_report_table(tables.table3(aes3), results / "tables" / "table3")
    # every run once (Table 2's O1-Pruner is λ=2 of the grid); λ=0 the shortest, SFT the most accurate
    aes_all = pd.DataFrame(_aes_rows("baseline", (0.0, 0.0, 0.0)) + _aes_rows("sft", (5.0, 1.0, 9.0), length=120.0)
                           + _aes_rows("lh", (-3.0, -5.0, -1.0), 0.0, length=60.0)
                           + _aes_rows("lh", (1.0, -1.0, 3.0), 2.0, length=80.0))
    pareto.write_pareto_table(pareto.pareto_table(aes_all), results / "tables" / "pareto")
    # .test evaluates lh and lh_onpolicy: the on- against off-policy table; on-policy right on one more
    # problem of four and 10 tokens shorter on each
    off = pd.DataFrame({"problem_id": list("abcd"), "correct": [True, True, False, False], "num_tokens": [50] * 4})
    on = off.assign(correct=[True, True, True, False], num_tokens=40)
    evals = {("toy", run, "toy_easy"): rows for run, rows in (("lh_lambda_2", off), ("lh_onpolicy_lambda_2", on))}
    table = trainers.compare(evals, [("toy", "lh_lambda_2", "lh_onpolicy_lambda_2")], ["toy_easy"], n_boot=200)
    table = pd.concat([table, table.assign(dataset="AVERAGE")], ignore_index=True)  # one set: its own average
    table.to_csv(results / "tables" / "trainers.csv", index=False)
    (results / "tables" / "trainers.md").write_text(trainers.markdown(table))
    per_problem = pd.DataFrame({"problem_id": ["a", "a", "b", "b"], "interval": [1, 2, 1, 2],
                                "accuracy": [1.0, 0.5, 0.5, 0.0], "mean_length": [10.0, 20.0, 12.0, 24.0]})
    tables.write_report_table(length_disharmony.table1(per_problem), results / "tables" / "table1_toy")
    counts = pd.DataFrame([{"model": "toy", "method": "baseline", "dataset": "toy_easy", "n": 12, "acc": 75.0,
                            "n_checks": 2.0, "n_corrections": 0.5, "n_errors": 0.5}])
    anatomy.write_markdown(counts, results / "tables" / "pruning_anatomy.md")
    group = {"levels": [1, 2], "problems": 10, "samples": 40, "acc": [60.0, 50.0, 70.0],
             "more_minus_fewer": [12.5, 4.0, 21.0], "paired_problems": 8,
             "with_correction_pct": [10.0, 5.0, 15.0], "acc_with_correction": [80.0, 60.0, 95.0],
             "mean_checks": 2.1, "mean_errors": 0.4}
    value = {"all": group, "toy_easy": {**group, "levels": [1], "more_minus_fewer": [1.0, -3.0, 5.0]},
             # no problem with samples on both sides of its median (toy-reflection writes NaN)
             "toy_hard": {**group, "more_minus_fewer": [float("nan")] * 3, "paired_problems": 0}}
    (results / "tables" / "toy_reflection_toy.json").write_text(json.dumps(value))
    anatomy.write_markdown(anatomy.reflection_table(value), results / "tables" / "toy_reflection_toy.md")
    (results / "machine.json").write_text(json.dumps(MACHINE))
    bench = results / "benchmarks" / "toy"
    for rel, seconds in (("eval/baseline.tsv", 7.0), ("presample/sample-0-of-2.tsv", 20.0),
                         ("presample/sample-1-of-2.tsv", 22.0), ("reference_model.tsv", 100.0),
                         ("runs/sft/train.tsv", 30.0)):
        (bench / rel).parent.mkdir(parents=True, exist_ok=True)
        (bench / rel).write_text("s\th:m:s\tmax_rss\tmax_vms\tmax_uss\tmax_pss\tio_in\tio_out\tmean_load\tcpu_time\n"
                                 f"{seconds}\t0:00:{seconds:02.0f}\t500.5\t900\t400\t450\t0\t1\t90.0\t{2 * seconds}\n")


@pytest.fixture
def run(tmp_path) -> Path:
    results = tmp_path / "results"
    _write_run(results)
    return results


def test_page_assembles_the_runs_own_tables(run, config):
    page = results_page.render(run, config, [TEST_CONFIG])
    assert page.startswith(f"# Results: {TEST_CONFIG}\n")
    for name in ("table1_toy.md", "table2.md", "table3.md", "trainers.md", "pruning_anatomy.md",
                 "toy_reflection_toy.md"):
        assert (run / "tables" / name).read_text() in page, name  # verbatim, not recomputed
    headings = [line for line in page.splitlines() if line.startswith("## ")]
    assert headings == ["## Where the run happened", "## Run time", "## In short", "## Table 1: length disharmony (toy)",
                        "## Table 2: main results", "## Table 3: ablation on λ", "## Which differences hold",
                        "## Pareto front", "## One reward, two trainers: on-policy against off-policy",
                        "## Pruning anatomy", "## Does the reflection pay? (toy)"]
    assert "| CPU | Test CPU 9000 |" in page and "recorded by the run" in page
    assert "| recorded | 2026-01-02 03:04 UTC |" in page
    assert results_page.render(run, config, [TEST_CONFIG]) == page  # no clock, no randomness


def test_differences_hold_only_when_the_interval_excludes_zero(run, config):
    page = results_page.render(run, config, [TEST_CONFIG])
    # Table 2: SFT +5 [+1, +9] holds, O1-Pruner -2 [-6, +3] does not; length -20 [-30, -10] holds
    assert "| toy | SFT | toy_easy | accuracy − Baseline (points) | +5.0 [+1.0, +9.0] | yes |" in page
    assert "| toy | O1-Pruner | toy_easy | accuracy − Baseline (points) | -2.0 [-6.0, +3.0] | no |" in page
    assert "| toy | SFT | AVERAGE | length − Baseline (tokens) | -20 [-30, -10] | yes |" in page
    # Table 3: AVERAGE only, one row per λ
    assert "| toy | O1-Pruner λ=0 | AVERAGE | accuracy − Baseline (points) | -3.0 [-5.0, -1.0] | yes |" in page
    assert "| toy | O1-Pruner λ=2 | AVERAGE | accuracy − Baseline (points) | +1.0 [-1.0, +3.0] | no |" in page
    assert "O1-Pruner λ=2 | toy_easy" not in page and "| Baseline |" not in page.split("## Which")[1]
    # the reflection: more minus fewer re-checks, per level group
    assert "| toy | all | 1,2 | +12.5 [+4.0, +21.0] | 8 | yes |" in page
    assert "| toy | toy_easy | 1 | +1.0 [-3.0, +5.0] | 8 | no |" in page
    assert "| toy | toy_hard | 1,2 | n/a | 0 | no interval |" in page


def test_pareto_section_lists_the_front_shortest_first(run, config):
    page = results_page.render(run, config, [TEST_CONFIG])
    section = page.split("## Pareto front")[1].split("\n## ")[0]
    # Baseline (80 %, 100 tokens) is dominated by O1-Pruner λ=2 (81 %, 80 tokens); not beyond the
    # intervals, which all overlap
    for dataset in ("toy_easy", "AVERAGE"):
        assert (f"| toy | {dataset} | O1-Pruner (λ=0), O1-Pruner (λ=2), SFT | 4 | none |") in section


def test_in_short_says_what_is_on_the_front_and_what_the_trainers_change(run, config):
    page = results_page.render(run, config, [TEST_CONFIG])
    section = page.split("## In short")[1].split("\n## ")[0]
    # the AVERAGE cells of the Pareto table, shortest first, with their intervals
    assert ("- **toy, average over the evaluation sets:** 3 of 4 runs are on the accuracy–length front "
            "(shortest first): O1-Pruner (λ=0): 77.0 [70.0, 90.0] % at 60 [50, 70] tokens; "
            "O1-Pruner (λ=2): 81.0 [70.0, 90.0] % at 80 [70, 90] tokens; SFT: 85.0 [70.0, 90.0] % at "
            "120 [110, 130] tokens.") in section
    assert "- **toy:** 0 of the 1 dominated runs are dominated beyond the intervals." in section
    # on-policy: +25 points (one problem of four: not beyond the noise of 4 problems), 10 tokens shorter
    line = next(ln for ln in section.splitlines() if ln.startswith("- **lh on-policy"))
    assert "accuracy 50.0 → 75.0 %, +25.0 [" in line and "(within the noise)" in line
    assert "length 50.0 → 40.0 tokens, -10.0 [-10.0, -10.0] (holds)." in line


def test_run_time_sums_shards_in_pipeline_order(run):
    t = results_page.run_time(run)
    assert t["step"].tolist() == ["toy/reference_model", "toy/presample/sample", "toy/runs/sft/train",
                                  "toy/eval/baseline", "all benchmarked jobs"]
    assert t["jobs"].tolist() == [1, 2, 1, 1, 5]
    assert t["wall s"].tolist() == [100.0, 42.0, 30.0, 7.0, 179.0]
    assert t["CPU s"].iloc[-1] == 358.0 and t["peak RSS MB"].iloc[-1] == 500.5


def test_without_benchmarks_or_machine_record_the_page_says_so(run, config):
    import shutil

    shutil.rmtree(run / "benchmarks")
    (run / "machine.json").unlink()
    page = results_page.render(run, config, [TEST_CONFIG])
    assert f"No benchmark files under {run / 'benchmarks'}" in page
    assert "not recorded by the run" in page and f"| CPU | {results_page.cpu_model()} |" in page


def test_missing_files_are_named(run, config, capsys):
    (run / "tables" / "table3.md").unlink()
    (run / "tables" / "toy_reflection_toy.json").unlink()
    with pytest.raises(results_page.ResultsMissing) as err:
        results_page.render(run, config, [TEST_CONFIG])
    assert str(run / "tables" / "table3.md") in str(err.value)
    assert str(run / "tables" / "toy_reflection_toy.json") in str(err.value)
    out = run.parent / "page.md"
    assert cli.main(["results-page", "--results", str(run), "--config", str(REPO / TEST_CONFIG),
                     "--output", str(out)]) == 1
    assert "table3.md" in capsys.readouterr().err and not out.exists()


def test_cpu_model_from_cpuinfo(tmp_path):
    info = tmp_path / "cpuinfo"
    info.write_text("processor\t: 0\nvendor_id\t: AuthenticAMD\nmodel name\t: AMD EPYC 7B13\n\nprocessor\t: 1\n")
    assert results_page.cpu_model(info) == "AMD EPYC 7B13"
    assert results_page.cpu_model(tmp_path / "absent")  # platform's answer, never empty


def test_record_machine_writes_what_the_page_reads(tmp_path):
    out = tmp_path / "machine.json"
    assert cli.main(["record-machine", "--output", str(out)]) == 0
    record = json.loads(out.read_text())
    assert record["cpu_model"] == results_page.cpu_model() and record["logical_cpus"] >= 1
    assert set(MACHINE) == set(record)


@pytest.mark.slow
def test_tiny_run_page_is_reproduced_by_the_renderer(tiny_run, tmp_path, monkeypatch):
    """The `.test` run's own page (rule results_page) equals a fresh rendering of its results."""
    monkeypatch.chdir(REPO)  # the config named as the rule names it, relative to the workflow
    written = (tiny_run / "results.md").read_text()
    out = tmp_path / "results.md"
    assert cli.main(["results-page", "--results", str(tiny_run), "--config", TEST_CONFIG,
                     "--output", str(out)]) == 0
    assert out.read_text() == written
    assert (tiny_run / "tables" / "table2.md").read_text() in written
    machine = json.loads((tiny_run / "machine.json").read_text())  # the run's record, not this machine's
    assert f"| CPU | {machine['cpu_model']} |" in written and "recorded by the run" in written
    assert "| toy/reference_model | 1 |" in written and "## Which differences hold" in written
