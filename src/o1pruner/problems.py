"""Datasets: one table of problems per configured dataset, each problem with a stable id.

    o1pruner prepare-data --config config/config.yaml --dataset toy_easy --output problems.parquet

Sources (``datasets.<name>.source`` in the config):
- ``toy``: procedural arithmetic chains (:mod:`o1pruner.toy.model`), seeded;
- ``local``: a JSON array, JSONL or Parquet file with a field mapping for problem and
  answer (the real MATH-500 subset, GSM8K and GaoKao files load this way);
- ``hub``: ``datasets.load_dataset`` on the Hugging Face hub (cluster use, needs network).

A problem's id is ``<dataset>-<sha1 of its text>[:12]`` (or ``id_field``), so it survives
re-ordering and re-downloads. Bad rows are errors that name the file and the row, or
are skipped and counted when ``on_bad_row: skip``.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import numpy as np
import pandas as pd

from o1pruner import io
from o1pruner.hooks import import_object
from o1pruner.schemas import PROBLEMS


class DatasetError(ValueError):
    """A dataset file or row is unusable; the message names the file and row."""


def problem_id(dataset: str, text: str) -> str:
    return f"{dataset}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:12]}"


def read_dataset_file(path: Path) -> list[dict]:
    """Rows of a dataset file (.json array, .jsonl or .parquet; io.read_records), its errors as DatasetError."""
    if Path(path).suffix.lower() not in (".json", ".jsonl", ".parquet"):
        raise DatasetError(f"{path}: unsupported file type {Path(path).suffix!r} (use .json, .jsonl or .parquet)")
    try:
        return io.read_records(path)
    except io.TableError as e:
        raise DatasetError(str(e)) from None


def records_to_problems(records: list[dict], name: str, spec: dict, where: str) -> pd.DataFrame:
    """Map raw records to the PROBLEMS table; check fields, emptiness and duplicate ids."""
    pf, af = spec.get("problem_field", "problem"), spec.get("answer_field", "answer")
    regex = re.compile(spec["answer_regex"], re.S) if spec.get("answer_regex") else None
    skip = spec.get("on_bad_row", "error") == "skip"
    rows, skipped, seen = [], 0, {}
    for i, rec in enumerate(records):
        err = None
        if not isinstance(rec, dict):
            err = f"row {i}: expected an object, got {type(rec).__name__}"
        elif pf not in rec or af not in rec:
            err = f"row {i}: missing field {pf if pf not in rec else af!r} (has {sorted(rec)})"
        else:
            (prob, err_p), (ans, err_a) = _field_text(rec[pf], pf), _field_text(rec[af], af)
            err = err_p or err_a
            if err is None and regex is not None:
                m = regex.search(ans)
                ans = m.group(1) if m else ""
            if err is not None:
                err = f"row {i}: {err}"
            elif not prob.strip():
                err = f"row {i}: empty {pf!r}"
            elif not ans.strip():
                err = f"row {i}: empty {af!r}" + (" after answer_regex" if regex else "")
        idf = spec.get("id_field")
        if err is None and idf:
            rid, err_i = _field_text(rec.get(idf), idf)
            if err_i or not rid.strip():
                err = f"row {i}: " + (err_i or f"missing or empty id field {idf!r}")
        if err is None:
            pid = f"{name}-{rid.strip()}" if idf else problem_id(name, prob)
            if pid in seen:
                err = f"row {i}: duplicate problem id {pid} (first at row {seen[pid]})"
        if err is not None:
            if not skip:
                raise DatasetError(f"{where}: {err}")
            skipped += 1
            continue
        seen[pid] = i
        level = rec.get(spec["level_field"]) if spec.get("level_field") else rec.get("level", 0)
        rows.append({"problem_id": pid, "dataset": name, "problem": prob, "answer": ans.strip(),
                     "level": _as_level(level)})
    df = pd.DataFrame(rows, columns=PROBLEMS)
    df.attrs["skipped"] = skipped
    return df


def _field_text(v, field: str) -> tuple[str, str | None]:
    """(text, error) of one field: strings and numbers are text; None and NaN are empty.

    A Parquet column with a null is float, so a missing answer arrives as NaN and must
    not become the gold answer "nan". Lists and objects are not answers, and a string with a
    lone surrogate (JSON ``"\\ud800"``) cannot be hashed or written to Parquet.
    """
    if v is None or (isinstance(v, (float, np.floating)) and np.isnan(v)) or v is pd.NA:
        return "", None
    if not isinstance(v, (str, int, float, np.integer, np.floating, np.bool_)):
        return "", f"{field!r} must be text or a number, got {type(v).__name__}"
    text = v if isinstance(v, str) else str(v)
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as e:
        return "", f"{field!r} is not valid Unicode ({e.reason} at character {e.start})"
    return text, None


def _as_level(v) -> int:
    if isinstance(v, (int, np.integer)):
        return int(v)
    m = re.search(r"\d+", str(v)) if v is not None else None  # "Level 3" in MATH
    return int(m.group()) if m else 0


def problem_key(text: str) -> str:
    """A problem's content key for shipped problem lists: SHA-1 of the text with whitespace runs
    collapsed (copies of one problem differ in line breaks and spacing, not in words)."""
    return hashlib.sha1(" ".join(str(text).split()).encode("utf-8")).hexdigest()[:16]


def read_problem_list(path: Path) -> list[str]:
    """Keys of a problem list file: one per line, ``#`` comments."""
    if not path.is_file():
        raise DatasetError(f"{path}: no such problem list")
    keys = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return [k for k in keys if k]


