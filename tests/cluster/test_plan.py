"""Pre-flight feasibility check (o1pruner.cluster.plan): tensor parallelism, GPU memory, long outputs.

Offline: the models are local folders with the real config.json numbers of Qwen2-7B (Marco-o1)
and Qwen2.5-32B (QwQ-32B-Preview); no weights are needed.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest
import yaml

from o1pruner.cluster.commands import cli_check_plan
from o1pruner.cluster.plan import (
    Arch,
    PlanError,
    check,
    check_or_raise,
    inference_memory,
    tp_choices,
    training_memory,
    valid_tp,
)
from o1pruner.config import load, merge, validate
from tests.conftest import REPO

QWEN2_7B = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 3584,
            "num_attention_heads": 28, "num_key_value_heads": 4, "num_hidden_layers": 28,
            "intermediate_size": 18944, "vocab_size": 152064, "tie_word_embeddings": False,
            "max_position_embeddings": 32768, "torch_dtype": "bfloat16"}
QWEN25_32B = {"architectures": ["Qwen2ForCausalLM"], "model_type": "qwen2", "hidden_size": 5120,
              "num_attention_heads": 40, "num_key_value_heads": 8, "num_hidden_layers": 64,
              "intermediate_size": 27648, "vocab_size": 152064, "tie_word_embeddings": False,
              "max_position_embeddings": 32768, "torch_dtype": "bfloat16"}


def model_dir(tmp_path: Path, name: str, cfg: dict) -> Path:
    d = tmp_path / name
    d.mkdir()
    (d / "config.json").write_text(json.dumps(cfg))
    return d


@pytest.fixture
def paper(tmp_path):
    """config/paper.yaml with the two hub ids replaced by local config.json folders."""
    cfg = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    cfg["models"]["marco"]["path"] = str(model_dir(tmp_path, "marco", QWEN2_7B))
    cfg["models"]["qwq"]["path"] = str(model_dir(tmp_path, "qwq", QWEN25_32B))
    return cfg


def feasible(paper: dict) -> dict:
    """The paper's setup on resources that work: inference on 1 A800 (Marco) and 4 (QwQ)."""
    cfg = copy.deepcopy(paper)
    cfg["models"]["marco"]["resources"]["sample"]["gpu"] = 1
    cfg["models"]["marco"]["resources"]["evaluate"]["gpu"] = 1
    cfg["models"]["qwq"]["resources"]["sample"]["gpu"] = 4
    cfg["models"]["qwq"]["resources"]["evaluate"]["gpu"] = 4
    return cfg


def as_before(paper: dict) -> dict:
    """The layout paper.yaml asked before the check existed: TP 4 sampling and a whole node (8) to
    evaluate Marco-o1, a whole node for every QwQ job."""
    for model, sample, evaluate in (("marco", 4, 8), ("qwq", 8, 8)):
        paper["models"][model]["resources"]["sample"]["gpu"] = sample
        paper["models"][model]["resources"]["evaluate"]["gpu"] = evaluate
    return paper


def errors(findings, model=None, stage=None):
    return [f for f in findings if f.level == "error" and model in (None, f.model) and stage in (None, f.stage)]


def test_parameter_counts_are_the_published_ones():
    # Qwen2-7B: 7.62B; Qwen2.5-32B: 32.76B (both report these totals on their model cards)
    assert Arch.from_config(QWEN2_7B, "x").params() == 7_615_616_512
    assert Arch.from_config(QWEN25_32B, "x").params() == 32_763_876_352


def test_vllm_tp_rule_heads_kv_heads_and_mlp():
    marco = Arch.from_config(QWEN2_7B, "x")
    # 7 divides the 28 heads but a TP above the 4 KV heads must be a multiple of them (replication)
    assert tp_choices(marco) == [1, 2, 4]
    assert valid_tp(marco, 8) == ["28 attention heads"]
    assert any("KV heads" in w for w in valid_tp(marco, 7))
    assert tp_choices(Arch.from_config(QWEN25_32B, "x")) == [1, 2, 4, 8]
    # fewer KV heads than TP: replicated when TP is a multiple (e.g. 2 KV heads on 4 GPUs)
    gqa2 = Arch.from_config({**QWEN2_7B, "num_key_value_heads": 2}, "x")
    assert valid_tp(gqa2, 4) == [] and valid_tp(gqa2, 3)


