"""The distributed training path for real on CPU: 2 processes (torchrun, gloo) train SFT, DPO and
LH, are killed before the final save, resume from their checkpoints, and rank 0 alone writes.
And the command line the workflow's train rule launches GPU jobs with (o1pruner.training.train.launcher)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.training.test_train import _read_jsonl, _state, _tcfg, base_model, tables  # noqa: F401  (fixtures)

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

REPO = Path(__file__).resolve().parents[2]
METHODS = {"sft": {}, "dpo": {"beta": 0.1}, "lh": {"epsilon": 0.2}}


def _torchrun(spec: dict, tmp_path: Path, name: str) -> subprocess.CompletedProcess:
    spec_file = tmp_path / f"{name}.json"
    spec_file.write_text(json.dumps(spec))
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    return subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", str(REPO / "tests" / "torchrun_train.py"),
                           str(spec_file)], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)


def test_two_processes_train_every_method_resume_and_save_once(base_model, tables, tmp_path):  # noqa: F811
    # 12 rows, 2 ranks x batch 2: 3 steps per epoch; 4 steps with a checkpoint every 2
    tcfg = _tcfg(max_steps=4, save_steps=2, per_device_batch_size=2)
    runs = [{"method": m, "model": str(base_model), "data": str(tables[m]), "output": str(tmp_path / m / "model"),
             "training": tcfg, "method_config": mcfg} for m, mcfg in METHODS.items()]
    killed = _torchrun({"crash": True, "runs": runs}, tmp_path, "killed")
    assert killed.returncode == 0, killed.stderr[-4000:]
    for m in METHODS:
        tmp = tmp_path / m / "model.tmp"
        assert not (tmp_path / m / "model").exists()
        assert sorted(p.name for p in tmp.glob("checkpoint-*")) == ["checkpoint-2"], m

    done = _torchrun({"crash": False, "runs": runs}, tmp_path, "resumed")
    assert done.returncode == 0, done.stderr[-4000:]
    before = _state(base_model)
    for m in METHODS:
        out = tmp_path / m / "model"
        summary = json.loads((out / "train_summary.json").read_text())
        assert (summary["world_size"], summary["steps"], summary["resumed_from"]) == (2, 4, "checkpoint-2"), m
        # rank 0 alone wrote the log: each step once (a second writer would duplicate or interleave)
        assert [e["step"] for e in _read_jsonl(out / f"train_{m}.jsonl") if "loss" in e] == [1, 2, 3, 4], m
        assert not (tmp_path / m / "model.tmp").exists()
        after = _state(out)
        assert any(not torch.equal(before[k], after[k]) for k in before), m


@pytest.mark.parametrize("gpus, deepspeed, expected", [
    (0, None, "o1pruner"),
    (1, None, "o1pruner"),
    (1, "config/deepspeed/zero3.json", "torchrun --standalone --nproc_per_node 1 -m o1pruner.cli"),
    (4, "config/deepspeed/zero3.json", "torchrun --standalone --nproc_per_node 4 -m o1pruner.cli"),
    (8, None, "torchrun --standalone --nproc_per_node 8 -m o1pruner.cli"),
])
def test_launcher(gpus, deepspeed, expected):
    from o1pruner.training.train import launcher

    assert launcher(gpus, deepspeed) == expected


def test_the_train_rule_launches_gpu_jobs_with_torchrun_and_deepspeed(tmp_path):
    """`snakemake -n -p` prints the train jobs' command lines: 4 GPUs with ZeRO-3 (config/qwen3.yaml's
    layout) start 4 processes of the same `train` CLI, with the DeepSpeed JSON in the settings."""
    import yaml

    from tests.conftest import snakemake

    over = tmp_path / "over.yaml"
    over.write_text(yaml.safe_dump({"results": str(tmp_path / "r"), "training": {"deepspeed": "config/deepspeed/zero3.json"},
                                    "models": {"toy": {"resources": {"train": {"gpu": 4, "gpu_model": "a800"}}}}}))
    res = snakemake("-n", "-p", "--cores", "1", "--configfile", "config/config.yaml", str(over), "--",
                    f"{tmp_path}/r/toy/runs/sft/model", timeout=600)
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    (line,) = [ln for ln in out.splitlines() if "train --method sft" in ln]
    # the job's GPU count for the CUDA check at its start (o1pruner.devices), then the launcher
    assert line.startswith("Shell command: O1PRUNER_JOB_GPUS=4 torchrun --standalone --nproc_per_node 4 "
                           "-m o1pruner.cli train --method sft ")
    assert '"deepspeed": "config/deepspeed/zero3.json"' in line
