"""The GPU branches of generation, sampling and evaluation, run on this CPU machine with a fake CUDA
(tests/fakes/fake_cuda.py) and a fake vLLM (tests/fakes/vllm) that records what it is handed:
how the engine would start, its arguments, the prompt token ids and the per-request seeds. Also
the stop of a job that asked for GPUs and has none (o1pruner.devices)."""

from __future__ import annotations

import json
import shutil

import pandas as pd
import pytest

from o1pruner import devices
from o1pruner.generation import engines as generation
from o1pruner.generation.engines import SamplingSpec
from o1pruner.problems import load_dataset

SAMPLED = SamplingSpec(n=3, temperature=0.6, top_p=0.9, top_k=20, max_tokens=16, seed=11)


@pytest.fixture(scope="module")
def bos_model(tiny_toy_model, tmp_path_factory):
    """The toy model with R1-Distill's tokenizer habit: its chat template writes the BOS token
    and the tokenizer prepends BOS again when asked for special tokens (add_special_tokens=True,
    vLLM's default for a prompt string)."""
    from tokenizers.processors import TemplateProcessing
    from transformers import AutoTokenizer

    out = tmp_path_factory.mktemp("bos") / "model"
    shutil.copytree(tiny_toy_model, out)
    tok = AutoTokenizer.from_pretrained(out)
    bos = "<|im_start|>"   # the toy's bos_token_id; every toy prompt starts with it
    tok.bos_token = bos
    tok.backend_tokenizer.post_processor = TemplateProcessing(
        single=f"{bos} $A", special_tokens=[(bos, tok.convert_tokens_to_ids(bos))])
    tok.save_pretrained(out)
    again = AutoTokenizer.from_pretrained(out)
    ids = again("x")["input_ids"]
    assert ids[0] == again.bos_token_id and again("x", add_special_tokens=False)["input_ids"] == ids[1:]
    return out


@pytest.fixture(scope="module")
def prompts(bos_model):
    from o1pruner.generation.sampling import render_prompts

    problems = load_dataset("gpu_t", {"source": "toy", "n": 2, "levels": [2], "seed": 4})
    rendered = render_prompts(problems, str(bos_model))
    assert all(p.startswith("<|im_start|>") for p in rendered)  # the template wrote BOS
    return rendered


# ---- vLLM on CUDA ------------------------------------------------------------------------------

def test_the_fakes_reproduce_the_fork_crash(fake_cuda, fake_vllm, bos_model):
    """What the engine did before: torch.cuda.is_available() then vLLM's default fork. If this
    stopped raising, the tests below would prove nothing."""
    import torch

    assert torch.cuda.is_available()
    with pytest.raises(RuntimeError, match="forked subprocess"):
        fake_vllm.LLM(str(bos_model))


def test_vllm_on_cuda_spawns_its_engine_without_touching_the_driver(fake_cuda, fake_vllm, bos_model, prompts):
    out, _ = generation.generate("vllm", str(bos_model), prompts, SAMPLED, gpus=2)
    (engine,) = fake_vllm.ENGINES
    assert fake_cuda.TOUCHED == []
    assert engine["start_method"] == "spawn" and engine["env"]["VLLM_WORKER_MULTIPROC_METHOD"] == "spawn"
    assert engine["env"]["PYTORCH_NVML_BASED_CUDA_CHECK"] == "1"
    assert engine["env"]["VLLM_ENABLE_V1_MULTIPROCESSING"] is None  # the CPU-only in-process engine is off
    assert engine["kwargs"] == {"tensor_parallel_size": 2, "dtype": "bfloat16", "seed": 11}
    assert [len(g) for g in out] == [3, 3] and out[0][0].text == fake_vllm.FAKE_TEXT


def test_vllm_tensor_parallel_size_defaults_to_the_visible_gpus(fake_cuda, fake_vllm, bos_model, prompts):
    generation.generate("vllm", str(bos_model), prompts[:1], SAMPLED)
    assert fake_vllm.ENGINES[0]["kwargs"]["tensor_parallel_size"] == 2


def test_vllm_on_cuda_seeds_every_request(fake_cuda, fake_vllm, bos_model, prompts):
    generation.generate("vllm", str(bos_model), prompts, SAMPLED, gpus=1)
    (call,) = fake_vllm.ENGINES[0]["generate"]
    # vLLM seeds the j-th sample of a request seed + j: prompt i starts at 11 + 3 i, no overlap
    assert [p.seed for p in call["params"]] == [11, 14]
    assert {(p.n, p.temperature, p.top_p, p.top_k, p.max_tokens) for p in call["params"]} == {(3, 0.6, 0.9, 20, 16)}


def test_vllm_on_cpu_keeps_the_engine_seed_workaround(fake_vllm, bos_model, prompts):
    generation.generate("vllm", str(bos_model), prompts, SAMPLED)
    (engine,) = fake_vllm.ENGINES
    assert engine["kwargs"] == {"dtype": "float32", "enforce_eager": True, "seed": 11}
    assert engine["start_method"] is None  # in-process engine core: nothing forks
    assert [p.seed for p in engine["generate"][0]["params"]] == [None, None]


