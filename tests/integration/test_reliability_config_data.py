"""Bad config and bad dataset rows: the run stops before any job, naming the key, file and row.

    PYTHONPATH=src .venv/bin/python -m pytest tests/integration/test_reliability_config_data.py -q

Complements tests/test_config.py and tests/test_problems.py (which already cover unknown keys,
K < 1, temperature < 0, λ < 0, empty eval_datasets, dangling dataset names, missing fields,
empty strings, duplicate ids, invalid JSON, non-UTF-8 JSONL and non-table files); each case
here is one those do not try.
"""

from __future__ import annotations

import copy
import gzip
import json
import math
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from o1pruner import cli
from o1pruner.config import ConfigError, load, validate
from o1pruner.problems import DatasetError, load_dataset
from tests.conftest import REPO

TEST_CONFIG = REPO / ".test" / "config.yaml"


@pytest.fixture
def default():
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


# ---- config: one bad value each, the message names the key's path ------------------------

def _set(path: str, value):
    """Mutation that sets a dotted key path (creating nothing: every parent must exist)."""
    def mutate(c):
        *parents, last = path.split(".")
        for p in parents:
            c = c[p]
        c[last] = value
    return mutate


BAD_CONFIGS = [
    # impossible values
    (_set("difficulty_splits.easy", [60, 40]), "difficulty_splits.easy: lower percentile 60"),
    (_set("difficulty_splits.easy", [50, 50]), "difficulty_splits.easy"),  # an empty band
    (_set("methods.lh.clip", [4, -2]), "methods.lh.clip: lower bound 4"),
    (_set("methods.lh.lambda_grid", [2, 2.0]), "methods.lh.lambda_grid: values repeat"),
    (_set("methods.lh.lambda_grid", [1, -1]), "methods.lh.lambda_grid[1]"),
    (_set("models.toy.lh_lambda", -0.5), "models.toy.lh_lambda"),
    (_set("sampling.top_p", 0), "sampling.top_p"),
    (_set("sampling.top_p", 1.5), "sampling.top_p"),
    (_set("sampling.shards", 0), "sampling.shards"),
    (_set("sampling.max_tokens", 0), "sampling.max_tokens"),
    (_set("grading.timeout", 0), "grading.timeout"),
    (_set("training.learning_rate", -1e-4), "training.learning_rate"),
    (_set("training.warmup_ratio", 1), "training.warmup_ratio"),
    (_set("aes.alpha", 0), "aes.alpha"),
    (_set("datasets.toy_easy.levels", []), "datasets.toy_easy.levels"),
    (_set("length_disharmony.intervals", 1), "length_disharmony.intervals"),
    # NaN / inf pass every JSON-schema minimum (YAML .nan, .inf)
    (_set("sampling.temperature", math.nan), "sampling.temperature: must be a finite number"),
    (_set("methods.lh.lambda", math.inf), "methods.lh.lambda: must be a finite number"),
    (_set("methods.lh.clip", [-2, math.inf]), "methods.lh.clip[1]: must be a finite number"),
    # wrong types
    (_set("seed", "0"), "seed"),
    (_set("seed", 1.5), "seed"),
    (_set("sampling.shards", True), "sampling.shards"),
    (_set("eval_datasets", "toy_easy"), "eval_datasets"),
    (_set("models.toy.toy", [1]), "models.toy.toy"),
    # unknown keys, deep down
    (_set("methods.lh.training", {"learning_rte": 1e-4}), "methods.lh.training.learning_rte: unknown key"),
    (_set("grading.time_out", 5), "grading.time_out: unknown key"),
    (_set("datasets.toy_easy.answer_fld", "a"), "datasets.toy_easy.answer_fld: unknown key"),
    # missing required keys
    (lambda c: c["sampling"].pop("k"), "'k' is a required property"),
    (lambda c: c.pop("sampling"), "'sampling' is a required property"),
    (lambda c: c.update(models={}), "models"),
    (lambda c: c["datasets"].update(extra={"source": "local"}), "datasets.extra.path"),
    (lambda c: c["datasets"].update(extra={"source": "hub", "split": "test"}), "datasets.extra.hub_id"),
    # a method with no data: nothing to evaluate, an unknown method, a repeated one
    (_set("evaluation.methods", []), "evaluation.methods"),
    (_set("evaluation.methods", ["lh", "lh"]), "evaluation.methods"),
    (_set("evaluation.methods", ["ppo"]), "evaluation.methods[0]"),
    (_set("length_disharmony.dataset", "nope"), "length_disharmony.dataset"),
    # names that become paths and wildcards: Snakemake would fail later with no rule to match
    (lambda c: c["difficulty_splits"].update(very_hard=[80, 100]), "difficulty_splits.very_hard: name must match"),
    (lambda c: c["datasets"].update({"math 500": c["datasets"]["toy_easy"]}), "datasets.math 500: name must match"),
    (lambda c: c["models"].update({"qwq/32b": {"source": "hf", "path": "x"}}), "models.qwq/32b: name must match"),
]


