"""Datasets: stable ids, field mapping, the real ../shared/data sets, clear errors on bad rows."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from o1pruner.problems import DatasetError, load_dataset, problem_id, read_dataset_file
from o1pruner.toy.model import toy_problems
from tests.conftest import REPO

SHARED_SPECS = {
    "math500_subset_test.json": (458, "ground_truth_answer"),
    "gsm8k_test.json": (1319, "ground_truth_answer"),
    "gaokao2023en_test.json": (385, "ground_truth_answer"),
}


@pytest.mark.parametrize("name", sorted(SHARED_SPECS))
def test_real_eval_sets_load_through_local_path(shared_data, name):
    n, answer = SHARED_SPECS[name]
    spec = {"source": "local", "path": str(shared_data / name), "problem_field": "problem",
            "answer_field": answer, "on_bad_row": "skip"}
    df = load_dataset(name.split("_")[0], spec)
    # gaokao has two rows with an empty gold answer: skipped and counted, never graded
    assert len(df) + df.attrs["skipped"] == n
    assert df["problem_id"].is_unique
    assert df["answer"].str.len().min() > 0


def test_ids_are_stable_under_reordering(tmp_path):
    rows = [{"q": f"what is {i}+1?", "a": str(i + 1)} for i in range(5)]
    spec = {"source": "local", "problem_field": "q", "answer_field": "a"}
    a, b = tmp_path / "a.jsonl", tmp_path / "b.json"
    a.write_text("\n".join(json.dumps(r) for r in rows))
    b.write_text(json.dumps(rows[::-1]))
    da = load_dataset("d", {**spec, "path": str(a)})
    db = load_dataset("d", {**spec, "path": str(b)})
    assert set(da["problem_id"]) == set(db["problem_id"])
    assert da["problem_id"][0] == problem_id("d", "what is 0+1?")


def test_parquet_and_answer_regex(tmp_path):
    p = tmp_path / "g.parquet"
    pd.DataFrame({"question": ["x?"], "answer": ["blah\n#### 42"]}).to_parquet(p)
    df = load_dataset("gsm", {"source": "local", "path": str(p), "problem_field": "question",
                              "answer_field": "answer", "answer_regex": "#### (.*)"})
    assert df["answer"].tolist() == ["42"]


def test_limit_is_seeded(tmp_path):
    p = tmp_path / "a.jsonl"
    p.write_text("\n".join(json.dumps({"problem": f"p{i}", "answer": "1"}) for i in range(50)))
    spec = {"source": "local", "path": str(p), "limit": 10, "seed": 3}
    assert load_dataset("d", spec)["problem_id"].tolist() == load_dataset("d", spec)["problem_id"].tolist()
    assert len(load_dataset("d", spec)) == 10


@pytest.mark.parametrize("content, message", [
    ('{"problem": "a", "answer": "1"}\n{"problem": "b"}\n', "row 1: missing field 'answer'"),
    ('{"problem": "", "answer": "1"}\n', "row 0: empty 'problem'"),
    ('{"problem": "a", "answer": " "}\n', "row 0: empty 'answer'"),
    ('{"problem": "a", "answer": "1"}\n{"problem": "a", "answer": "2"}\n', "row 1: duplicate problem id"),
    ('{"problem": "a", "answer": "1"}\n{not json\n', "line 2: invalid JSON"),
    ('[1, 2]\n', "row 0: expected an object, got list"),
])
def test_bad_rows_name_file_and_row(tmp_path, content, message):
    p = tmp_path / "bad.jsonl"
    p.write_text(content)
    with pytest.raises(DatasetError) as e:
        load_dataset("d", {"source": "local", "path": str(p)})
    assert str(p) in str(e.value) and message in str(e.value)


def test_skip_bad_rows_counts_them(tmp_path):
    p = tmp_path / "bad.jsonl"
    p.write_text('{"problem": "a", "answer": "1"}\n{"problem": "b"}\n{"problem": "", "answer": "2"}\n')
    df = load_dataset("d", {"source": "local", "path": str(p), "on_bad_row": "skip"})
    assert len(df) == 1 and df.attrs["skipped"] == 2


def test_non_utf8_and_wrong_type(tmp_path):
    p = tmp_path / "latin.jsonl"
    p.write_bytes(b'{"problem": "a", "answer": "1"}\n{"problem": "caf\xe9", "answer": "1"}\n')
    with pytest.raises(DatasetError, match="line 2: not UTF-8"):
        read_dataset_file(p)
    q = tmp_path / "data.txt"
    q.write_text("hello")
    with pytest.raises(DatasetError, match="unsupported file type"):
        read_dataset_file(q)
    r = tmp_path / "fake.parquet"
    r.write_text("not parquet")
    with pytest.raises(DatasetError, match="not a readable Parquet"):
        read_dataset_file(r)
    with pytest.raises(DatasetError, match="no such file"):
        read_dataset_file(tmp_path / "missing.json")


def test_toy_source_is_deterministic_with_levels():
    a = load_dataset("t", {"source": "toy", "n": 30, "levels": [2, 5], "seed": 7})
    b = load_dataset("t", {"source": "toy", "n": 30, "levels": [2, 5], "seed": 7})
    pd.testing.assert_frame_equal(a, b)
    assert set(a["level"]) == {2, 5}
    # answers are exact: recompute from the problem text
    for rec in toy_problems(30, [2, 5], 7):
        assert int(rec["answer"]) >= 0


# ---- shipped problem lists (the official 458-problem MATH test set) ---------------------------

OFFICIAL_MATH = REPO / "config" / "problem_lists" / "math500_official_458.txt"


def test_problem_key_ignores_whitespace_only():
    from o1pruner.problems import problem_key

    assert problem_key("Find  $x$.\nIf x = 2") == problem_key("Find $x$. If x = 2 ")
    assert problem_key("Find $x$.") != problem_key("Find $y$.")


def test_official_math_list_selects_exactly_its_458_problems(tmp_path, shared_data):
    """MATH-500 as the hub ships it (here: the 458 official problems, re-spaced, shuffled among
    other problems) -> exactly the official 458, in the list's order."""
    import random

    official = json.loads((shared_data / "math500_subset_test.json").read_text())
    others = json.loads((shared_data / "gsm8k_test.json").read_text())[:42]
    hub_like = [{"problem": r["problem"].replace(" ", "  ") + "\n", "answer": r["ground_truth_answer"]}
                for r in official]
    hub_like += [{"problem": r.get("problem") or r.get("question"), "answer": "1"} for r in others]
    random.Random(0).shuffle(hub_like)
    src = tmp_path / "math500.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in hub_like))
    df = load_dataset("math500", {"source": "local", "path": str(src), "problem_list": str(OFFICIAL_MATH)})
    assert len(df) == 458
    assert [" ".join(p.split()) for p in df["problem"]] == [" ".join(r["problem"].split()) for r in official]
    # a problem missing upstream is an error naming the file and the count, not a smaller test set
    src.write_text("".join(json.dumps(r) + "\n" for r in hub_like if r["problem"] != hub_like[0]["problem"]))
    with pytest.raises(DatasetError, match=r"1 of the 458 problems listed in .*math500_official_458.txt"):
        load_dataset("math500", {"source": "local", "path": str(src), "problem_list": str(OFFICIAL_MATH)})


def test_paper_config_evaluates_math_on_the_official_list():
    from o1pruner.config import load

    cfg = load(REPO / "config" / "paper.yaml")
    assert cfg["datasets"]["math500"]["problem_list"] == "config/problem_lists/math500_official_458.txt"
