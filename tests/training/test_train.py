"""Training entry point (o1pruner.training.train): SFT / DPO / LH on a tiny random Llama, on CPU."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
tokenizers = pytest.importorskip("tokenizers")
pytest.importorskip("trl")
pytest.importorskip("peft")

from o1pruner.config import ConfigError, load  # noqa: E402
from o1pruner.training import run_folder  # noqa: E402
from o1pruner.training import train as T  # noqa: E402
from o1pruner.training.settings import training_defaults  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]

CHATML = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>' + '\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
WORDS = [f"w{i}" for i in range(40)] + ["system", "user", "assistant", "solve", "so", "answer"]
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<unk>"]


def _tokenizer():
    vocab = {tok: i for i, tok in enumerate(SPECIAL + WORDS)}
    tok = tokenizers.Tokenizer(tokenizers.models.WordLevel(vocab, unk_token="<unk>"))
    tok.pre_tokenizer = tokenizers.pre_tokenizers.Whitespace()
    tok.add_special_tokens(SPECIAL[:3])
    return transformers.PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|im_end|>", pad_token="<|endoftext|>", unk_token="<unk>",
        bos_token=None, chat_template=CHATML)


@pytest.fixture(scope="module")
def base_model(tmp_path_factory) -> Path:
    """A random 2-layer Llama (hidden 32) + a WordLevel ChatML tokenizer, saved as an HF folder."""
    out = tmp_path_factory.mktemp("tiny") / "model"
    tok = _tokenizer()
    torch.manual_seed(0)
    config = transformers.LlamaConfig(
        vocab_size=len(tok), hidden_size=32, intermediate_size=64, num_hidden_layers=2,
        num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=128,
        pad_token_id=tok.pad_token_id, eos_token_id=tok.eos_token_id, bos_token_id=None,
        tie_word_embeddings=False)
    transformers.LlamaForCausalLM(config).save_pretrained(out)
    tok.save_pretrained(out)
    return out


def _prompt(tok, i: int) -> str:
    question = " ".join(WORDS[(i * 7 + j) % 40] for j in range(3 + i % 3))
    return tok.apply_chat_template([{"role": "system", "content": "solve"},
                                    {"role": "user", "content": question}],
                                   tokenize=False, add_generation_prompt=True)


def _response(i: int, length: int) -> str:
    return " ".join(WORDS[(i * 3 + j) % 40] for j in range(length)) + " so answer " + WORDS[i % 40]


@pytest.fixture(scope="module")
def tables(base_model, tmp_path_factory) -> dict[str, Path]:
    """Hand-made SFT / DPO / LH tables of 12 rows each, in the builders' column layout."""
    tok = transformers.AutoTokenizer.from_pretrained(base_model)
    folder = tmp_path_factory.mktemp("data")
    n = 12
    sft = pd.DataFrame({"problem_id": [f"p{i}" for i in range(n)], "sample_idx": 0,
                        "prompt": [_prompt(tok, i) for i in range(n)],
                        "response": [_response(i, 4 + i % 5) for i in range(n)], "num_tokens": 10})
    dpo = pd.DataFrame({"problem_id": [f"p{i}" for i in range(n)],
                        "prompt": [_prompt(tok, i) for i in range(n)],
                        "chosen": [_response(i, 3) for i in range(n)],
                        "rejected": [_response(i + 1, 12 + i % 4) for i in range(n)]})
    lh = pd.DataFrame({"problem_id": [f"p{i // 2}" for i in range(n)], "sample_idx": [i % 2 for i in range(n)],
                       "prompt": [_prompt(tok, i // 2) for i in range(n)],
                       "response": [_response(i, 3 + 4 * (i % 3)) for i in range(n)],
                       "weight": [1.5, -1.0, 0.5, -0.5, 1.0, -1.5] * 2})
    paths = {}
    for name, df in {"sft": sft, "dpo": dpo, "lh": lh}.items():
        paths[name] = folder / f"{name}.parquet"
        df.to_parquet(paths[name], index=False)
    return paths


def _tcfg(**overrides) -> dict:
    cfg = dict(training_defaults(), learning_rate=1e-2, max_steps=3, per_device_batch_size=2,
               gradient_accumulation_steps=1, warmup_ratio=0.0, lr_scheduler="constant",
               cutoff_len=64, threads=2, logging_steps=1)
    cfg.update(overrides)
    return cfg


def _state(path: Path) -> dict[str, torch.Tensor]:
    model = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def _changed(before: dict, after: dict) -> set[str]:
    assert before.keys() == after.keys()
    return {k for k in before if not torch.equal(before[k], after[k])}


def _read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


# ---- configuration ------------------------------------------------------------------------

def test_effective_training_config_merge_order():
    cfg = {
        "training": {"learning_rate": 1.0, "epochs": 2, "cutoff_len": 100, "lora": {"r": 4}},
        "methods": {"lh": {"epsilon": 0.3, "training": {"learning_rate": 2.0, "cutoff_len": 200}},
                    "sft": {"training": {"learning_rate": 9.0}}},
        "models": {"big": {"source": "hf", "training": {"cutoff_len": 300, "lora": {"alpha": 64}}}},
    }
    t = T.effective_training_config(cfg, "big", "lh")
    assert t["learning_rate"] == 2.0          # methods.lh.training beats training
    assert t["cutoff_len"] == 300             # models.big.training beats both
    assert t["epochs"] == 2                   # only in training
    assert t["lora"] == {"r": 4, "alpha": 64, "dropout": 0.05,
                         "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]}
    assert t["gradient_accumulation_steps"] == 8 and t["mode"] == "full"   # built-in defaults
    assert T.effective_training_config(cfg, "big", "dpo")["learning_rate"] == 1.0
    assert T.effective_training_config(cfg, "big", "sft")["learning_rate"] == 9.0
    assert "epsilon" not in t                 # method parameters are not training keys
    with pytest.raises(KeyError, match="models.nope"):
        T.effective_training_config(cfg, "nope", "lh")
    with pytest.raises(KeyError, match=r"training.*lerning_rate"):
        T.effective_training_config({**cfg, "training": {"lerning_rate": 1}}, "big", "lh")


def test_effective_training_config_of_the_shipped_config():
    cfg = load(ROOT / "config" / "config.yaml")
    model = next(iter(cfg["models"]))
    t = T.effective_training_config(cfg, model, "lh")
    assert t["learning_rate"] == cfg["methods"]["lh"]["training"]["learning_rate"]  # method wins
    assert t["epochs"] == cfg["training"]["epochs"]                                  # shared value
    assert T.effective_training_config(cfg, model, "sft")["learning_rate"] == cfg["training"]["learning_rate"]
    assert set(t) == set(training_defaults())


def test_apply_cutoff_counts_truncated_and_dropped(base_model):
    tok = transformers.AutoTokenizer.from_pretrained(base_model)
    prompt = _prompt(tok, 0)
    n_prompt = len(tok(prompt, add_special_tokens=False)["input_ids"])
    df = pd.DataFrame({"prompt": [prompt] * 3, "response": ["w1", "w1 w2 w3 w4 w5 w6", "w1 w2"]})
    cutoff = n_prompt + 3  # room for two response tokens + EOS
    kept, counts = T.apply_cutoff(tok, df, ["response"], cutoff, "truncate")
    assert counts == {"examples": 3, "kept": 3, "truncated": 1, "dropped": 0}
    kept, counts = T.apply_cutoff(tok, df, ["response"], cutoff, "drop")
    assert counts["dropped"] == 1 and kept["response"].tolist() == ["w1", "w1 w2"]
    _, counts = T.apply_cutoff(tok, df, ["response"], n_prompt, "truncate")  # prompt fills it
    assert counts["kept"] == 0


def test_deepspeed_on_cpu_is_a_clear_error(base_model, tables, tmp_path):
    if torch.cuda.is_available():
        pytest.skip("needs a machine without CUDA")
    with pytest.raises(ValueError, match="DeepSpeed runs need GPUs"):
        T.train("sft", str(base_model), str(tables["sft"]), str(tmp_path / "m"),
                _tcfg(deepspeed="config/deepspeed/zero3.json"), {})


def test_zero3_config_is_valid_json_with_auto_values():
    ds = json.loads((Path(__file__).resolve().parents[2] / "config" / "deepspeed" / "zero3.json").read_text())
    assert ds["zero_optimization"]["stage"] == 3
    assert ds["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is True
    assert ds["bf16"]["enabled"] == "auto"
    assert ds["train_batch_size"] == ds["gradient_accumulation_steps"] == "auto"
    assert ds["gradient_clipping"] == "auto"    # = TrainingArguments.max_grad_norm (training.max_grad_norm)
    assert "optimizer" not in ds                # the Trainer's create_optimizer builds it (adam_mini too)
    assert "offload_optimizer" not in ds["zero_optimization"]


@pytest.mark.parametrize("method, config_class, own", [
    ("sft", "o1pruner.training.trl_trainers.SFTConfig", {"max_length": 64, "completion_only_loss": True}),
    ("dpo", "o1pruner.training.trl_trainers.DPOConfig", {"beta": 0.3, "max_length": 64, "precompute_ref_log_probs": True}),
    ("lh", "o1pruner.training.lh_trainer.LHConfig", {"epsilon": 0.15, "remove_unused_columns": False,
                                            "precompute_ref_log_probs": True}),
])
def test_training_arguments_carry_the_settings_of_the_method_table(method, config_class, own, tmp_path):
    tcfg = T.check_training(_tcfg(max_grad_norm=10, optimizer="adam_mini", learning_rate=2e-7))
    mcfg = T.method_config({"methods": {"dpo": {"beta": 0.3}, "lh": {"epsilon": 0.15}}}, method)
    # the trainer reads only trainer_of(method).reads of the method config (the rest builds the data)
    mcfg = {k: mcfg[k] for k in T.trainer_of(method).reads}
    args = T.training_arguments(method, tmp_path, tcfg, mcfg, "fp32", on_gpu=False)
    assert f"{type(args).__module__}.{type(args).__name__}" == config_class
    assert (args.max_grad_norm, args.optimizer, args.learning_rate) == (10.0, "adam_mini", 2e-7)
    assert {k: getattr(args, k) for k in own} == own
    assert args.lr_scheduler_type == "constant" and args.per_device_train_batch_size == 2


def test_adam_mini_kwargs_come_from_the_model_config_and_the_zero3_flag(tmp_path):
    from o1pruner.training.lh_trainer import LHConfig
    from o1pruner.training.optimizers import adam_mini_kwargs

    args = LHConfig(output_dir=str(tmp_path), learning_rate=2e-7, weight_decay=0.0, use_cpu=True, report_to="none")
    gqa = transformers.LlamaConfig(hidden_size=64, num_attention_heads=8, num_key_value_heads=2)
    kw = adam_mini_kwargs(gqa, args, zero3=True)
    assert kw == {"lr": 2e-7, "betas": (0.9, 0.999), "eps": 1e-8, "weight_decay": 0.0, "model_sharding": True,
                  "dim": 64, "n_heads": 8, "n_kv_heads": 2, "verbose": True}
    assert adam_mini_kwargs(gqa, args, zero3=False)["model_sharding"] is False
    # no grouped-query attention: as many kv heads as query heads (GPT-2 maps n_head/n_embd)
    assert adam_mini_kwargs(transformers.GPT2Config(n_embd=48, n_head=6), args, False)[
        "n_kv_heads"] == 6
    with pytest.raises(ValueError, match="hidden_size and num_attention_heads"):
        adam_mini_kwargs(transformers.PretrainedConfig(), args, False)


def test_create_adam_mini_passes_zero3_when_deepspeed_zero3_is_on(base_model, tmp_path, monkeypatch):
    import adam_mini
    import transformers.integrations.deepspeed as hf_ds

    from o1pruner.training.lh_trainer import LHConfig
    from o1pruner.training.optimizers import create_adam_mini

    seen = {}

    class Recorder(torch.optim.SGD):
        def __init__(self, named_parameters, **kwargs):
            seen.update(kwargs, names=[n for n, _ in named_parameters])
            super().__init__([torch.nn.Parameter(torch.zeros(1))], lr=kwargs["lr"])

    monkeypatch.setattr(adam_mini, "Adam_mini", Recorder)
    monkeypatch.setattr(hf_ds, "is_deepspeed_zero3_enabled", lambda: True)
    model = transformers.AutoModelForCausalLM.from_pretrained(base_model)
    create_adam_mini(model, LHConfig(output_dir=str(tmp_path), use_cpu=True, report_to="none"))
    assert seen["model_sharding"] is True and (seen["dim"], seen["n_heads"], seen["n_kv_heads"]) == (32, 4, 2)
    assert "model.layers.0.self_attn.q_proj.weight" in seen["names"]  # Adam-mini partitions by these names


def test_adam_mini_under_zero3_needs_whole_heads_per_rank():
    from o1pruner.training.optimizers import check_zero3_partitions

    marco = {"n_heads": 28, "n_kv_heads": 4}   # Qwen2-7B
    for world in (1, 2, 4):
        check_zero3_partitions(marco, world)
    with pytest.raises(ValueError, match="n_heads = 28 is not divisible by 8.*dividing 4"):
        check_zero3_partitions(marco, 8)
    with pytest.raises(ValueError, match="n_kv_heads = 4 is not divisible by 7"):
        check_zero3_partitions(marco, 7)                # 7 divides the 28 query heads, not the 4 kv heads


def test_pinned_adam_mini_steps_on_zero3_flat_partitions(base_model, tmp_path, monkeypatch):
    """ZeRO-3 gives the optimizer one flat (1-D) fp32 partition per parameter group; adam-mini >= 1.0.5
    fails on them (IndexError, LLaMA-Factory issue 6680). Emulated here with world size 1."""
    import transformers.integrations.deepspeed as hf_ds

    from o1pruner.training.lh_trainer import LHConfig
    from o1pruner.training.optimizers import create_adam_mini

    monkeypatch.setattr(hf_ds, "is_deepspeed_zero3_enabled", lambda: True)
    model = transformers.AutoModelForCausalLM.from_pretrained(base_model)
    opt = create_adam_mini(model, LHConfig(output_dir=str(tmp_path), use_cpu=True, report_to="none"))
    torch.manual_seed(0)
    for group in opt.param_groups:
        (p,) = group["params"]
        flat = torch.nn.Parameter(p.detach().reshape(-1).clone())
        flat.grad = torch.randn_like(flat)
        group["params"] = [flat]
    before = [g["params"][0].detach().clone() for g in opt.param_groups]
    opt.step()
    assert all(not torch.equal(b, g["params"][0]) for b, g in zip(before, opt.param_groups))


def test_adam_mini_steps_in_one_process_on_a_node_with_eight_visible_gpus(base_model, tmp_path, monkeypatch):
    """adam-mini 1.0.4 reads torch.cuda.device_count() as its world size and all-gathers when it is
    above 1: without a process group (one process, no torchrun) that crashed on the first step."""
    from o1pruner.training.lh_trainer import LHConfig
    from o1pruner.training.optimizers import create_adam_mini

    monkeypatch.setattr(torch.cuda, "device_count", lambda: 8)
    model = transformers.AutoModelForCausalLM.from_pretrained(base_model)
    opt = create_adam_mini(model, LHConfig(output_dir=str(tmp_path), use_cpu=True, report_to="none"))
    assert opt.world_size == 1
    for p in model.parameters():
        p.grad = torch.ones_like(p)
    before = model.lm_head.weight.detach().clone()
    opt.step()
    assert not torch.equal(before, model.lm_head.weight)


# ---- training -----------------------------------------------------------------------------

@pytest.mark.parametrize("method", ["sft", "dpo", "lh"])
def test_adam_mini_trains_every_method(method, base_model, tables, tmp_path):
    out = tmp_path / "model"
    mcfg = {"beta": 0.1} if method == "dpo" else {}
    summary = T.train(method, str(base_model), str(tables[method]), str(out),
                      _tcfg(optimizer="adam_mini", learning_rate=1e-2, max_grad_norm=10), mcfg)
    assert summary["optimizer"] == "Adam_mini" and summary["training"]["max_grad_norm"] == 10
    assert summary["steps"] == 3 and np.isfinite(summary["final_loss"])
    changed = _changed(_state(base_model), _state(out))
    assert {"model.embed_tokens.weight", "model.layers.0.self_attn.k_proj.weight", "lm_head.weight",
            "model.layers.1.mlp.down_proj.weight"} <= changed



@pytest.mark.parametrize("method", ["sft", "dpo", "lh"])
def test_each_method_trains_and_writes_a_plain_hf_folder(method, base_model, tables, tmp_path):
    out, logs = tmp_path / method / "model", tmp_path / "logs"
    mcfg = {"beta": 0.1} if method == "dpo" else {"epsilon": 0.2} if method == "lh" else {}
    summary = T.train(method, str(base_model), str(tables[method]), str(out), _tcfg(), mcfg, str(logs))

    assert not out.with_name("model.tmp").exists()
    files = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "train_summary.json"} <= files
    assert not {f for f in files if f.startswith("checkpoint")} and "training_args.bin" not in files
    assert transformers.AutoTokenizer.from_pretrained(out).eos_token == "<|im_end|>"
    changed = _changed(_state(base_model), _state(out))
    assert "model.layers.0.self_attn.q_proj.weight" in changed and "lm_head.weight" in changed

    on_disk = json.loads((out / "train_summary.json").read_text())
    assert on_disk["method"] == summary["method"] == method
    assert on_disk["steps"] == 3 and on_disk["examples"] == 12
    assert on_disk["trainable_params"] == on_disk["total_params"] > 0
    assert on_disk["peak_rss_mb"] > 0 and on_disk["wall_time_s"] > 0
    assert on_disk["optimizer"] == "AdamW"     # the default optimizer, as before the switch
    assert isinstance(on_disk["final_loss"], float)

    log = _read_jsonl(logs / f"train_{method}.jsonl")
    losses = [e for e in log if "loss" in e]
    assert [e["step"] for e in losses] == [1, 2, 3]
    assert losses[-1]["loss"] == pytest.approx(on_disk["final_loss"])
    if method == "lh":
        # π_ref came from the initial weights: before the first update the ratio is 1
        assert losses[0]["lh_ratio"] == pytest.approx(1.0, abs=1e-4)
    if method == "dpo":
        # same for DPO's precomputed reference: the first step's implicit rewards are 0
        assert losses[0]["rewards/chosen"] == pytest.approx(0.0, abs=1e-4)


def test_freeze_mode_changes_only_the_last_layers(base_model, tables, tmp_path):
    out = tmp_path / "model"
    summary = T.train("lh", str(base_model), str(tables["lh"]), str(out),
                      _tcfg(mode="freeze", freeze_trainable_layers=1), {})
    changed = _changed(_state(base_model), _state(out))
    assert changed and all(k.startswith("model.layers.1.") for k in changed)
    assert "model.layers.1.mlp.down_proj.weight" in changed
    layer1 = sum(v.numel() for k, v in _state(base_model).items() if k.startswith("model.layers.1."))
    assert summary["trainable_params"] == layer1 < summary["total_params"]
    with pytest.raises(ValueError, match="has 2 decoder layers"):
        T.train("lh", str(base_model), str(tables["lh"]), str(tmp_path / "x"),
                _tcfg(mode="freeze", freeze_trainable_layers=3), {})


def test_lora_mode_writes_a_merged_plain_folder(base_model, tables, tmp_path):
    out = tmp_path / "model"
    lora = {"r": 4, "alpha": 8, "dropout": 0.0, "target_modules": ["q_proj", "v_proj"]}
    summary = T.train("sft", str(base_model), str(tables["sft"]), str(out), _tcfg(mode="lora", lora=lora), {})
    files = {p.name for p in out.iterdir()}
    assert "adapter_config.json" not in files and "adapter_model.safetensors" not in files
    after = _state(out)  # loads without peft: plain LlamaForCausalLM keys
    changed = _changed(_state(base_model), after)
    assert changed == {f"model.layers.{i}.self_attn.{m}.weight" for i in range(2) for m in ("q_proj", "v_proj")}
    # 2 layers x 2 modules x (A: r x 32 + B: out x r); v_proj out = 2 kv heads x 8 = 16
    assert summary["trainable_params"] == 2 * ((4 * 32 + 32 * 4) + (4 * 32 + 16 * 4))


def test_interrupted_run_never_leaves_the_final_folder(base_model, tables, tmp_path, monkeypatch):
    out = tmp_path / "model"
    tmp = tmp_path / "model.tmp"
    (tmp / "checkpoint-7").mkdir(parents=True)  # junk from a killed run
    (tmp / "junk.bin").write_bytes(b"\x00garbage")

    def crash(*args, **kwargs):
        raise RuntimeError("killed while saving")

    real_save = T.save_final_model
    monkeypatch.setattr(T, "save_final_model", crash)
    with pytest.raises(RuntimeError, match="killed while saving"):
        T.train("sft", str(base_model), str(tables["sft"]), str(out), _tcfg(), {})
    assert not out.exists() and tmp.is_dir()

    monkeypatch.setattr(T, "save_final_model", real_save)
    summary = T.train("sft", str(base_model), str(tables["sft"]), str(out), _tcfg(), {})
    assert summary["resumed_from"] is None and summary["steps"] == 3
    assert not tmp.exists()
    assert "junk.bin" not in {p.name for p in out.iterdir()}
    transformers.AutoModelForCausalLM.from_pretrained(out)
    assert (out / "train_sft.jsonl").is_file()  # no --log-dir: the log sits in the model folder


def test_rerun_resumes_from_the_last_checkpoint_of_the_same_run(base_model, tables, tmp_path, monkeypatch):
    out, tmp = tmp_path / "model", tmp_path / "model.tmp"
    tcfg = _tcfg(max_steps=4, save_steps=2)
    real_save = T.save_final_model

    def crash(*args, **kwargs):
        raise RuntimeError("killed")

    monkeypatch.setattr(T, "save_final_model", crash)
    with pytest.raises(RuntimeError):
        T.train("lh", str(base_model), str(tables["lh"]), str(out), tcfg, {})
    # no checkpoint at the last step (the final save follows it)
    assert [p.name for p in run_folder.complete_checkpoints(tmp)] == ["checkpoint-2"]

    monkeypatch.setattr(T, "save_final_model", real_save)
    summary = T.train("lh", str(base_model), str(tables["lh"]), str(out), tcfg, {})
    assert summary["resumed_from"] == "checkpoint-2" and summary["steps"] == 4
    log = _read_jsonl(out / "train_lh.jsonl")
    assert [e["step"] for e in log if "loss" in e] == [1, 2, 3, 4]
    assert not tmp.exists() and (out / "model.safetensors").is_file()

    # a leftover checkpoint of a DIFFERENT run (other learning rate) is not resumed
    monkeypatch.setattr(T, "save_final_model", crash)
    with pytest.raises(RuntimeError):
        T.train("lh", str(base_model), str(tables["lh"]), str(out), tcfg, {})
    monkeypatch.setattr(T, "save_final_model", real_save)
    summary = T.train("lh", str(base_model), str(tables["lh"]), str(out), {**tcfg, "learning_rate": 5e-3}, {})
    assert summary["resumed_from"] is None and summary["steps"] == 4


def test_cli_train_reads_the_config(base_model, tables, tmp_path):
    from o1pruner.cli import main

    config = {
        "models": {"tiny": {"source": "hf", "path": str(base_model),
                            "training": {"per_device_batch_size": 4}}},
        "datasets": {"d": {"source": "toy", "n": 4, "levels": [2]}},
        "train_dataset": "d", "eval_datasets": ["d"], "sampling": {"k": 2},
        "training": {"learning_rate": 1e-2, "max_steps": 2, "gradient_accumulation_steps": 1,
                     "cutoff_len": 64, "logging_steps": 1, "warmup_ratio": 0.0},
        "methods": {"lh": {"epsilon": 0.1, "training": {"lr_scheduler": "constant"}}},
    }
    cfg_path = tmp_path / "config.yaml"
    cfg_path.write_text(yaml.safe_dump(config))
    out = tmp_path / "lh" / "model"
    rc = main(["train", "--method", "lh", "--config", str(cfg_path), "--model-name", "tiny",
               "--model-path", str(base_model), "--data", str(tables["lh"]), "--output", str(out),
               "--log-dir", str(tmp_path / "logs")])
    assert rc == 0
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["steps"] == 2 and summary["training"]["per_device_batch_size"] == 4
    assert summary["training"]["lr_scheduler"] == "constant"
    assert summary["method_config"]["epsilon"] == 0.1 and "training" not in summary["method_config"]
    assert (tmp_path / "logs" / "train_lh.jsonl").is_file()


def test_bf16_precision_trains_under_autocast_and_saves_bf16(base_model, tables, tmp_path):
    from safetensors import safe_open

    out, logs = tmp_path / "model", tmp_path / "logs"
    summary = T.train("lh", str(base_model), str(tables["lh"]), str(out),
                      _tcfg(precision="bf16", mode="freeze", freeze_trainable_layers=1), {}, str(logs))
    assert summary["precision"] == "bf16"
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        assert {f.get_tensor(k).dtype for k in f.keys()} == {torch.bfloat16}
    # the reference pass ran in the training dtype: ratio 1 at the first step up to bf16 rounding
    first = next(e for e in _read_jsonl(logs / "train_lh.jsonl") if "loss" in e)
    assert first["lh_ratio"] == pytest.approx(1.0, abs=2e-2)
    before = _state(base_model)
    after = _state(out)
    frozen = [k for k in before if not k.startswith("model.layers.1.")]
    # frozen weights only went through a bf16 round trip
    assert all(torch.equal(before[k].bfloat16().float(), after[k]) for k in frozen)


def test_cli_train_takes_only_the_run_settings(base_model, tables, tmp_path, capsys):
    from o1pruner.cli import main

    training = T.check_training(_tcfg(max_steps=2, max_grad_norm=10))
    out = tmp_path / "lh" / "model"
    rc = main(["train", "--method", "lh", "--training-json", json.dumps(training),
               "--method-json", json.dumps({"epsilon": 0.1, "lambda": 2}),
               "--model-path", str(base_model), "--data", str(tables["lh"]), "--output", str(out)])
    assert rc == 0
    summary = json.loads((out / "train_summary.json").read_text())
    assert summary["training"] == training and summary["steps"] == 2
    assert summary["method_config"]["epsilon"] == 0.1
    assert summary["method_config"]["clip"] == [-2, 4]          # schema defaults of methods.lh
    assert json.loads(capsys.readouterr().err.strip().splitlines()[-1])["optimizer"] == "AdamW"
    base = ["train", "--method", "lh", "--model-path", str(base_model), "--data", str(tables["lh"]),
            "--output", str(tmp_path / "x")]
    for wrong in (["--training-json", "{}", "--model-name", "tiny"], ["--config", "c.yaml"],
                  ["--config", "c.yaml", "--model-name", "tiny", "--method-json", "{}"]):
        with pytest.raises(SystemExit):
            main(base + wrong)
    with pytest.raises(ConfigError, match="training.optimizer"):
        main(base + ["--training-json", json.dumps({"optimizer": "adam"})])