@pytest.mark.parametrize("mutate, key", BAD_CONFIGS, ids=[k for _, k in BAD_CONFIGS])
def test_bad_config_names_the_key(default, mutate, key):
    from tests.test_config import test_bad_config_names_the_key as check

    check(default, mutate, key)


def test_all_errors_are_reported_at_once(default):
    bad = copy.deepcopy(default)
    bad["sampling"].update(k=0, temperature=-1, tempreature=0.5)
    bad["seed"] = "x"
    with pytest.raises(ConfigError) as e:
        validate(bad)
    for key in ("sampling.k", "sampling.temperature", "sampling.tempreature: unknown key", "seed"):
        assert key in str(e.value)


@pytest.mark.parametrize("text, message", [
    ("", "<root>: the config must be a mapping, got NoneType"),
    ("- a\n- b\n", "the config must be a mapping, got list"),
    ("sampling:\n  k: 8\n  k: 0\n", "duplicate key 'k'"),  # PyYAML would keep k: 0 silently
    ("sampling: {k: 8\n", "not valid YAML"),
    ("\tsampling: 1\n", "not valid YAML"),
])
def test_malformed_config_file_names_the_file(tmp_path, text, message):
    p = tmp_path / "bad.yaml"
    p.write_text(text)
    with pytest.raises(ConfigError) as e:
        load(p)
    assert str(p) in str(e.value) and message in str(e.value)


def _snakemake_dry_run(configfile: Path, results: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]}
    return subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--configfile",
                           str(configfile), "--config", f"results={results}"],
                          cwd=REPO, capture_output=True, text=True, timeout=300, env=env)


@pytest.mark.parametrize("mutate, keys", [
    # schema errors: all named in one run
    (lambda c: (c["sampling"].update(k=0, temprature=0.5),
                c["difficulty_splits"].update(very_hard=[80, 100])),
     ["sampling.k", "sampling.temprature: unknown key", "difficulty_splits.very_hard"]),
    # cross-reference errors (the schema alone accepts these)
    (lambda c: (c["difficulty_splits"].update(easy=[60, 20]), c.update(eval_datasets=["toy_easy", "gsm8k"])),
     ["difficulty_splits.easy", "eval_datasets[1]: 'gsm8k' is not in datasets"]),
], ids=["schema", "references"])
def test_snakemake_with_a_bad_configfile_stops_before_any_job(tmp_path, mutate, keys):
    cfg = yaml.safe_load(TEST_CONFIG.read_text())
    mutate(cfg)
    configfile = tmp_path / "bad.yaml"
    configfile.write_text(yaml.safe_dump(cfg))
    results = tmp_path / "results"
    res = _snakemake_dry_run(configfile, results)
    out = res.stdout + res.stderr
    assert res.returncode != 0, out[-3000:]
    for key in keys:
        assert key in out, out[-3000:]
    assert "Job stats" not in out and "rule sample_shard" not in out  # no job was planned
    assert not results.exists()


def test_snakemake_with_the_test_configfile_plans_jobs(tmp_path):
    """The control for the test above: the same command with the unmodified config succeeds."""
    res = _snakemake_dry_run(TEST_CONFIG, tmp_path / "results")
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    assert "Job stats" in res.stdout


# ---- datasets: bad rows and files not in tests/test_problems.py ---------------------------

def _jsonl(tmp_path, rows, name="d.jsonl") -> Path:
    p = tmp_path / name
    p.write_text("\n".join(r if isinstance(r, str) else json.dumps(r) for r in rows) + "\n")
    return p


def _load(path, **spec):
    return load_dataset("d", {"source": "local", "path": str(path), **spec})


@pytest.mark.parametrize("rows, spec, message", [
    # a lone surrogate: JSON allows the escape, UTF-8 (hashing, Parquet) does not
    (['{"problem": "a\\ud800b", "answer": "1"}'], {}, "row 0: 'problem' is not valid Unicode"),
    ([{"problem": "a", "answer": None}], {}, "row 0: empty 'answer'"),
    ([{"problem": None, "answer": "1"}], {}, "row 0: empty 'problem'"),
    ([{"problem": " \n\t", "answer": "1"}], {}, "row 0: empty 'problem'"),
    ([{"problem": ["a"], "answer": "1"}], {}, "row 0: 'problem' must be text or a number, got list"),
    ([{"problem": "a", "answer": {"value": 1}}], {}, "row 0: 'answer' must be text or a number, got dict"),
    ([{"q": "a", "a": "1"}], {"problem_field": "question"}, "row 0: missing field 'question'"),
    ([{"problem": "a", "answer": "no hashes"}], {"answer_regex": "#### (.*)"},
     "row 0: empty 'answer' after answer_regex"),
    ([{"id": 1, "problem": "a", "answer": "1"}, {"problem": "b", "answer": "2"}], {"id_field": "id"},
     "row 1: missing or empty id field 'id'"),
    ([{"id": 7, "problem": "a", "answer": "1"}, {"id": 7, "problem": "b", "answer": "2"}], {"id_field": "id"},
     "row 1: duplicate problem id d-7 (first at row 0)"),
    ([{"problem": "a", "answer": "1"}, '{"problem": "b", "ans'], {}, "line 2: invalid JSON"),  # cut off
    ([], {}, "no usable problems"),
])
def test_bad_rows_name_file_and_row(tmp_path, rows, spec, message):
    p = _jsonl(tmp_path, rows)
    with pytest.raises(DatasetError) as e:
        _load(p, **spec)
    assert str(p) in str(e.value) and message in str(e.value)


