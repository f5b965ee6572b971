"""Figure 5 and its table (o1pruner pareto): dominance on hand-made runs, the table's columns and
labels, the runs coming from the data (a method registered later appears), the figure's files,
the command, and the rules in the DAG of `.test/config.yaml`.

    PYTHONPATH=src .venv/bin/python -m pytest tests/reporting/test_pareto.py -q
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from o1pruner import cli
from o1pruner.methods import registry
from o1pruner.reporting import pareto
from tests.conftest import job_counts, snakemake

# (method, λ, acc, length) of one evaluation set
RUNS = [("baseline", None, 80.0, 300.0), ("fast_prompt", None, 70.0, 200.0), ("sft", None, 78.0, 220.0),
        ("dpo", None, 82.0, 240.0), ("lh", 0.0, 75.0, 150.0), ("lh", 2.0, 82.0, 200.0)]


def _aes(runs=RUNS, datasets=("toy_easy", "AVERAGE"), half: float | None = 5.0, model: str = "toy") -> pd.DataFrame:
    """An AES table (`o1pruner aes` with --with-lambda) of ``runs`` on each of ``datasets``; with
    intervals ±``half`` points of accuracy and ±``half`` tokens unless ``half`` is None."""
    rows = []
    for dataset in datasets:
        for method, lam, acc, length in runs:
            row = {"model": model, "method": method, "dataset": dataset, "acc": acc, "length": length,
                   "lambda": lam, "aes": 0.1}
            if half is not None:
                row.update(acc_lo=acc - half, acc_hi=acc + half, length_lo=length - half,
                           length_hi=length + half, aes_lo=0.0, aes_hi=0.2)
            rows.append(row)
    return pd.DataFrame(rows)


# ---- dominance ------------------------------------------------------------------------------

def test_dominance_needs_both_axes_at_least_as_good_and_one_strictly():
    acc = [80, 80, 90, 70]
    length = [100, 90, 100, 50]
    d = pareto.dominance(acc, length)
    assert d[0].tolist() == [False, True, True, False]  # same acc shorter, same length more accurate
    assert not d[1].any() and not d[2].any() and not d[3].any()
    assert pareto.on_front(acc, length).tolist() == [False, True, True, True]


def test_equal_points_do_not_dominate_each_other():
    d = pareto.dominance([80, 80, 70], [100, 100, 100])
    assert not d[0, 1] and not d[1, 0] and d[2, 0] and d[2, 1]
    assert pareto.on_front([80, 80, 70], [100, 100, 100]).tolist() == [True, True, False]


def test_a_single_run_is_its_own_front():
    assert pareto.on_front([50.0], [10.0]).tolist() == [True]
    assert pareto.dominance([50.0], [10.0]).tolist() == [[False]]


def test_a_trade_off_keeps_both_runs():
    # more accurate but longer: neither dominates
    assert pareto.on_front([90, 80], [200, 100]).tolist() == [True, True]


def test_dominance_beyond_intervals_compares_worst_with_best_corner():
    # run 1 clearly better on both axes; run 2 better on points only (intervals overlap run 0's)
    acc_lo, acc_hi = [60, 80, 65], [70, 90, 75]
    len_lo, len_hi = [200, 100, 180], [220, 120, 210]
    d = pareto.dominance_beyond_intervals(acc_lo, acc_hi, len_lo, len_hi)
    assert d[0].tolist() == [False, True, False] and not d[1].any()
    # touching intervals with no spread count (equal accuracy known exactly, shorter beyond doubt)
    d = pareto.dominance_beyond_intervals([100, 100], [100, 100], [50, 20], [60, 30])
    assert d[0, 1] and not d[1, 0]
    # identical degenerate intervals: equal, no dominance
    assert not pareto.dominance_beyond_intervals([90, 90], [90, 90], [5, 5], [5, 5]).any()


# ---- the table ------------------------------------------------------------------------------

def test_table_columns_labels_and_front():
    t = pareto.pareto_table(_aes())
    assert list(t.columns) == ["model", "dataset", "run", "label", "method", "lambda",
                               "acc", "acc_lo", "acc_hi", "length", "length_lo", "length_hi",
                               "aes", "aes_lo", "aes_hi", "on_front", "dominated_by",
                               "dominated_beyond_intervals", "dominated_beyond_by"]
    easy = t[t["dataset"] == "toy_easy"].set_index("label")
    assert list(easy.index) == ["Baseline", "Fast-solving prompt", "SFT", "DPO", "O1-Pruner (λ=0)",
                                "O1-Pruner (λ=2)"]
    assert easy.loc["O1-Pruner (λ=2)", "run"] == "lh_lambda_2" and easy.loc["SFT", "run"] == "sft"
    assert easy.index[easy["on_front"]].tolist() == ["O1-Pruner (λ=0)", "O1-Pruner (λ=2)"]
    assert easy.loc["Baseline", "dominated_by"] == "DPO; O1-Pruner (λ=2)"
    assert t["on_front"].dtype == bool and t["dominated_beyond_intervals"].dtype == bool
    # Baseline (80 ± 5, 300 ± 5) against λ=2 (82 ± 5, 200 ± 5): accuracy intervals overlap
    assert not easy.loc["Baseline", "dominated_beyond_intervals"]
    # same length as λ=2 but less accurate: dominated (one axis strictly)
    assert easy.loc["Fast-solving prompt", "dominated_by"] == "O1-Pruner (λ=0); O1-Pruner (λ=2)"


def test_dpo_is_off_the_front_when_lambda_2_ties_its_accuracy_shorter():
    t = pareto.pareto_table(_aes())
    easy = t[t["dataset"] == "toy_easy"].set_index("label")
    assert not easy.loc["DPO", "on_front"] and easy.loc["DPO", "dominated_by"] == "O1-Pruner (λ=2)"


def test_table_beyond_intervals_with_narrow_intervals():
    t = pareto.pareto_table(_aes(half=0.5))
    easy = t[t["dataset"] == "toy_easy"].set_index("label")
    assert easy.loc["Baseline", "dominated_beyond_intervals"]
    assert easy.loc["Baseline", "dominated_beyond_by"] == "DPO; O1-Pruner (λ=2)"
    # DPO's accuracy equals λ=2's: the intervals overlap, so not beyond them
    assert not easy.loc["DPO", "dominated_beyond_intervals"]
    md = pareto.pareto_markdown(t)
    assert "| Baseline | 80.0 [79.5, 80.5] | 300 [300, 300] | 0.10 [0.00, 0.20] |  | DPO*, O1-Pruner (λ=2)* |" in md
    assert "| DPO | 82.0 [81.5, 82.5] | 240 [240, 240] | 0.10 [0.00, 0.20] |  | O1-Pruner (λ=2) |" in md


def test_table_without_intervals_has_no_interval_columns():
    t = pareto.pareto_table(_aes([r for r in RUNS if r[1] != 0.0], half=None).drop(columns="lambda"))
    assert "acc_lo" not in t.columns and "dominated_beyond_intervals" not in t.columns
    # without a lambda column (Table 2's AES table) the O1-Pruner run has no λ in its label
    assert "O1-Pruner" in set(t["label"]) and t["on_front"].sum() == 2
    assert "[" not in pareto.pareto_markdown(t)


def test_rows_ordered_by_model_dataset_then_registry_and_average_last():
    df = pd.concat([_aes(RUNS[::-1], datasets=("AVERAGE", "toy_hard", "toy_easy"), model="b"),
                    _aes(RUNS, datasets=("toy_easy",), model="a")], ignore_index=True)
    t = pareto.pareto_table(df, datasets=["toy_easy", "toy_hard"])
    assert list(dict.fromkeys(t["model"])) == ["b", "a"]
    assert list(dict.fromkeys(t.loc[t["model"] == "b", "dataset"])) == ["toy_easy", "toy_hard", "AVERAGE"]
    assert t["label"].tolist()[:6] == ["Baseline", "Fast-solving prompt", "SFT", "DPO", "O1-Pruner (λ=0)",
                                       "O1-Pruner (λ=2)"]
    # the front is per model and dataset: model a's rows compare only with each other
    assert t.groupby(["model", "dataset"])["on_front"].sum().tolist() == [2, 2, 2, 2]


def test_duplicate_runs_and_bad_values_are_refused():
    df = _aes()
    with pytest.raises(ValueError, match="several rows .*O1-Pruner \\(λ=2\\)"):
        pareto.pareto_table(pd.concat([df, df.tail(1)], ignore_index=True))
    bad = df.copy()
    bad.loc[0, "acc"] = np.nan
    with pytest.raises(ValueError, match="acc=nan is not a finite number"):
        pareto.pareto_table(bad)


def test_a_method_registered_later_appears_with_its_parameter(monkeypatch):
    monkeypatch.setitem(registry.METHODS, "short_prompt", registry.Method("short_prompt", "Short prompt"))
    monkeypatch.setitem(registry.METHODS, "my_reward", registry.Method(
        "my_reward", "My reward", trainer="lh", build="o1pruner.methods.datasets:lh_dataset", run_param="alpha"))
    runs = RUNS + [("my_reward", 0.5, 90.0, 400.0), ("short_prompt", None, 60.0, 100.0)]
    t = pareto.pareto_table(_aes(runs))
    easy = t[t["dataset"] == "toy_easy"].set_index("label")
    assert list(easy.index)[-2:] == ["Short prompt", "My reward (α=0.5)"]  # registry order
    assert easy.loc["My reward (α=0.5)", "run"] == "my_reward_alpha_0.5"
    assert easy.loc["My reward (α=0.5)", "on_front"] and easy.loc["Short prompt", "on_front"]
    summary = pareto.front_summary(t)
    assert summary.iloc[0]["on the front (shortest first)"] == (
        "Short prompt, O1-Pruner (λ=0), O1-Pruner (λ=2), My reward (α=0.5)")


# ---- the figure and the command -------------------------------------------------------------

@pytest.mark.parametrize("half", [5.0, None])
def test_figure5_writes_png_and_pdf(tmp_path, half):
    df = pd.concat([_aes(half=half, datasets=("toy_easy", "toy_hard", "AVERAGE")),
                    _aes(half=half, model="other")], ignore_index=True)
    pareto.figure5(pareto.pareto_table(df), tmp_path / "figure5")
    for ext in ("png", "pdf"):
        assert (tmp_path / f"figure5.{ext}").stat().st_size > 1000


def test_figure5_with_many_runs_puts_the_legend_under_two_columns_of_panels(tmp_path, monkeypatch):
    """More than CROWDED runs (the length-rewards overlay has 18): panels two to a row, only the
    front's runs labelled in them."""
    many = list(RUNS) + [(m, v, 70 + i, 60 + 3 * i) for i, (m, v) in enumerate(
        [("kimi", 1.0), ("kimi_onpolicy", 1.0), ("arora", 0.1), ("arora_onpolicy", 0.1), ("budget", 96.0),
         ("budget_onpolicy", 96.0), ("shorter_better", 0.01), ("shorter_better_onpolicy", 0.01)])]
    table = pareto.pareto_table(_aes(runs=many, datasets=("toy_easy", "toy_medium", "toy_hard", "AVERAGE")))
    labelled = []
    monkeypatch.setattr(pareto, "_place_labels", lambda ax, points, avoid: labelled.append(points))
    pareto.figure5(table, tmp_path / "figure5")
    assert (tmp_path / "figure5.png").stat().st_size > 1000
    assert len(labelled) == 4 and all(front for points in labelled for *_, front, _ in points)
    from PIL import Image

    width, height = Image.open(tmp_path / "figure5.png").size
    assert width < 3.6 * 4 * 150 and height > 2 * 3.5 * 150  # 2 x 2 panels (150 dpi), not 4 in a row