def test_shipped_paper_config_is_feasible_with_the_real_shapes(paper):
    assert errors(check(validate(paper))) == []


def test_marco_evaluate_on_8_gpus_is_rejected_with_its_fix(paper):
    """What paper.yaml asked before: evaluate Marco-o1 on a whole node (8 GPUs)."""
    findings = check(validate(as_before(paper)))
    (err,) = errors(findings, "marco", "evaluate")
    assert "8 GPUs" in err.message and "28 attention heads" in err.message
    assert "models.marco.resources.evaluate.gpu to one of 1, 2, 4" in err.message
    assert "8" not in err.message.split("one of")[1]
    assert "AIDC-AI/Marco-o1" not in err.message and str(paper["models"]["marco"]["path"]) in err.message
    with pytest.raises(PlanError) as e:
        check_or_raise(validate(paper), log=lambda s: None)
    assert "models.marco evaluate" in str(e.value)


def test_feasible_plan_passes_with_advice_and_long_output_warnings(paper):
    cfg = validate(feasible(paper))
    logged = []
    findings = check_or_raise(cfg, log=logged.append)
    assert errors(findings) == []
    # the pre-samples (8192 tokens) are longer than either model's training cutoff
    assert any(f.level == "warning" and f.stage == "train" and "cutoff_len 3072" in f.message
               and f.model == "marco" for f in findings)
    assert logged and all(line.startswith("check-plan ") for line in logged)


def test_tensor_parallel_where_one_gpu_suffices_gets_data_parallel_advice(paper):
    findings = check(validate(as_before(paper)))  # marco samples with TP 4 but fits one A800
    advice = [f for f in findings if f.level == "advice" and f.model == "marco" and f.stage == "sample"]
    assert advice and "gpu: 1" in advice[0].message and "one engine per GPU" in advice[0].message
    # QwQ's 61 GiB of weights leave too little KV cache on one A800: no such advice
    assert not [f for f in findings if f.level == "advice" and f.model == "qwq"]


def test_unreachable_hub_id_is_a_warning_not_an_error(paper, monkeypatch, tmp_path):
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    paper["models"]["marco"]["path"] = "AIDC-AI/Marco-o1"
    findings = check(validate(paper))
    (w,) = [f for f in findings if f.model == "marco" and f.stage == "config"]
    assert w.level == "warning" and "AIDC-AI/Marco-o1" in w.message and "not in the local hub cache" in w.message
    assert errors(findings, "marco", "evaluate") == []  # unknown shape: nothing to reject


def test_hub_cache_hit_is_checked(paper, monkeypatch, tmp_path):
    cache = tmp_path / "hub"
    snap = cache / "models--AIDC-AI--Marco-o1" / "snapshots" / "abc123"
    snap.mkdir(parents=True)
    (snap / "config.json").write_text(json.dumps(QWEN2_7B))
    (cache / "models--AIDC-AI--Marco-o1" / "refs").mkdir()
    (cache / "models--AIDC-AI--Marco-o1" / "refs" / "main").write_text("abc123")
    import huggingface_hub.constants as c

    monkeypatch.setattr(c, "HF_HUB_CACHE", str(cache))
    paper["models"]["marco"]["path"] = "AIDC-AI/Marco-o1"
    findings = check(validate(as_before(paper)))
    assert errors(findings, "marco", "evaluate"), "the cached config.json was not used"


def test_memory_overrun_names_the_numbers(paper):
    cfg = feasible(paper)
    cfg["models"]["qwq"]["resources"]["evaluate"].update(gpu=1, gpu_model="a100_40g")
    (err,) = errors(check(validate(cfg)), "qwq", "evaluate")
    # 32.76B bf16 weights = 61.0 GiB on one 40 GiB GPU
    assert "weights 61.0" in err.message and "36.8 GiB usable" in err.message and "a100_40g" in err.message
    assert "gpu: 2, 4, 8" in err.message