def test_parquet_null_answer_is_empty_not_nan(tmp_path):
    # a numeric Parquet column with a null arrives as NaN; it must not become the gold "nan"
    p = tmp_path / "d.parquet"
    pd.DataFrame({"problem": ["a", "b"], "answer": [1.0, np.nan]}).to_parquet(p)
    with pytest.raises(DatasetError, match=r"d\.parquet: row 1: empty 'answer'"):
        _load(p)
    df = _load(p, on_bad_row="skip")
    assert df["answer"].tolist() == ["1.0"] and df.attrs["skipped"] == 1


@pytest.mark.parametrize("name, content, message", [
    ("d.json", b'{"problem": "a", "answer": "1"}', "expected a JSON array of objects, got dict"),
    ("d.json", b'[\n{"problem": "a", "answer": "1"},\n{"problem": "b" "answer": "2"}\n]', "line 3: invalid JSON"),
    ("d.json", b'[\n{"problem": "caf\xe9", "answer": "1"}]', "line 2: not UTF-8"),
    ("d.json", b"problem,answer\na,1\n", "line 1: invalid JSON"),  # a CSV named .json
    ("d.jsonl", gzip.compress(b'{"problem": "a", "answer": "1"}\n'), "line 1: not UTF-8"),  # gzip named .jsonl
    ("d.csv", b"problem,answer\na,1\n", "unsupported file type '.csv'"),
    ("d.parquet", b"PAR1 not really", "not a readable Parquet file"),
])
def test_bad_files_name_the_file(tmp_path, name, content, message):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(DatasetError) as e:
        _load(p)
    assert str(p) in str(e.value) and message in str(e.value)


def test_utf8_byte_order_mark_is_not_data(tmp_path):
    p = tmp_path / "bom.json"
    p.write_bytes(b'\xef\xbb\xbf[{"problem": "a", "answer": "1"}]')
    q = tmp_path / "plain.json"
    q.write_bytes(b'[{"problem": "a", "answer": "1"}]')
    pd.testing.assert_frame_equal(_load(p), _load(q))


def test_skip_counts_every_kind_of_bad_row(tmp_path):
    rows = [
        {"problem": "good 1", "answer": "1"},
        {"problem": "no answer"},
        {"problem": "", "answer": "2"},
        {"problem": "good 1", "answer": "3"},            # duplicate of row 0
        {"problem": ["list"], "answer": "4"},
        '{"problem": "x\\udc80", "answer": "5"}',
        [1, 2],
        {"problem": "good 2", "answer": 42},
    ]
    df = _load(_jsonl(tmp_path, rows), on_bad_row="skip")
    assert df["problem"].tolist() == ["good 1", "good 2"] and df["answer"].tolist() == ["1", "42"]
    assert df.attrs["skipped"] == 6
    with pytest.raises(DatasetError, match="no usable problems"):
        _load(_jsonl(tmp_path, rows[1:3], "all_bad.jsonl"), on_bad_row="skip")


def test_prepare_data_cli_bad_row_is_one_clear_line_and_no_output(tmp_path, capsys):
    p = _jsonl(tmp_path, [{"problem": "a", "answer": "1"}, {"problem": "b"}])
    out = tmp_path / "problems.parquet"
    spec = json.dumps({"source": "local", "path": str(p)})
    assert cli.main(["prepare-data", "--spec", spec, "--dataset", "d", "--output", str(out)]) == 1
    err = capsys.readouterr().err
    assert f"{p}: row 1: missing field 'answer'" in err and "Traceback" not in err
    assert not out.exists() and not list(tmp_path.glob(".*tmp"))
    # skip mode: written, with the count reported
    spec = json.dumps({"source": "local", "path": str(p), "on_bad_row": "skip"})
    assert cli.main(["prepare-data", "--spec", spec, "--dataset", "d", "--output", str(out)]) == 0
    assert "1 problems, 1 skipped" in capsys.readouterr().out
    assert len(pd.read_parquet(out)) == 1