def test_run_styles_a_hue_per_reward_a_marker_per_trainer_and_shades_per_value():
    t = pareto.pareto_table(_aes())
    styles = pareto.run_styles(t)
    assert styles["O1-Pruner (λ=0)"]["marker"] == styles["O1-Pruner (λ=2)"]["marker"] == "o"
    assert styles["O1-Pruner (λ=0)"]["color"] != styles["O1-Pruner (λ=2)"]["color"]
    assert [styles[k]["marker"] for k in ("Baseline", "SFT", "DPO")] == ["s", "v", "^"]
    assert len({s["color"] for s in styles.values()}) == len(styles)
    # a reward's on-policy run: its off-policy run's hue, the on-policy marker
    rows = pd.concat([_aes(), _aes().query("method == 'lh'").assign(method="lh_onpolicy")], ignore_index=True)
    both = pareto.run_styles(pareto.pareto_table(rows))
    on, off = both["O1-Pruner on-policy (GRPO) (λ=2)"], both["O1-Pruner (λ=2)"]
    assert (on["marker"], off["marker"]) == ("D", "o") and on["color"] == off["color"]


def test_pareto_command_writes_table_and_figure(tmp_path):
    aes = tmp_path / "pareto_aes.csv"
    _aes(datasets=("toy_hard", "toy_easy", "AVERAGE")).to_csv(aes, index=False)
    assert cli.main(["pareto", "--aes", str(aes), "--table", str(tmp_path / "tables" / "pareto"),
                     "--figure", str(tmp_path / "figures" / "figure5"), "--html",
                     "--datasets", "toy_easy", "toy_hard"]) == 0
    t = pd.read_csv(tmp_path / "tables" / "pareto.csv")
    assert list(dict.fromkeys(t["dataset"])) == ["toy_easy", "toy_hard", "AVERAGE"]
    md = (tmp_path / "tables" / "pareto.md").read_text()
    assert md.index("### toy · toy_easy") < md.index("### toy · toy_hard") < md.index("### toy · AVERAGE")
    assert "<table>" in (tmp_path / "tables" / "pareto.html").read_text()
    assert (tmp_path / "figures" / "figure5.png").stat().st_size > 1000
    assert pareto.front_summary(t).iloc[0]["on the front (shortest first)"] == \
        "O1-Pruner (λ=0), O1-Pruner (λ=2)"