def test_training_overrun_names_the_numbers(paper):
    cfg = feasible(paper)
    cfg["models"]["qwq"]["training"]["mode"] = "full"
    cfg["models"]["qwq"]["resources"]["train"]["gpu"] = 2
    (err, *_) = errors(check(validate(cfg)), "qwq", "train")
    # 18 bytes x 32.76B / 2 GPUs = 274.6 GiB of model states alone
    assert "32.76B of 32.76B" in err.message and "ZeRO-3 over 2 GPUs" in err.message
    assert "of 80 GiB a800" in err.message and "more GPUs" in err.message


def test_training_memory_formula_components():
    marco = Arch.from_config(QWEN2_7B, "x")
    tcfg = {"mode": "full", "deepspeed": "zero3.json", "per_device_batch_size": 1, "cutoff_len": 3072,
            "lora": {}, "freeze_trainable_layers": 1}
    full = training_memory(marco, tcfg, 4, "sft")
    expected = (18 * 7_615_616_512 / 4 + 4 * 152064 * 3584) / 2**30
    assert full["model_states"] == pytest.approx(expected)
    mini = training_memory(marco, {**tcfg, "optimizer": "adam_mini"}, 4, "sft")
    assert mini["model_states"] < full["model_states"]
    dpo = training_memory(marco, tcfg, 4, "dpo")
    assert dpo["recompute"] == pytest.approx(2 * full["recompute"])  # chosen + rejected
    # TRL's fused head: two fp32 [min(tokens, 4096), 32768] tiles + fp32 gradients of the hidden states (tokens x
    # 3584) and, in full mode, of the head (152064 x 3584); no [tokens, vocab] term
    assert full["lm_head"] == pytest.approx((2 * 3072 * 32768 * 4 + 3072 * 3584 * 4 + 152064 * 3584 * 4) / 2**30)
    frozen = training_memory(marco, {**tcfg, "mode": "freeze", "freeze_trainable_layers": 4}, 4, "sft")
    assert full["lm_head"] - frozen["lm_head"] == pytest.approx(152064 * 3584 * 4 / 2**30)
    lora = training_memory(marco, {**tcfg, "mode": "lora",
                                   "lora": {"r": 8, "target_modules": ["q_proj", "v_proj"]}}, 4, "sft")
    assert lora["trainable"] == 28 * 8 * ((3584 + 3584) + (3584 + 512))


def test_kv_cache_per_sequence():
    marco = Arch.from_config(QWEN2_7B, "x")
    # 2 x 28 layers x 4 KV heads x 128 x 2 bytes = 56 KiB per token; 16384 tokens = 0.875 GiB
    assert inference_memory(marco, 1, 16384, 2, 2.0)["kv_per_seq"] == pytest.approx(0.875)
    # TP 4: one KV head per GPU
    assert inference_memory(marco, 4, 16384, 2, 2.0)["kv_per_seq"] == pytest.approx(0.875 / 4)


def test_max_tokens_at_or_above_max_model_len_is_an_error(paper):
    cfg = feasible(paper)
    cfg["evaluation"]["max_tokens"] = 16384
    errs = errors(check(validate(cfg)), stage="evaluate")
    assert {f.model for f in errs} == {"marco", "qwq"}
    assert "evaluation.max_tokens 16384 >= models.marco.max_model_len 16384" in errs[0].message


def test_unknown_gpu_model_warns_and_plan_override_fixes_it(paper):
    cfg = feasible(paper)
    cfg["models"]["marco"]["resources"]["evaluate"]["gpu_model"] = "l40s"
    findings = check(validate(cfg))
    assert any(f.level == "warning" and "'l40s'" in f.message for f in findings)
    cfg["plan"] = {"gpu_memory_gib": {"L40S": 44.5}}
    assert not any("'l40s'" in f.message for f in check(validate(cfg)))


def test_on_error_warn_does_not_raise(paper):
    paper["plan"] = {"on_error": "warn"}
    findings = check_or_raise(validate(as_before(paper)), log=lambda s: None)
    assert errors(findings)


