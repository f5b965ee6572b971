"""Killed jobs and failing disks: nothing partial is ever taken as complete, errors name the path.

    PYTHONPATH=src .venv/bin/python -m pytest tests/integration/test_reliability_faults.py -q

* a sampling shard SIGKILLed midway leaves no output (at most a hidden temporary file that
  no rule's output pattern matches); the rerun equals an uninterrupted run;
* finished shards are not recomputed: a Snakemake dry run schedules only the missing shard;
* disk full (a real ENOSPC from /dev/full), permission denied and read-only file systems
  surface as an OSError naming the target file, with no partial file and the previous
  output untouched. (Tests run as root here, where chmod does not deny anything, so
  permission errors are injected at the system call the write makes.)

Killed training runs are tested in tests/training/test_train.py.
"""

from __future__ import annotations

import errno
import os
import re
import select
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest

from o1pruner import cli, io
from o1pruner.problems import load_dataset
from tests.conftest import REPO

# what Snakemake's sample_shard rule outputs (workflow/rules/sampling.smk)
SHARD_OUTPUT = re.compile(r"samples-\d+-of-\d+\.parquet")


# ---- a sampling shard killed midway ----------------------------------------------------

@pytest.fixture(scope="module")
def problems(tmp_path_factory):
    p = tmp_path_factory.mktemp("data") / "problems.parquet"
    # toy problems, repeats dropped (on_bad_row: skip), 40 of them
    df = load_dataset("toy_k", {"source": "toy", "n": 200, "levels": [3, 4], "seed": 11, "on_bad_row": "skip"})
    assert len(df) >= 40
    df.head(40).to_parquet(p)
    return p


def _sample_args(model, problems, out):
    # one problem per generate call (batch 2 = k): 40 calls
    return ["--model", str(model), "--problems", str(problems), "--backend", "transformers", "--k", "2",
            "--temperature", "0.7", "--top-p", "0.9", "--max-tokens", "32", "--batch-size", "2",
            "--seed", "3", "--shard", "0", "--num-shards", "1", "--output", str(out)]


def _sample_cmd(model, problems, out):
    return [sys.executable, "-m", "o1pruner.cli", "sample", *_sample_args(model, problems, out)]


MIDWAY_SAMPLER = Path(__file__).parents[1] / "midway_sampler.py"


def _midway_cmd(model, problems, out):
    """The same sampling, stopping for good after 20 of its 40 generate calls (see the script)."""
    return [sys.executable, str(MIDWAY_SAMPLER), "20", *_sample_args(model, problems, out)]


def _env():
    # one thread: a tiny model is fastest so on a loaded machine, and runs are reproducible
    return {**os.environ, "PYTHONPATH": str(REPO / "src"), "OMP_NUM_THREADS": "1",
            "TOKENIZERS_PARALLELISM": "false", "HF_HUB_OFFLINE": "1"}