def test_greedy_requests_carry_no_seed(fake_cuda, fake_vllm, bos_model, prompts):
    generation.generate("vllm", str(bos_model), prompts, SamplingSpec(max_tokens=8, seed=3), gpus=1)
    params = fake_vllm.ENGINES[0]["generate"][0]["params"]
    assert [(p.seed, p.temperature, p.top_k) for p in params] == [(None, 0.0, -1)] * 2


# ---- one BOS: sampling, evaluation and training see the same prompt ids ------------------------

def test_vllm_gets_the_prompt_ids_training_sees(fake_vllm, bos_model, prompts):
    from transformers import AutoTokenizer

    from o1pruner.training.lh_trainer import tokenize_lh_example

    tok = AutoTokenizer.from_pretrained(bos_model)
    generation.generate("vllm", str(bos_model), prompts, SamplingSpec(max_tokens=8))
    sent = fake_vllm.ENGINES[0]["generate"][0]["prompt_token_ids"]
    for prompt, ids in zip(prompts, sent):
        trained = tokenize_lh_example(tok, prompt, "x", cutoff_len=4096)
        n_prompt = trained["labels"].count(-100)
        assert ids == trained["input_ids"][:n_prompt]
        assert ids[:2].count(tok.bos_token_id) == 1, "two BOS tokens: the string went through vLLM's encoder"
    # what vLLM would have made of the string itself: the second BOS this test guards against
    assert tok(prompts[0])["input_ids"][:2] == [tok.bos_token_id] * 2


def test_transformers_backend_gets_the_same_prompt_ids(bos_model, prompts, monkeypatch):
    engine = generation.TransformersEngine(str(bos_model))
    seen = []
    real = engine.lm.generate

    def recording(**kw):
        for ids, mask in zip(kw["input_ids"].tolist(), kw["attention_mask"].tolist()):
            seen.append([t for t, m in zip(ids, mask) if m])
        return real(**kw)

    monkeypatch.setattr(engine.lm, "generate", recording)
    engine.generate(prompts, SamplingSpec(max_tokens=4, batch_size=8))
    assert seen == generation.encode_prompts(engine.tok, prompts)


# ---- transformers on CUDA ----------------------------------------------------------------------

def test_transformers_on_cuda_uses_the_gpu_in_bf16(fake_cuda, bos_model, prompts):
    import torch

    engine = generation.TransformersEngine(str(bos_model))
    assert engine.device == "cuda" and engine.lm.dtype == torch.bfloat16
    # bf16 generation is slow on a CPU: one prompt, a few tokens
    spec = SamplingSpec(n=2, temperature=0.7, max_tokens=4, seed=1, batch_size=8)
    out = engine.generate(prompts[:1], spec)
    assert [len(g) for g in out] == [2] and "cuda" in fake_cuda.MOVES
    again = engine.generate(prompts[:1], spec)
    assert [[g.text for g in gs] for gs in out] == [[g.text for g in gs] for gs in again]  # the call's seed


# ---- the CLIs on CUDA: sample and evaluate -----------------------------------------------------

@pytest.fixture
def problems_file(tmp_path):
    p = tmp_path / "problems.parquet"
    load_dataset("gpu_t", {"source": "toy", "n": 2, "levels": [2], "seed": 4}).to_parquet(p)
    return p


def test_sample_cli_on_cuda(fake_cuda, fake_vllm, bos_model, problems_file, tmp_path):
    from o1pruner.generation.commands import cli_sample

    out = tmp_path / "s.parquet"
    assert cli_sample(["--model", str(bos_model), "--problems", str(problems_file), "--backend", "vllm",
                       "--k", "2", "--temperature", "0.5", "--seed", "100", "--shard", "1", "--num-shards", "2",
                       "--gpus", "2", "--output", str(out)]) == 0
    df = pd.read_parquet(out)
    assert len(df) == 2 and set(df["seed"]) == {100 + 1_000_003}
    (engine,) = fake_vllm.ENGINES
    assert engine["start_method"] == "spawn" and engine["kwargs"]["tensor_parallel_size"] == 2
    assert [p.seed for p in engine["generate"][0]["params"]] == [100 + 1_000_003]


def test_evaluate_cli_on_cuda_passes_the_sampled_seed(fake_cuda, fake_vllm, bos_model, problems_file, tmp_path):
    from o1pruner.evaluation.commands import cli_evaluate

    assert cli_evaluate(["--model", str(bos_model), "--run", "baseline", "--model-name", "toy",
                         "--backend", "vllm", "--gpus", "1", "--max-tokens", "16",
                         "--answer-fallback", "last_number",
                         "--problems", str(problems_file), "--samples", str(tmp_path / "g.parquet"),
                         "--metrics", str(tmp_path / "m.json"), "--sampled-n", "2", "--sampled-seed", "5",
                         "--sampled-output", str(tmp_path / "s.parquet")]) == 0
    (engine,) = fake_vllm.ENGINES
    greedy, sampled = engine["generate"]
    assert [p.seed for p in greedy["params"]] == [None, None]
    assert [p.seed for p in sampled["params"]] == [5, 7]
    assert engine["start_method"] == "spawn" and fake_cuda.TOUCHED == []
    metrics = json.loads((tmp_path / "m.json").read_text())
    assert metrics["sampled"]["n"] == 2 and metrics["acc"] in (0.0, 50.0, 100.0)