def test_layered_configs_merge_deep_later_wins(tmp_path, paper, capsys):
    base = tmp_path / "base.yaml"
    base.write_text(yaml.safe_dump(as_before(paper)))
    fix = tmp_path / "fix.yaml"
    fix.write_text(yaml.safe_dump({"models": {"marco": {"resources": {"evaluate": {"gpu": 2}}},
                                              "qwq": {"resources": {"evaluate": {"gpu": 4}}}}}))
    merged = load(base, fix)
    assert merged["models"]["marco"]["resources"]["evaluate"] == {**paper["models"]["marco"]["resources"]["evaluate"], "gpu": 2}
    assert cli_check_plan(["--config", str(base)]) == 1
    assert "marco evaluate: 8 GPUs" in capsys.readouterr().out
    assert cli_check_plan(["--config", str(base), "--config", str(fix)]) == 0
    assert merge({"a": {"b": 1, "c": 2}}, {"a": {"c": 3}}) == {"a": {"b": 1, "c": 3}}


@pytest.mark.parametrize("name", ["config.yaml", "smollm2.yaml"])
def test_shipped_cpu_configs_pass(name):
    assert errors(check(validate(yaml.safe_load((REPO / "config" / name).read_text())))) == []


def test_snakemake_dry_run_stops_on_an_infeasible_plan(tmp_path, paper):
    from tests.conftest import snakemake

    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["results"] = str(tmp_path / "r")
    cfg["models"] = {"marco": {"source": "hf", "path": paper["models"]["marco"]["path"],
                               "max_model_len": 16384,
                               "resources": {"evaluate": {"gpu": 8, "gpu_model": "a800"}}}}
    cfg["evaluation"]["backend"] = "vllm"  # tensor parallelism is vLLM's (config.yaml uses transformers)
    f = tmp_path / "infeasible.yaml"
    f.write_text(yaml.safe_dump(cfg))
    res = snakemake("-n", "--cores", "1", "--configfile", str(f), timeout=600)
    out = res.stdout + res.stderr
    assert res.returncode != 0
    assert "8 GPUs" in out and "28 attention heads" in out
    assert "Job stats" not in out  # stopped before planning any job


def test_max_model_len_beyond_the_models_positions_is_an_error(paper, monkeypatch):
    cfg = feasible(paper)
    cfg["models"]["marco"]["max_model_len"] = 65536   # Qwen2-7B: 32768 positions, no RoPE scaling
    (err,) = [f for f in errors(check(validate(cfg)), "marco") if "positions" in f.message]
    assert "max_model_len 65536" in err.message and "at most 32768" in err.message
    monkeypatch.setenv("VLLM_ALLOW_LONG_MAX_MODEL_LEN", "1")  # vLLM's own escape hatch
    assert not [f for f in errors(check(validate(cfg)), "marco") if "positions" in f.message]


def test_rope_scaling_extends_the_context():
    from o1pruner.cluster.plan import derived_max_len

    assert derived_max_len({"max_position_embeddings": 32768}) == 32768
    assert derived_max_len({"max_position_embeddings": 32768,
                            "rope_scaling": {"type": "dynamic", "factor": 4.0}}) == 131072
    # YaRN's max_position_embeddings is already the scaled length
    assert derived_max_len({"max_position_embeddings": 32768,
                            "rope_scaling": {"rope_type": "yarn", "factor": 4.0}}) == 32768


# The GPU presets, with the config.json of the models they name (tests/data/model_configs, written
# from the model cards): each must pass, every trainer estimated as it runs (TRL's fused LM head).
PRESETS = {"paper.yaml": {"marco": "AIDC-AI--Marco-o1", "qwq": "Qwen--QwQ-32B-Preview"},
           "r1_distill_1.5b.yaml": {"r1_1.5b": "deepseek-ai--DeepSeek-R1-Distill-Qwen-1.5B"},
           "qwen3.yaml": {"qwen3_8b": "Qwen--Qwen3-8B"}}
MODEL_CONFIGS = REPO / "tests" / "data" / "model_configs"