def _kill_midway(cmd) -> str:
    """Start ``cmd`` (a midway sampler), SIGKILL it once it says it is midway.

    The sampler announces it and then waits, so the kill lands after some batches and before
    the last on any machine: watching a progress bar instead assumed batches slower than the
    bar's refresh."""
    from tests.midway_sampler import MARK

    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            env=_env())
    seen, deadline = b"", time.monotonic() + 600  # a wait for the model to load, not a speed bound
    try:
        while time.monotonic() < deadline and MARK.encode() not in seen:
            ready, _, _ = select.select([proc.stderr], [], [], 1.0)
            if ready:
                chunk = os.read(proc.stderr.fileno(), 65536)
                if not chunk:
                    break  # exited
                seen += chunk
        proc.send_signal(signal.SIGKILL)  # midway; or, without the mark, a sampler that never got there
        proc.wait(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stdin.close()
    text = seen.decode(errors="replace")
    assert MARK in text and proc.returncode == -signal.SIGKILL, \
        f"not killed midway (rc {proc.returncode}):\n{text[-2000:]}"
    return text


@pytest.mark.slow
def test_killed_sampling_shard_leaves_nothing_and_rerun_equals_uninterrupted(tiny_toy_model, problems, tmp_path):
    shard_dir = tmp_path / "presample"
    out = shard_dir / "samples-0-of-1.parquet"
    _kill_midway(_midway_cmd(tiny_toy_model, problems, out))
    assert not out.exists()
    leftovers = list(shard_dir.iterdir()) if shard_dir.exists() else []
    assert all(p.name.startswith(".") and not SHARD_OUTPUT.fullmatch(p.name) for p in leftovers), leftovers

    # a kill during the final write (between to_parquet and the rename) leaves a hidden
    # temporary file: simulate one, with garbage in it, and show the rerun ignores it
    shard_dir.mkdir(parents=True, exist_ok=True)
    stale = shard_dir / f".{out.name}.k1ll3d.tmp"
    stale.write_bytes(b"PAR1 half a table")
    assert not SHARD_OUTPUT.fullmatch(stale.name)

    rerun = subprocess.run(_sample_cmd(tiny_toy_model, problems, out), capture_output=True, text=True,
                           env=_env(), timeout=900)
    assert rerun.returncode == 0, rerun.stderr[-3000:]
    ref_out = tmp_path / "reference" / "samples-0-of-1.parquet"
    ref = subprocess.run(_sample_cmd(tiny_toy_model, problems, ref_out), capture_output=True, text=True,
                         env=_env(), timeout=900)
    assert ref.returncode == 0, ref.stderr[-3000:]

    got, want = pd.read_parquet(out), pd.read_parquet(ref_out)
    assert len(got) == 80
    pd.testing.assert_frame_equal(got, want)
    assert stale.read_bytes() == b"PAR1 half a table"  # ignored, never renamed into place
    assert sorted(p.name for p in shard_dir.iterdir()) == sorted([out.name, stale.name])


def test_dry_run_schedules_only_the_missing_shard(tmp_path):
    """After shard 0 finished and shard 1 was killed mid-write, only shard 1 is sampled again."""
    results = tmp_path / "results"
    (results / "toy" / "model").mkdir(parents=True)
    (results / "toy" / "model" / "config.json").write_text("{}")
    (results / "data").mkdir()
    pd.DataFrame({"problem_id": ["t-1"], "dataset": ["toy_train"], "problem": ["1 + 1"], "answer": ["2"],
                  "level": [1]}).to_parquet(results / "data" / "toy_train.parquet")
    presample = results / "toy" / "presample"
    presample.mkdir()
    done = presample / "samples-0-of-2.parquet"
    done.write_bytes(b"finished shard")
    (presample / ".samples-1-of-2.parquet.k1ll3d.tmp").write_bytes(b"half a shard")
    # inputs older than the finished shard, as they would be after a real run
    t = time.time()
    for p in (results / "toy" / "model", results / "toy" / "model" / "config.json",
              results / "data" / "toy_train.parquet"):
        os.utime(p, (t - 60, t - 60))

    env = {**os.environ, "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"]}
    target = presample / "graded.parquet"
    res = subprocess.run([sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--configfile",
                          ".test/config.yaml", "--config", f"results={results}", "--", str(target)],
                         cwd=REPO, capture_output=True, text=True, timeout=300, env=env)
    assert res.returncode == 0, (res.stdout + res.stderr)[-3000:]
    planned = re.findall(r"rule sample_shard:\n(?:.*\n)*?\s+output: (\S+)", res.stdout)
    assert planned == [str(presample / "samples-1-of-2.parquet")], res.stdout[-3000:]
    assert "rule prepare_data" not in res.stdout and "rule reference_model" not in res.stdout
    assert done.read_bytes() == b"finished shard"


# ---- disk full, permission denied, read-only file system ---------------------------------

def _write(kind: str, path: Path) -> None:
    if kind == "parquet":
        io.write_parquet(pd.DataFrame({"a": range(5000)}), path)
    else:
        io.write_text("x" * 200_000, path)


@pytest.fixture
def previous(tmp_path):
    """A good output from an earlier run, which a failed write must leave untouched."""
    def make(kind: str) -> tuple[Path, bytes]:
        path = tmp_path / "results" / ("x.parquet" if kind == "parquet" else "x.txt")
        if kind == "parquet":
            io.write_parquet(pd.DataFrame({"a": [1, 2, 3]}), path)
        else:
            io.write_text("good\n", path)
        return path, path.read_bytes()
    return make


def _assert_untouched(path: Path, before: bytes) -> None:
    assert path.read_bytes() == before
    assert [p.name for p in path.parent.iterdir()] == [path.name]  # no temporary file left


def _disk_full(monkeypatch):
    """The temporary file is a link to /dev/full: every write to it fails with a real ENOSPC."""
    if not os.path.exists("/dev/full"):
        pytest.skip("/dev/full is not available")
    real = io.atomic_path

    def full(path):
        tmp = real(path)
        tmp.unlink()
        tmp.symlink_to("/dev/full")
        return tmp
    monkeypatch.setattr(io, "atomic_path", full)


@pytest.mark.parametrize("kind", ["parquet", "text"])
def test_disk_full_names_the_file_and_keeps_the_previous_output(kind, previous, monkeypatch):
    path, before = previous(kind)
    _disk_full(monkeypatch)
    with pytest.raises(OSError) as e:
        _write(kind, path)
    assert e.value.errno == errno.ENOSPC
    assert f"cannot write {path}" in str(e.value) and "No space left on device" in str(e.value)
    _assert_untouched(path, before)


def _raise(exc):
    def f(*args, **kwargs):
        raise exc
    return f


