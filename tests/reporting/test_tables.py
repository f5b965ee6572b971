"""Paper tables (o1pruner.reporting.tables): Table 2 / Table 3 layout, method names and order, Markdown."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from o1pruner.evaluation import aes
from o1pruner.reporting import tables
from o1pruner.schemas import SchemaError

DATA = Path(__file__).parents[1] / "data"
T2_COLUMNS = ["model", "method"] + [f"{d}/{m}" for d in ("MATH", "GSM8K", "GaoKao", "AVERAGE")
                                    for m in ("Acc", "Length", "AES")]
ORDER = ["Baseline", "Fast-solving prompt", "SFT", "DPO", "O1-Pruner"]


@pytest.fixture(scope="module")
def paper() -> pd.DataFrame:
    return pd.read_csv(DATA / "paper_table2.csv")


@pytest.fixture(scope="module")
def paper3() -> pd.DataFrame:
    return pd.read_csv(DATA / "paper_table3.csv")


def test_display_method_accepts_ids_and_names():
    ids = ["baseline", "fast_prompt", "sft", "dpo", "lh"]
    assert [tables.display_method(m) for m in ids] == ORDER
    assert [tables.display_method(m) for m in ORDER] == ORDER
    assert tables.display_method("Fast-solving Prompt") == "Fast-solving prompt"  # as the paper prints it
    assert tables.display_method(" o1-pruner ") == "O1-Pruner"
    assert tables.display_method("my_method") == "my_method"


def test_table2_round_trip_from_paper_csv(paper):
    assert list(tables.table2(paper).columns) == T2_COLUMNS  # datasets in order of appearance
    # row order of the input does not matter once the dataset order is given
    t2 = tables.table2(paper.sample(frac=1, random_state=0), datasets=["MATH", "GSM8K", "GaoKao"])
    assert t2.shape == (10, 14)
    assert list(t2.columns) == T2_COLUMNS
    assert list(t2["method"]) == ORDER * 2
    # models in order of first appearance in the (shuffled) input
    first = list(dict.fromkeys(paper.sample(frac=1, random_state=0)["model"]))
    assert list(t2["model"]) == [first[0]] * 5 + [first[1]] * 5
    # every cell is the paper's number
    long = t2.melt(id_vars=["model", "method"], var_name="col")
    long[["dataset", "metric"]] = long["col"].str.split("/", expand=True)
    src = paper.assign(method=paper["method"].map(tables.display_method)).melt(
        id_vars=["model", "method", "dataset"], value_vars=["acc", "length", "aes"], var_name="metric")
    src["metric"] = src["metric"].map({"acc": "Acc", "length": "Length", "aes": "AES"})
    joined = long.merge(src, on=["model", "method", "dataset", "metric"], suffixes=("", "_paper"))
    assert len(joined) == 10 * 12
    assert np.array_equal(joined["value"].astype(float), joined["value_paper"].astype(float))


def test_table2_markdown_renders_printed_precision(paper, tmp_path):
    csv_path, md_path = tables.write_report_table(tables.table2(paper), tmp_path / "out" / "table2")
    assert (csv_path.name, md_path.name) == ("table2.csv", "table2.md")
    md = md_path.read_text().splitlines()
    assert md[0] == "| " + " | ".join(T2_COLUMNS) + " |"
    assert md[1] == "| --- | --- | " + " | ".join(["---:"] * 12) + " |"
    assert len(md) == 12
    assert md[2] == "| Marco-o1-7B | Baseline | 73.8 | 1156 | 0.00 | 89.2 | 530 | 0.00 | 57.1 | 1112 | 0.00 | 73.4 | 932 | 0.00 |"
    assert md[6] == "| Marco-o1-7B | O1-Pruner | 77.5 | 657 | 0.58 | 91.4 | 343 | 0.43 | 61.6 | 664 | 0.64 | 76.8 | 554 | 0.55 |"
    assert md[8] == "| QwQ-32B-Preview | Fast-solving prompt | 90.2 | 1763 | 0.21 | 95.8 | 561 | 0.30 | 78.4 | 1911 | 0.15 | 88.1 | 1411 | 0.22 |"
    back = pd.read_csv(csv_path)
    pd.testing.assert_frame_equal(back, tables.table2(paper), check_dtype=False)


def test_table2_from_compute_aes_with_method_ids():
    rows = []
    for method, acc, length in [("lh", 77.5, 657), ("dpo", 71.8, 761), ("baseline", 73.8, 1156),
                                ("sft", 73.6, 1076), ("fast_prompt", 71.0, 1113)]:
        rows += [{"model": "toy", "method": method, "dataset": d, "acc": acc, "length": length}
                 for d in ("gsm8k", "math500")]
    t2 = tables.table2(aes.compute_aes(pd.DataFrame(rows), variant="table2"))
    assert list(t2["method"]) == ORDER
    assert list(t2.columns[2:5]) == ["gsm8k/Acc", "gsm8k/Length", "gsm8k/AES"]
    assert list(t2.columns[-3:]) == ["AVERAGE/Acc", "AVERAGE/Length", "AVERAGE/AES"]
    lh = t2.set_index("method").loc["O1-Pruner"]
    assert lh["AVERAGE/AES"] == pytest.approx(aes.aes_score(77.5, 657, 73.8, 1156, variant="table2"))


def test_table2_unknown_methods_follow_the_paper_ones_and_missing_cells_are_blank():
    df = pd.DataFrame([
        {"model": "m", "method": "mine", "dataset": "A", "acc": 1.0, "length": 2.0, "aes": 0.1},
        {"model": "m", "method": "lh", "dataset": "A", "acc": 1.0, "length": 2.0, "aes": 0.2},
        {"model": "m", "method": "baseline", "dataset": "A", "acc": 1.0, "length": 2.0, "aes": 0.0},
        {"model": "m", "method": "baseline", "dataset": "B", "acc": 1.0, "length": 2.0, "aes": 0.0},
    ])
    t2 = tables.table2(df)
    assert list(t2["method"]) == ["Baseline", "O1-Pruner", "mine"]
    assert np.isnan(t2.loc[1, "B/AES"])
    assert "| m | mine | 1.0 | 2 | 0.10 |  |  |  |" in tables.to_markdown(t2)


def test_table2_rejects_several_runs_of_one_method(paper3, paper):
    with pytest.raises(ValueError, match=r"no rows for dataset\(s\) \['AIME'\]"):
        tables.table2(paper, datasets=["MATH", "AIME"])
    both = pd.concat([paper, paper3], ignore_index=True)
    with pytest.raises(ValueError, match="several rows for model='Marco-o1-7B', method='O1-Pruner', dataset='AVERAGE'"):
        tables.table2(both)
    with pytest.raises(SchemaError, match=r"missing column\(s\) \['aes'\]"):
        tables.table2(paper.drop(columns="aes"))


def test_table3_round_trip_from_paper_csv(paper3, tmp_path):
    t3 = tables.table3(paper3.iloc[::-1])  # λ order comes from sorting, not the input
    assert list(t3.columns) == ["model", "lambda", "AVERAGE/Acc", "AVERAGE/Length", "AVERAGE/AES"]
    assert t3.shape == (4, 5)
    assert list(t3["lambda"]) == [0, 1, 2, 5]
    assert list(t3["AVERAGE/AES"]) == [0.49, 0.54, 0.55, 0.45]
    _, md_path = tables.write_report_table(t3, tmp_path / "table3")
    md = md_path.read_text().splitlines()
    assert md[0] == "| model | lambda | AVERAGE/Acc | AVERAGE/Length | AVERAGE/AES |"
    assert md[1] == "| --- | ---: | ---: | ---: | ---: |"
    assert md[2:] == ["| Marco-o1-7B | 0 | 74.8 | 527 | 0.49 |", "| Marco-o1-7B | 1 | 76.0 | 532 | 0.54 |",
                      "| Marco-o1-7B | 2 | 76.8 | 554 | 0.55 |", "| Marco-o1-7B | 5 | 76.3 | 656 | 0.45 |"]


def test_table3_from_compute_aes_lambda_runs():
    rows = [{"model": "toy", "method": "baseline", "dataset": d, "lambda": np.nan, "acc": 50.0, "length": 1000}
            for d in ("a", "b")]
    rows += [{"model": "toy", "method": "lh", "dataset": d, "lambda": lam, "acc": 50.0 + lam, "length": 500 + 100 * lam}
             for lam in (2, 0.5) for d in ("a", "b")]
    rows += [{"model": "toy", "method": "sft", "dataset": d, "lambda": np.nan, "acc": 50.0, "length": 900}
             for d in ("a", "b")]
    t3 = tables.table3(aes.compute_aes(pd.DataFrame(rows)))
    assert list(t3["lambda"]) == [0.5, 2.0]  # only O1-Pruner runs
    assert list(t3["AVERAGE/Length"]) == [550.0, 700.0]
    assert t3.loc[0, "AVERAGE/AES"] == pytest.approx(0.45 + 3 * 0.01)
    assert "| toy | 0.5 | 50.5 | 550 | 0.48 |" in tables.to_markdown(t3)


def test_table3_errors(paper, paper3):
    with pytest.raises(SchemaError, match=r"missing column\(s\) \['lambda'\]"):
        tables.table3(paper)
    with pytest.raises(ValueError, match="has no lambda"):
        tables.table3(paper.assign(**{"lambda": np.nan}))
    with pytest.raises(ValueError, match="several O1-Pruner runs for model='Marco-o1-7B', lambda=2"):
        tables.table3(pd.concat([paper3, paper3.iloc[[2]]]))
    with pytest.raises(ValueError, match="no O1-Pruner rows"):
        tables.table3(paper3.assign(method="SFT"))


def test_markdown_escapes_pipes():
    md = tables.to_markdown(pd.DataFrame({"model": ["a|b"], "MATH/AES": [0.123]}))
    assert md.splitlines()[2] == "| a\\|b | 0.12 |"


def _aes_with_intervals():
    from o1pruner.evaluation.aes import compute_aes
    from o1pruner.evaluation.bootstrap import attach_intervals, bootstrap_cells

    rng = np.random.default_rng(0)
    samples = {}
    for d in ("MATH", "GSM8K"):
        base_c = rng.random(300) < 0.5
        base_t = rng.integers(100, 300, 300)
        ids = [f"{d}{i}" for i in range(300)]
        samples[("m", "baseline", None, d)] = pd.DataFrame({"problem_id": ids, "correct": base_c, "num_tokens": base_t})
        samples[("m", "lh", None, d)] = pd.DataFrame({"problem_id": ids, "correct": base_c | (rng.random(300) < 0.3),
                                                      "num_tokens": base_t // 2})
        samples[("m", "sft", None, d)] = pd.DataFrame({"problem_id": ids, "correct": base_c, "num_tokens": base_t - 1})
    metrics = pd.DataFrame([{"model": m, "method": meth, "dataset": d, "acc": 100 * r["correct"].mean(),
                             "length": r["num_tokens"].mean()} for (m, meth, _, d), r in samples.items()])
    return compute_aes(metrics), attach_intervals(compute_aes(metrics), bootstrap_cells(samples, n_boot=300))


def test_table2_gains_interval_columns_and_keeps_point_columns():
    plain, with_ci = _aes_with_intervals()
    t_plain, t_ci = tables.table2(plain), tables.table2(with_ci)
    assert list(t_ci.columns[:len(t_plain.columns)]) == list(t_plain.columns)
    pd.testing.assert_frame_equal(t_ci[t_plain.columns], t_plain)
    for col in ("MATH/Acc_lo", "MATH/Acc_hi", "AVERAGE/AES_lo", "GSM8K/dAcc", "GSM8K/dAcc_hi", "AVERAGE/dLength_lo"):
        assert col in t_ci.columns
    lh = t_ci[t_ci["method"] == "O1-Pruner"].iloc[0]
    assert lh["MATH/Acc_lo"] <= lh["MATH/Acc"] <= lh["MATH/Acc_hi"]
    md = tables.to_markdown(t_ci)
    assert "MATH/Acc_lo" not in md and "MATH/dAcc" in md
    row = next(line for line in md.splitlines() if "O1-Pruner" in line)
    half = (lh["MATH/Acc_hi"] - lh["MATH/Acc_lo"]) / 2
    assert f"{lh['MATH/Acc']:.1f} ± {half:.1f}" in row
    assert f"{lh['MATH/dAcc']:+.1f} ± " in row and "*" in row  # LH's accuracy gain is clear
    sft = next(line for line in md.splitlines() if "| SFT |" in line)
    assert "+0.0 ± 0.0 |" in sft  # identical accuracy: not marked
    assert "interval excludes 0" in md


def test_table2_vs_paper_shows_ours_printed_and_difference():
    paper = pd.read_csv(Path(__file__).parents[1] / "data" / "paper_table2.csv")
    ours = paper[paper["model"] == "Marco-o1-7B"].assign(model="marco")
    ours["dataset"] = ours["dataset"].replace({"MATH": "math500", "GSM8K": "gsm8k", "GaoKao": "gaokao"})
    ours.loc[(ours["method"] == "O1-Pruner") & (ours["dataset"] == "math500"), "acc"] = 75.0
    cmp = tables.table2_vs_paper(ours, paper, {"marco": "Marco-o1-7B"},
                                 {"math500": "MATH", "gsm8k": "GSM8K", "gaokao": "GaoKao"})
    assert len(cmp) == 5 * 4 * 3  # one model: 5 methods x 4 datasets x 3 metrics
    cell = cmp[(cmp["method"] == "O1-Pruner") & (cmp["dataset"] == "MATH") & (cmp["metric"] == "Acc")].iloc[0]
    assert cell["ours"] == 75.0 and cell["printed"] == 77.5 and cell["diff"] == pytest.approx(-2.5)
    md = tables.table2_vs_paper_markdown(cmp)
    line = next(x for x in md.splitlines() if "O1-Pruner" in x)
    assert line.startswith("| Marco-o1-7B | O1-Pruner | 75.0 / 77.5 / −2.5 | 657 / 657 / +0 | 0.58 / 0.58 / +0.00 |")
    with pytest.raises(ValueError, match="paper_names"):
        tables.table2_vs_paper(ours, paper)