def preset(name: str) -> dict:
    cfg = yaml.safe_load((REPO / "config" / name).read_text())
    for model, folder in PRESETS[name].items():
        cfg["models"][model]["path"] = str(MODEL_CONFIGS / folder)
    return cfg


def test_model_configs_are_the_published_sizes():
    sizes = {"AIDC-AI--Marco-o1": 7.62e9, "Qwen--QwQ-32B-Preview": 32.76e9,
             "deepseek-ai--DeepSeek-R1-Distill-Qwen-1.5B": 1.78e9, "Qwen--Qwen3-8B": 8.19e9}
    for folder, size in sizes.items():
        arch = Arch.from_config(json.loads((MODEL_CONFIGS / folder / "config.json").read_text()), folder)
        assert arch.params() == pytest.approx(size, rel=2e-3), folder


@pytest.mark.parametrize("name", sorted(PRESETS))
def test_gpu_presets_pass_check_plan_with_the_real_shapes(name, tmp_path, capsys):
    f = tmp_path / name
    f.write_text(yaml.safe_dump(preset(name)))
    assert cli_check_plan(["--config", str(f)]) == 0, capsys.readouterr().out
    findings = check(validate(preset(name)))
    trained = {f.model for f in findings if f.stage == "train" and "does not fit" in f.message}
    assert not trained


@pytest.mark.parametrize("name", ["r1_distill_1.5b.yaml", "qwen3.yaml"])
def test_thinking_presets_on_policy_starting_points_pass_check_plan(name):
    """The presets' lh_onpolicy blocks, evaluated: the GRPO job fits and its colocated vLLM engine
    holds every sequence of a generation batch (no preemption warning)."""
    cfg = preset(name)
    cfg["evaluation"]["methods"] = cfg["evaluation"]["methods"] + ["lh_onpolicy"]
    findings = [f for f in check(validate(cfg)) if f.stage == "train"]
    assert not findings, [f.message for f in findings]
    assert cfg["methods"]["lh_onpolicy"]["max_completion_length"] == cfg["evaluation"]["max_tokens"]


def test_r1_distill_dpo_estimate_has_no_full_logits_term():
    # issue 21: with a [tokens, vocab] logits term (10 bytes each) DPO at 2 x 17,408 tokens and
    # 151,936 entries alone was 49.3 GiB, and the plan refused this preset
    cfg = validate(preset("r1_distill_1.5b.yaml"))
    from o1pruner.training.settings import effective_training_config

    arch = Arch.from_config(json.loads((MODEL_CONFIGS / PRESETS["r1_distill_1.5b.yaml"]["r1_1.5b"]
                                        / "config.json").read_text()), "r1")
    parts = training_memory(arch, effective_training_config(cfg, "r1_1.5b", "dpo"), 1, "dpo")
    assert parts["lm_head"] < 2.5 and sum(parts[k] for k in ("model_states", "checkpoints", "recompute",
                                                             "lm_head")) < 40


def test_a_job_parse_never_refuses_the_plan(tmp_path):
    """Inside a job (snakemake --mode remote on a cluster node, subprocess for local script jobs)
    the Snakefile is parsed again; the plan check must not stop it there."""
    from tests.conftest import snakemake

    cfg = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    cfg["results"] = str(tmp_path / "r")
    cfg["models"] = {"marco": {"source": "hf", "path": str(MODEL_CONFIGS / "AIDC-AI--Marco-o1"),
                               "max_model_len": 16384,
                               "resources": {"evaluate": {"gpu": 8, "gpu_model": "a800"}}}}
    cfg["evaluation"]["backend"] = "vllm"
    f = tmp_path / "infeasible.yaml"
    f.write_text(yaml.safe_dump(cfg))
    for mode in ("remote", "subprocess"):
        res = snakemake("-n", "--cores", "1", "--mode", mode, "--configfile", str(f), timeout=600)
        out = res.stdout + res.stderr
        assert res.returncode == 0, out[-3000:]
        assert "infeasible plan" not in out and "28 attention heads" not in out
    res = snakemake("-n", "--cores", "1", "--configfile", str(f), timeout=600)  # submission: the gate
    assert res.returncode != 0 and "28 attention heads" in res.stdout + res.stderr


