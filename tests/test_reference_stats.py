"""Reference statistics and the Section 3 length-interval analysis on hand-made tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from o1pruner.cli import main
from o1pruner.reference_stats import reference_stats
from o1pruner.reporting.length_disharmony import length_intervals, table1


def graded(rows):
    return pd.DataFrame(rows, columns=["problem_id", "sample_idx", "num_tokens", "correct"])


def test_reference_stats_by_hand():
    g = graded([("a", 0, 10, True), ("a", 1, 30, False), ("a", 2, 20, True),
                ("b", 0, 5, False), ("b", 1, 7, False)])
    s = reference_stats(g).set_index("problem_id")
    assert s.loc["a", "n_samples"] == 3
    assert s.loc["a", "mean_length"] == pytest.approx(20.0)
    assert s.loc["a", "mean_acc"] == pytest.approx(2 / 3)
    assert s.loc["a", "std_length"] == pytest.approx(np.std([10, 30, 20]))
    assert (s.loc["a", "min_length"], s.loc["a", "max_length"]) == (10, 30)
    assert s.loc["a", "shortest_correct_length"] == 10
    assert s.loc["b", "mean_acc"] == 0.0
    assert np.isnan(s.loc["b", "shortest_correct_length"])  # no correct sample


def test_length_intervals_quartiles():
    # 8 samples: lengths 1..8, correct for the 4 shortest only -> interval accuracies 1,1,0,0
    g = graded([("p", i, 8 - i, (8 - i) <= 4) for i in range(8)])
    per = length_intervals(g, 4)
    assert per["accuracy"].tolist() == [1.0, 1.0, 0.0, 0.0]
    assert per["mean_length"].tolist() == [1.5, 3.5, 5.5, 7.5]
    t = table1(per)
    assert t["accuracy"].tolist() == [100.0, 100.0, 0.0, 0.0]


def test_length_intervals_ties_are_deterministic_and_uneven_sizes():
    g = graded([("p", i, 10, i % 2 == 0) for i in range(6)])  # all the same length
    per = length_intervals(g, 4)
    assert per["n"].tolist() == [2, 2, 1, 1]  # np.array_split sizes
    assert per["accuracy"].tolist() == [0.5, 0.5, 1.0, 0.0]  # ranks by sample_idx


def test_table1_averages_over_problems():
    g = graded([("a", i, i, i < 2) for i in range(4)] + [("b", i, i, True) for i in range(4)])
    t = table1(length_intervals(g, 2))
    assert t["accuracy"].tolist() == [100.0, 50.0]
    assert t["problems"].tolist() == [2, 2]


def test_too_few_samples_is_an_error():
    with pytest.raises(ValueError, match="problem p: 2 samples cannot fill 4 intervals"):
        length_intervals(graded([("p", 0, 1, True), ("p", 1, 2, True)]), 4)


def test_cli_writes_table_and_figure(tmp_path):
    g = graded([(f"p{j}", i, i + j, (i + j) % 3 > 0) for j in range(3) for i in range(8)])
    src = tmp_path / "g.parquet"
    g.to_parquet(src)
    assert main(["reference-stats", "--graded", str(src), "--output", str(tmp_path / "s.parquet")]) == 0
    assert len(pd.read_parquet(tmp_path / "s.parquet")) == 3
    assert main(["length-disharmony", "--graded", str(src), "--model", "m",
                 "--per-problem", str(tmp_path / "pp.parquet"), "--table", str(tmp_path / "t1"),
                 "--figure", str(tmp_path / "f1")]) == 0
    t = pd.read_csv(tmp_path / "t1.csv")
    assert list(t.columns) == ["model", "interval", "accuracy", "mean_length", "problems"]
    assert (tmp_path / "t1.md").read_text().startswith("| model | interval |")
    assert (tmp_path / "f1.png").stat().st_size > 1000 and (tmp_path / "f1.pdf").exists()