def filter_to_problem_list(records: list, spec: dict, list_path: Path, where: str) -> list:
    """The records whose problem is on the list (in the list's order); every listed problem must be
    found, so a changed upstream copy fails loudly instead of evaluating on fewer problems."""
    wanted = read_problem_list(list_path)
    field = spec.get("problem_field", "problem")
    by_key = {}
    for rec in records:
        if isinstance(rec, dict) and rec.get(field) is not None:
            by_key.setdefault(problem_key(rec[field]), rec)
    missing = [k for k in wanted if k not in by_key]
    if missing:
        raise DatasetError(f"{where}: {len(missing)} of the {len(wanted)} problems listed in {list_path} "
                           f"are not in the data (first missing key {missing[0]})")
    return [by_key[k] for k in wanted]


# (n, levels, seed) -> problem records of a `source: toy` dataset
TOY_PROBLEMS = "o1pruner.toy.model:toy_problems"


def load_dataset(name: str, spec: dict, base_dir: Path = Path(".")) -> pd.DataFrame:
    """The PROBLEMS table of one configured dataset."""
    source = spec["source"]
    if source == "toy":  # generated by the toy package, hooked in by name (this module never imports it)
        records = import_object(TOY_PROBLEMS)(spec["n"], spec["levels"], spec.get("seed", 0))
        where = f"datasets.{name} (toy)"
        spec = {**spec, "problem_field": "problem", "answer_field": "answer"}
    elif source == "local":
        path = Path(spec["path"])
        path = path if path.is_absolute() else base_dir / path
        records, where = read_dataset_file(path), str(path)
    elif source == "hub":
        import datasets as hf_datasets  # network access: cluster use only

        ds = hf_datasets.load_dataset(spec["hub_id"], spec.get("hub_config"), split=spec["split"])
        records, where = ds.to_list(), f"hub:{spec['hub_id']}"
    else:
        raise DatasetError(f"datasets.{name}.source: unknown source {source!r}")
    if spec.get("problem_list"):
        list_path = Path(spec["problem_list"])
        records = filter_to_problem_list(records, spec, list_path if list_path.is_absolute()
                                         else base_dir / list_path, where)
    df = records_to_problems(records, name, spec, where)
    if df.empty:
        raise DatasetError(f"{where}: no usable problems")
    if spec.get("limit") and spec["limit"] < len(df):
        order = np.random.default_rng(spec.get("seed", 0)).permutation(len(df))[: spec["limit"]]
        df = df.iloc[np.sort(order)].reset_index(drop=True)
    return df