# ---- the workflow ---------------------------------------------------------------------------

def test_dag_collects_every_evaluated_run_once_and_targets_figure5(tmp_path):
    r = tmp_path / "r"
    res = snakemake("-n", "-p", "--cores", "2", "--configfile", ".test/config.yaml", "--config", f"results={r}")
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = job_counts(res.stdout)
    assert jobs["metrics_pareto"] == 1 and jobs["pareto"] == 1
    assert jobs["aes"] == 3  # Table 2, Table 3, the Pareto front
    assert f"{r}/figures/figure5.png" in res.stdout and f"{r}/tables/pareto.csv" in res.stdout
    collect = res.stdout.split("rule metrics_pareto:")[1].split("\n\n")[0]
    command = next(line for line in collect.splitlines() if "o1pruner collect-metrics" in line)
    assert "--with-lambda" in command
    inputs = [p for p in command.split() if p.endswith(".json")]
    # Table 2's runs (.test evaluates lh_onpolicy too) and the λ grid [0, 2] (λ=2 is Table 2's
    # O1-Pruner): once each, every set
    runs = sorted({p.split("/eval/")[1].split("/")[0] for p in inputs})
    assert runs == ["baseline", "dpo", "fast_prompt", "lh_lambda_0", "lh_lambda_2", "lh_onpolicy_lambda_2", "sft"]
    assert len(inputs) == len(set(inputs)) == 7 * 3
    aes = [b for b in res.stdout.split("\n\n") if "rule aes:" in b and "pareto_aes.csv" in b]
    assert aes and "eval/lh_lambda_0/toy_hard.parquet" in aes[0]
    figure = res.stdout.split("rule pareto:")[1].split("\n\n")[0]
    assert "o1pruner pareto" in figure and "--datasets toy_medium toy_easy toy_hard" in figure