# ---- on-policy (GRPO) jobs ---------------------------------------------------------------------

def test_an_onpolicy_job_adds_its_reference_and_its_generation_engine():
    marco = Arch.from_config(QWEN2_7B, "x")
    tcfg = {"mode": "full", "deepspeed": "zero3.json", "per_device_batch_size": 2, "gradient_accumulation_steps": 4,
            "cutoff_len": 4096, "lora": {}, "freeze_trainable_layers": 1}
    mcfg = {"beta": 0.0, "generation": "auto", "vllm_gpu_memory_utilization": 0.3}
    grpo = training_memory(marco, tcfg, 4, "lh_onpolicy", mcfg, 80.0)
    sft = training_memory(marco, tcfg, 4, "sft")
    assert {k: grpo[k] for k in sft} == sft                                  # the same training states
    assert (grpo["reference"], grpo["generation"]) == (0.0, pytest.approx(0.3 * 80))  # beta 0: no π_ref
    kl = training_memory(marco, tcfg, 4, "lh_onpolicy", {**mcfg, "beta": 0.04}, 80.0)
    assert kl["reference"] == pytest.approx(2 * 7_615_616_512 / 4 / 2**30)  # bf16, sharded by ZeRO-3
    alone = training_memory(marco, {**tcfg, "deepspeed": None}, 1, "lh_onpolicy", {**mcfg, "beta": 0.04}, 80.0)
    assert alone["reference"] == pytest.approx(2 * 7_615_616_512 / 2**30)
    lora = training_memory(marco, {**tcfg, "mode": "lora", "lora": {"r": 8, "target_modules": ["q_proj"]}}, 4,
                           "lh_onpolicy", {**mcfg, "beta": 0.04}, 80.0)
    assert lora["reference"] == 0.0                                          # the adapter is disabled instead
    hf = training_memory(marco, tcfg, 4, "lh_onpolicy", {**mcfg, "generation": "transformers"}, 80.0)
    # the generation batch (2 x 4 sequences) of 4096 tokens: K and V, 28 layers, 4 KV heads of 128, bf16
    assert hf["generation"] == pytest.approx(8 * 4096 * 2 * 28 * 4 * 128 * 2 / 2**30)


def _onpolicy(paper: dict, **method) -> dict:
    cfg = feasible(paper)
    cfg["evaluation"]["methods"] = cfg["evaluation"]["methods"] + ["lh_onpolicy"]
    cfg.setdefault("methods", {})["lh_onpolicy"] = method
    cfg["models"]["marco"]["methods"]["lh_onpolicy"] = {
        "training": {"cutoff_len": 8192, "deepspeed": "config/deepspeed/zero3.json"}}
    return cfg


def test_check_plan_sizes_the_colocated_vllm_engine(paper):
    assert not errors(check(validate(_onpolicy(paper))), "marco", "train")
    # 14.2 GiB of bf16 weights + 2 GiB overhead + one 8192-token sequence (0.44 GiB) do not fit 0.1 x 80 GiB
    (err,) = errors(check(validate(_onpolicy(paper, vllm_gpu_memory_utilization=0.1))), "marco", "train")
    assert "colocated vLLM engine does not fit" in err.message and "weights 14.2" in err.message
    assert "vllm_gpu_memory_utilization to at least 0.21" in err.message
    # the engine's share and π_ref on top of the training states: past the GPU
    (err,) = errors(check(validate(_onpolicy(paper, vllm_gpu_memory_utilization=0.9, beta=0.04))), "marco", "train")
    assert "lh_onpolicy (full" in err.message and "generation 72.0" in err.message and "reference 3.5" in err.message
    assert "vllm_gpu_memory_utilization or beta 0" in err.message


def test_a_method_the_config_does_not_run_is_not_checked(paper):
    cfg = _onpolicy(paper, vllm_gpu_memory_utilization=0.1)
    cfg["evaluation"]["methods"].remove("lh_onpolicy")
    assert not errors(check(validate(cfg)), "marco", "train")