# ---- a GPU job without a usable GPU stops at once ----------------------------------------------

def test_a_gpu_job_on_a_cpu_build_stops_with_the_reason(monkeypatch, fake_vllm, bos_model, prompts):
    monkeypatch.setattr(devices, "torch_cuda_version", lambda: None)
    with pytest.raises(devices.NoGpuError, match="asked for 2 GPU.*CPU build"):
        generation.generate("vllm", str(bos_model), prompts, SAMPLED, gpus=2)
    assert fake_vllm.ENGINES == []   # stopped before the engine


def test_an_old_driver_stops_the_job_naming_found_and_needed(fake_cuda, monkeypatch, capsys):
    monkeypatch.setattr(devices, "driver_version", lambda: "550.54.15")
    with pytest.raises(devices.NoGpuError, match=r"550\.54\.15.*CUDA 13\.0.*>= 580"):
        devices.require_gpus(1, "evaluate")
    monkeypatch.setattr(devices, "driver_version", lambda: "580.95.05")
    assert devices.require_gpus(2, "evaluate") == 2
    assert "driver 580.95.05; torch is built for CUDA 13.0, which needs driver >= 580.65.06: ok" in \
        capsys.readouterr().err


def test_hidden_or_missing_gpus_stop_the_job(fake_cuda, monkeypatch):
    import torch

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    with pytest.raises(devices.NoGpuError, match="CUDA_VISIBLE_DEVICES=''"):
        devices.require_gpus(1, "sample")
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    with pytest.raises(devices.NoGpuError, match="0 CUDA devices"):
        devices.require_gpus(1, "sample")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    with pytest.raises(devices.NoGpuError, match="asked for 4 GPU.*sees 1"):
        devices.require_gpus(4, "sample")


def test_a_test_cluster_with_fake_gpus_runs_gpu_jobs_on_the_cpu_and_says_so(monkeypatch, capsys):
    """O1PRUNER_FAKE_GPUS=1 (the local SLURM's A800s are a GRES without devices): no stop."""
    monkeypatch.setattr(devices, "cuda_device_count", lambda: 0)
    with pytest.raises(devices.NoGpuError):
        devices.require_gpus(1, "sample")
    monkeypatch.setenv(devices.FAKE_GPUS_ENV, "1")
    assert devices.require_gpus(1, "sample") == 0
    assert "fake GPUs): running on the CPU" in capsys.readouterr().err


def test_cpu_jobs_are_not_checked(monkeypatch):
    monkeypatch.setattr(devices, "cuda_device_count", lambda: pytest.fail("a CPU job asked CUDA"))
    assert devices.require_gpus(0, "sample") == 0 and devices.require_gpus(None, "sample") == 0


def test_train_entry_stops_when_its_rule_asked_for_gpus(monkeypatch, tmp_path):
    from o1pruner.training.commands import cli_train

    monkeypatch.setattr(devices, "torch_cuda_version", lambda: None)
    monkeypatch.setenv(devices.JOB_GPUS_ENV, "4")
    with pytest.raises(devices.NoGpuError, match="train: this job asked for 4 GPU"):
        cli_train(["--method", "sft", "--training-json", "{}", "--model-path", str(tmp_path),
                   "--data", str(tmp_path / "missing.parquet"), "--output", str(tmp_path / "out")])
    monkeypatch.setenv(devices.JOB_GPUS_ENV, "four")
    with pytest.raises(devices.NoGpuError, match="not a GPU count"):
        devices.job_gpus_from_env()


def test_driver_version_from_the_kernel_module_file(tmp_path, monkeypatch):
    f = tmp_path / "version"
    f.write_text("NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.183.01  Sun May 12 19:39:15 UTC 2024\n"
                 "GCC version:  gcc version 12.3.0\n")
    monkeypatch.setattr(devices, "DRIVER_FILE", f)
    assert devices.driver_version() == "535.183.01"
    assert devices.driver_report(cuda="13.0", found="535.183.01")[0] is False
    assert devices.driver_report(cuda="12.8", found="535.183.01") == (
        True, "NVIDIA driver 535.183.01; torch is built for CUDA 12.8, which needs driver >= 525.60.13: ok")


def test_a_node_without_driver_says_so(fake_cuda, monkeypatch):
    import torch

    monkeypatch.setattr(devices, "driver_version", lambda: None)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 0)
    with pytest.raises(devices.NoGpuError, match="driver not found.*no NVIDIA driver on this node"):
        devices.require_gpus(1, "train")