@pytest.mark.parametrize("kind", ["parquet", "text"])
@pytest.mark.parametrize("target, exc", [
    # the rename into a directory we may not write (EACCES), as os.replace reports it
    ("os.replace", PermissionError(errno.EACCES, "Permission denied", "/r/.x.tmp", "/r/x")),
    # creating the temporary file in a read-only results/ folder
    ("tempfile.mkstemp", PermissionError(errno.EACCES, "Permission denied", "/r/.x.tmp")),
    ("tempfile.mkstemp", OSError(errno.EROFS, "Read-only file system", "/r/.x.tmp")),
    ("tempfile.mkstemp", OSError(errno.EDQUOT, "Disk quota exceeded", "/r/.x.tmp")),
], ids=["replace-EACCES", "mkstemp-EACCES", "mkstemp-EROFS", "mkstemp-EDQUOT"])
def test_permission_and_read_only_errors_name_the_file(kind, target, exc, previous, monkeypatch):
    path, before = previous(kind)
    module, name = target.split(".")
    monkeypatch.setattr({"os": os, "tempfile": tempfile}[module], name, _raise(exc))
    with pytest.raises(OSError) as e:
        _write(kind, path)
    assert type(e.value) is type(exc) and e.value.errno == exc.errno  # PermissionError stays one
    assert str(e.value).startswith(f"[Errno {exc.errno}] cannot write {path}: {exc.strerror}")
    monkeypatch.undo()
    _assert_untouched(path, before)


def test_missing_results_folder_that_cannot_be_created(tmp_path, monkeypatch):
    path = tmp_path / "ro" / "deep" / "x.parquet"
    monkeypatch.setattr(Path, "mkdir", _raise(OSError(errno.EROFS, "Read-only file system")))
    with pytest.raises(OSError, match=f"cannot write {re.escape(str(path))}: Read-only file system"):
        io.write_parquet(pd.DataFrame({"a": [1]}), path)


@pytest.mark.parametrize("exc", [KeyboardInterrupt, MemoryError])
def test_interrupted_write_leaves_no_temporary_file(exc, previous, monkeypatch):
    """SIGINT (KeyboardInterrupt) or running out of memory mid-write: the old output stays."""
    path, before = previous("parquet")
    monkeypatch.setattr(pd.DataFrame, "to_parquet", _raise(exc()))
    with pytest.raises(exc):
        io.write_parquet(pd.DataFrame({"a": [9]}), path)
    _assert_untouched(path, before)


def test_results_keep_the_usual_file_mode(tmp_path):
    """mkstemp makes 0600 files; results on a shared cluster must stay readable to the group."""
    mask = os.umask(0o022)
    try:
        io.write_parquet(pd.DataFrame({"a": [1]}), tmp_path / "x.parquet")
        io.write_text("t", tmp_path / "x.txt")
    finally:
        os.umask(mask)
    assert (tmp_path / "x.parquet").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "x.txt").stat().st_mode & 0o777 == 0o644


def test_stage_cli_disk_full_names_the_output(tmp_path, monkeypatch):
    """A stage command (build-dataset through o1pruner.io) on a full disk: the error names its output."""
    graded = tmp_path / "graded.parquet"
    pd.DataFrame({"problem_id": ["p"], "sample_idx": [0], "prompt": ["q"], "response": ["r"],
                  "num_tokens": [3], "correct": [True]}).to_parquet(graded)
    out = tmp_path / "out" / "sft.parquet"
    _disk_full(monkeypatch)
    with pytest.raises(OSError, match=f"cannot write {re.escape(str(out))}: .*No space left on device"):
        cli.main(["build-dataset", "--method", "sft", "--samples", str(graded), "--output", str(out)])
    assert not out.exists() and list(out.parent.iterdir()) == []


def test_gather_with_a_missing_shard_names_it(tmp_path):
    a = tmp_path / "graded-0-of-2.parquet"
    pd.DataFrame({"a": [1]}).to_parquet(a)
    missing = tmp_path / "graded-1-of-2.parquet"
    with pytest.raises(FileNotFoundError, match=re.escape(str(missing))):
        io.gather_parquet([a, missing], tmp_path / "graded.parquet")
    assert not (tmp_path / "graded.parquet").exists()


def _grade(tmp_path, capsys, monkeypatch):
    src = tmp_path / "samples.parquet"
    pd.DataFrame({"response": [r"\boxed{4}"] * 50, "gold": ["4"] * 50}).to_parquet(src)
    out = tmp_path / "graded.parquet"
    assert cli.main(["grade", "--input", str(src), "--output", str(out)]) == 0
    before = out.read_bytes()
    capsys.readouterr()
    # every Parquet write goes to /dev/full: a real ENOSPC, whatever temporary name grading uses
    if not os.path.exists("/dev/full"):
        pytest.skip("/dev/full is not available")
    real = pd.DataFrame.to_parquet
    monkeypatch.setattr(pd.DataFrame, "to_parquet", lambda self, path, *a, **k: real(self, "/dev/full", *a, **k))
    rc = cli.main(["grade", "--input", str(src), "--output", str(out)])
    return out, before, rc, capsys.readouterr().err


def test_grade_on_a_full_disk_fails_cleanly(tmp_path, capsys, monkeypatch):
    out, before, rc, err = _grade(tmp_path, capsys, monkeypatch)
    assert rc == 1 and "No space left on device" in err and "Traceback" not in err
    assert out.read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["graded.parquet", "samples.parquet"]


def test_grade_on_a_full_disk_names_the_output(tmp_path, capsys, monkeypatch):
    out, _, _, err = _grade(tmp_path, capsys, monkeypatch)
    assert str(out) in err
