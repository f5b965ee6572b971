"""O1-Pruner's reward trained on-policy (o1pruner.training.grpo, o1pruner.methods.onpolicy): the group
reward on hand-made groups, the prompt set, a few GRPO steps on the tiny toy on CPU, the group
gather across two processes (torchrun, gloo) and the CUDA branch's vLLM settings."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")
pytest.importorskip("trl")

from o1pruner.config import load, schema_default  # noqa: E402
from o1pruner.methods import onpolicy, registry, rewards  # noqa: E402
from o1pruner.methods.datasets import length_harmonizing_reward  # noqa: E402
from o1pruner.reference_stats import reference_stats  # noqa: E402
from o1pruner.training import grpo  # noqa: E402
from o1pruner.training import train as T  # noqa: E402
from o1pruner.training.settings import training_defaults  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
LH = json.dumps({"lambda": 2.0}, sort_keys=True)
CLIP = [-2.0, 4.0]


# ---- the group reward ----------------------------------------------------------------------

def _records(groups: list[tuple[str, list[int], list[bool]]], reward="lh", params=LH, ref=(20.0, 0.5), clip=CLIP,
             truncated=False):
    return [{"problem_id": pid, "num_tokens": n, "correct": c, "truncated": truncated, "ref_mean_length": ref[0],
             "ref_mean_acc": ref[1], "group_reward": reward, "reward_params": params, "reward_clip": clip}
            for pid, lengths, correct in groups for n, c in zip(lengths, correct)]


def test_the_lh_group_reward_is_the_lh_reward_clipped():
    n, ok = [10, 20, 40, 0], [True, False, True, False]
    raw = length_harmonizing_reward(np.array(n), np.array(ok), 20.0, 0.5, 2.0)
    # by hand: 20/10 − 1 + 2·0.5 = 2; 20/20 − 1 − 1 = −1; 20/40 − 1 + 1 = 0.5; empty: L = 1 -> 20 − 1 − 1 = 18
    assert raw == pytest.approx([2.0, -1.0, 0.5, 18.0])
    assert grpo.score_groups(_records([("a", n, ok)], clip=None), 4) == pytest.approx(raw)
    assert grpo.score_groups(_records([("a", n, ok)]), 4) == pytest.approx([2.0, -1.0, 0.5, 4.0])


def _shorter_than_the_longest(group, *, scale):
    return (np.max(group.num_tokens) - group.num_tokens) * scale  # needs the whole group


PROBE = rewards.Reward("probe", _shorter_than_the_longest, params={"scale": {"type": "number", "default": 1}},
                       source="a test", formula="(L_max − L)·scale", display="Probe", run_param="scale")


def test_score_groups_scores_blocks_of_g_with_the_named_reward(monkeypatch):
    monkeypatch.setitem(rewards.REWARDS, "probe", PROBE)
    records = _records([("a", [10, 30], [True, True]), ("b", [5, 8], [False, True])], "probe", '{"scale": 2}',
                       clip=None)
    assert grpo.score_groups(records, 2).tolist() == [40.0, 0.0, 6.0, 0.0]
    lh = grpo.score_groups(_records([("a", [10, 20], [True, False])]), 2)
    assert lh.tolist() == pytest.approx([2.0, -1.0])


@pytest.mark.parametrize("name, params, expected", [
    # every peer reward scores a step's group as it scores a problem's pre-samples (tests/methods/test_rewards.py)
    ("kimi", {"weight": 1}, [1.5, 0.0, 0.5]),              # λ = 0.5, 0, −0.5: correct + λ; wrong: min(0, λ)
    ("arora", {"alpha": 0.1}, [0.9 + 0.1 * (1 - 1 / (1 + np.exp(1))), 0.0, 0.9 + 0.1 * (1 - 1 / (1 + np.exp(-1)))]),
    ("budget", {"max_tokens": 20}, [1.0, 0.0, 0.0]),        # 30 tokens: over the budget
    ("shorter_better", {"alpha": 2, "beta": 0.1}, [2.0, -1.0, 0.0]),  # L_SOL = 10
])
def test_every_reward_scores_an_on_policy_group(name, params, expected):
    # lengths 10, 20, 30 with correct, wrong, correct: arora's μ = 20, s = 10 over the correct ones
    records = _records([("a", [10, 20, 30], [True, False, True])], name, json.dumps(params), clip=None)
    assert grpo.score_groups(records, 3) == pytest.approx(expected)


def test_a_truncated_completion_is_over_its_budget():
    records = _records([("a", [5, 5], [True, True])], "budget", '{"max_tokens": 20}', clip=None)
    records[1]["truncated"] = True
    assert grpo.score_groups(records, 2).tolist() == [1.0, 0.0]
    assert grpo.completion_truncated([[5, 2], [5, 6], []], [2]).tolist() == [False, True, True]


def test_score_groups_refuses_a_block_of_two_problems_or_a_partial_group():
    with pytest.raises(RuntimeError, match="belong to problems"):
        grpo.score_groups(_records([("a", [10], [True]), ("b", [20], [True])]), 2)
    with pytest.raises(ValueError, match="not whole groups"):
        grpo.score_groups(_records([("a", [10, 20, 30], [True] * 3)]), 2)
    with pytest.raises(ValueError, match="unknown reward 'nope'"):
        grpo.score_groups(_records([("a", [10, 20], [True, True])], "nope"), 2)


def test_completion_length_leaves_out_the_eos_that_ended_it():
    assert grpo.completion_lengths([[5, 6, 2], [5, 6, 7], [], [9, 3]], [2, 3]).tolist() == [2, 3, 0, 1]


def test_the_reward_function_grades_scores_and_logs_one_process():
    logged = {}
    f = grpo.GroupRewardFunction(num_generations=2, grading={"timeout": 5}, eos_token_ids=[0])
    try:
        out = f(prompts=["q"] * 4, completions=["so \\boxed{3}", "\\boxed{4}", "\\boxed{7}", "no answer"],
                completion_ids=[[1] * 9 + [0], [1] * 20, [1] * 5 + [0], [1] * 40 + [0]],
                problem_id=["a", "a", "b", "b"], gold=["3", "3", "7", "7"], ref_mean_length=[20.0, 20.0, 10.0, 10.0],
                ref_mean_acc=[0.5, 0.5, 0.0, 0.0], group_reward=["lh"] * 4, reward_params=[LH] * 4, reward_clip=[CLIP] * 4,
                log_metric=lambda k, v: logged.setdefault(k, v), trainer_state=None)
        grader = f.grader
        again = f(prompts=["q"] * 2, completions=["\\boxed{3}"] * 2, completion_ids=[[1, 0]] * 2, problem_id=["a"] * 2,
                  gold=["3"] * 2, ref_mean_length=[20.0] * 2, ref_mean_acc=[0.5] * 2, group_reward=["lh"] * 2,
                  reward_params=[LH] * 2, reward_clip=[CLIP] * 2)
    finally:
        f.close()
    # a: 20/9 − 1 + 2·0.5, 20/20 − 1 − 2·0.5; b: 10/5 − 1 + 2, 10/40 − 1 + 0
    assert out == pytest.approx([20 / 9, -1.0, 3.0, -0.75])
    assert logged == pytest.approx({"onpolicy/accuracy": 0.5, "onpolicy/length": 18.5,
                                    "onpolicy/length_ratio": np.mean([9 / 20, 1, 5 / 10, 40 / 10])})
    assert again == pytest.approx([4.0, 4.0])  # 20/1 − 1 + 1, clipped to 4
    assert f.grader is None and grader.stats["graded"] == 6  # one grader for both steps, closed at the end


# ---- the prompt set and the method -----------------------------------------------------------

def _graded(tok=None, n_problems=6, k=4, problems=None) -> pd.DataFrame:
    from o1pruner.prompts import render

    rows = []
    for i in range(n_problems):
        text = problems[i]["problem"] if problems else f"problem {i}"
        gold = problems[i]["answer"] if problems else str(i)
        prompt = render(tok, text) if tok is not None else f"<prompt {i}>"
        for j in range(k):
            rows.append(dict(problem_id=f"p{i}", sample_idx=j, prompt=prompt, problem=text, response="r" * j,
                             num_tokens=40 + 10 * j + i, correct=(i + j) % 3 == 0, gold=gold))
    return pd.DataFrame(rows)


def test_prompt_set_has_one_row_per_problem_with_its_reference_statistics():
    graded = _graded()
    graded.loc[graded["problem_id"] == "p5", "gold"] = None  # no gold: no sample could be graded right
    stats = reference_stats(graded)
    out = onpolicy.prompt_set(graded.sample(frac=1, random_state=3), stats, {"clip": [-2, 4]}, 0, 5.0, reward="lh")
    assert list(out.columns) == onpolicy.PROMPT_SET_COLUMNS + ["problem"]
    assert out["problem_id"].tolist() == [f"p{i}" for i in range(5)]
    assert out["prompt"].tolist() == [f"<prompt {i}>" for i in range(5)] and out["gold"].tolist() == list("01234")
    ref = stats.set_index("problem_id").loc[out["problem_id"]]
    assert out["ref_mean_length"].tolist() == ref["mean_length"].tolist()
    assert out["ref_mean_acc"].tolist() == ref["mean_acc"].tolist()
    assert set(out["group_reward"]) == {"lh"}
    assert json.loads(out["reward_params"][0]) == {"lambda": 5.0}
    assert out["reward_clip"][0] == [-2.0, 4.0]
    with pytest.raises(ValueError, match="lambda"):
        onpolicy.prompt_set(graded, stats, {"clip": [-2, 4]}, 0, -1, reward="lh")
    with pytest.raises(ValueError, match="clip"):
        onpolicy.prompt_set(graded, stats, {"clip": [4, -2]}, 0, 2, reward="lh")
    kimi = onpolicy.prompt_set(graded, stats, {"clip": [-2, 4], "weight": 1}, 0, 0.5, reward="kimi")
    assert set(kimi["group_reward"]) == {"kimi"} and json.loads(kimi["reward_params"][0]) == {"weight": 0.5}
    mixed = graded.copy()
    mixed.loc[0, "prompt"] = "another prompt"
    with pytest.raises(ValueError, match="several prompts"):
        onpolicy.prompt_set(mixed, stats, {"clip": [-2, 4]}, 0, 2, reward="lh")


def test_the_method_is_registered_with_its_schema_block_and_trainer():
    m = registry.method("lh_onpolicy")
    assert (m.trainer, m.run_param, m.reward, m.data_keys, m.display) == (
        "grpo", "lambda", "lh", ("clip",), "O1-Pruner on-policy (GRPO)")
    assert registry.run_name("lh_onpolicy", 2) == "lh_onpolicy_lambda_2"
    assert registry.parse_run("lh_onpolicy_lambda_0.5") == ("lh_onpolicy", 0.5, None)
    assert registry.parse_run("lh_lambda_2") == ("lh", 2.0, None)
    assert schema_default("methods.lh_onpolicy.lambda_grid") == []
    # not in the default evaluation.methods (a config that names none); the tiny end-to-end names it
    assert load(_no_methods_config())["evaluation"]["methods"] == ["baseline", "fast_prompt", "sft", "dpo", "lh"]
    assert load(REPO / ".test" / "config.yaml")["evaluation"]["methods"][-1] == "lh_onpolicy"
    cfg = load(REPO / "config" / "config.yaml")
    reads = T.run_method_config(cfg, "lh_onpolicy")  # what the train rule passes
    assert set(reads) == set(T.TRAINERS["grpo"].reads) | {"grading"}
    assert reads["grading"] == cfg["grading"] and reads["num_generations"] == 4 and reads["beta"] == 0
    assert "grading" not in T.run_method_config(cfg, "lh")


def _no_methods_config() -> Path:
    import tempfile

    import yaml

    cfg = yaml.safe_load((REPO / "config" / "smollm2.yaml").read_text())
    del cfg["evaluation"]["methods"]
    path = Path(tempfile.mkdtemp()) / "no_methods.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_training_arguments_on_cpu_never_use_vllm(tmp_path):
    tcfg = T.check_training(_tcfg(cutoff_len=640))
    mcfg = T.run_method_config(load(REPO / "config" / "config.yaml"), "lh_onpolicy")
    args = T.training_arguments("lh_onpolicy", tmp_path, tcfg, mcfg, "fp32", on_gpu=False)
    assert isinstance(args, grpo.GRPOConfig) and not args.use_vllm
    assert (args.num_generations, args.max_completion_length, args.temperature, args.top_p, args.beta) == (4, 384, 0.5, 0.8, 0)
    assert (args.loss_type, args.scale_rewards, args.epsilon, args.optimizer) == ("dapo", "group", 0.2, "adamw")
    assert args.grading["timeout"] == 5 and args.remove_unused_columns is False


@pytest.fixture
def cuda_arguments(fake_cuda, monkeypatch):
    """TrainingArguments may be built for a (fake) CUDA device: accelerate's process state it sets up
    then is dropped again, so later tests get theirs for the CPU."""
    from accelerate.state import AcceleratorState

    monkeypatch.setattr(torch.cuda, "set_device", lambda device: None)
    AcceleratorState._reset_state(reset_partial_state=True)
    yield
    AcceleratorState._reset_state(reset_partial_state=True)


def test_the_cuda_branch_generates_with_vllm_colocated(cuda_arguments, tmp_path):
    tcfg = T.check_training(_tcfg(cutoff_len=640))
    mcfg = T.run_method_config(load(REPO / "config" / "config.yaml"), "lh_onpolicy")
    args = T.training_arguments("lh_onpolicy", tmp_path, tcfg, mcfg, "fp32", on_gpu=True)
    assert (args.use_vllm, args.vllm_mode, args.vllm_gpu_memory_utilization, args.vllm_max_model_length) == (
        True, "colocate", 0.3, 640)
    assert args.gradient_checkpointing  # GPU runs, as for every trainer
    forced = T.training_arguments("lh_onpolicy", tmp_path, tcfg, {**mcfg, "generation": "transformers"}, "fp32",
                                  on_gpu=True)
    assert not forced.use_vllm


def test_prompts_are_encoded_without_special_tokens(tiny_toy_model):
    from tokenizers.processors import TemplateProcessing

    from o1pruner.prompts import render

    tok = transformers.AutoTokenizer.from_pretrained(tiny_toy_model)
    bos = "<|im_start|>"  # R1-Distill's habit: the template writes BOS, the tokenizer would add another
    tok.bos_token = bos
    tok.backend_tokenizer.post_processor = TemplateProcessing(single=f"{bos} $A",
                                                              special_tokens=[(bos, tok.convert_tokens_to_ids(bos))])
    prompts = [render(tok, "Start with 3. Then a) +1. What is the final number?")]
    ids, images, fields = grpo.GRPOTrainer._tokenize_prompts(SimpleNamespace(processing_class=tok), prompts)
    assert ids == [tok(prompts[0], add_special_tokens=False)["input_ids"]] and (images, fields) == (None, {})
    assert tok(prompts[0])["input_ids"][:2] == [tok.bos_token_id] * 2  # what TRL's own encoding would give


# ---- GRPO steps on the tiny toy ----------------------------------------------------------------

def _tcfg(**overrides) -> dict:
    cfg = dict(training_defaults(), learning_rate=1e-4, max_steps=3, per_device_batch_size=4,
               gradient_accumulation_steps=1, warmup_ratio=0.0, lr_scheduler="constant", cutoff_len=512,
               threads=2, logging_steps=1)
    cfg.update(overrides)
    return cfg


@pytest.fixture(scope="module")
def toy_prompt_set(tiny_toy_model, tmp_path_factory) -> Path:
    from o1pruner.toy.model import toy_problems

    tok = transformers.AutoTokenizer.from_pretrained(tiny_toy_model)
    graded = _graded(tok, n_problems=6, problems=toy_problems(6, [1, 2], seed=5))
    path = tmp_path_factory.mktemp("grpo") / "lh_onpolicy_lambda_2.parquet"
    onpolicy.prompt_set(graded, reference_stats(graded), {"clip": [-2, 4]}, 0, 2.0, reward="lh").to_parquet(path)
    return path


def _state(path: Path) -> dict:
    model = transformers.AutoModelForCausalLM.from_pretrained(path, dtype=torch.float32)
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


REWARD_RUNS = [(m.name, 96 if m.reward == "budget" else None) for m in registry.METHODS.values() if m.reward]


@pytest.mark.parametrize("name, value", REWARD_RUNS, ids=[n for n, _ in REWARD_RUNS])
def test_every_reward_trains_a_few_steps_on_its_trainer(name, value, tiny_toy_model, tmp_path):
    """CI's slice of config/length_rewards.yaml: every reward on both trainers, built from graded
    toy samples by the registry's builder and trained two steps (the DAG: test_reward_methods.py)."""
    from o1pruner.config import method_defaults
    from o1pruner.toy.model import toy_problems

    m = registry.method(name)
    tok = transformers.AutoTokenizer.from_pretrained(tiny_toy_model)
    graded = _graded(tok, n_problems=4, problems=toy_problems(4, [1, 2], seed=5))
    mcfg = {**method_defaults(name), "max_completion_length": 32}
    value = mcfg.get(m.run_param) if value is None else value
    table = registry.builder(m)(graded, reference_stats(graded), mcfg, 0, value)
    data = tmp_path / f"{registry.run_name(name, value)}.parquet"
    table.to_parquet(data)
    summary = T.train(name, str(tiny_toy_model), str(data), str(tmp_path / "model"), _tcfg(max_steps=2), mcfg,
                      str(tmp_path))
    assert summary["steps"] == 2 and np.isfinite(summary["final_loss"])
    if m.trainer == "grpo":
        assert set(table["group_reward"]) == {m.reward}
        log = [json.loads(line) for line in (tmp_path / f"train_{name}.jsonl").read_text().splitlines()]
        assert all(np.isfinite(e["reward"]) for e in log if "reward" in e)
    else:
        assert np.isfinite(table["weight"]).all()


def test_grpo_steps_on_the_tiny_toy_write_the_run_folder(tiny_toy_model, toy_prompt_set, tmp_path):
    out, logs = tmp_path / "run" / "model", tmp_path / "logs"
    summary = T.train("lh_onpolicy", str(tiny_toy_model), str(toy_prompt_set), str(out), _tcfg(),
                      {"max_completion_length": 48}, str(logs))
    assert not out.with_name("model.tmp").exists()
    files = {p.name for p in out.iterdir()}
    assert {"config.json", "model.safetensors", "tokenizer.json", "train_summary.json"} <= files
    assert not {f for f in files if f.startswith("checkpoint")} and "training_args.bin" not in files
    on_disk = json.loads((out / "train_summary.json").read_text())
    assert on_disk["method"] == summary["method"] == "lh_onpolicy"
    assert (on_disk["steps"], on_disk["examples"], on_disk["world_size"]) == (3, 6, 1)
    assert on_disk["method_config"]["num_generations"] == 4 and on_disk["method_config"]["grading"]["timeout"] == 5
    assert on_disk["optimizer"] == "AdamW"
    log = [json.loads(line) for line in (logs / "train_lh_onpolicy.jsonl").read_text().splitlines()]
    steps = [e for e in log if "loss" in e]
    assert [e["step"] for e in steps] == [1, 2, 3]
    assert all(np.isfinite(e["loss"]) and np.isfinite(e["reward"]) for e in steps)
    assert all(0 <= e["onpolicy/accuracy"] <= 1 and e["onpolicy/length"] <= 48 for e in steps)
    panels = {k for k, _ in T.TRAINERS["grpo"].panels}
    assert panels - {"kl"} <= set(steps[0])  # beta 0: no KL is logged, nor drawn
    before, after = _state(tiny_toy_model), _state(out)
    assert any(not torch.equal(before[k], after[k]) for k in before)


def test_the_kl_reference_is_loaded_in_bf16_beside_an_upcast_policy(tiny_toy_model, toy_prompt_set, tmp_path):
    import datasets

    tcfg = T.check_training(_tcfg())
    args = T.training_arguments("lh_onpolicy", tmp_path, tcfg, {**_mcfg(), "beta": 0.1}, "bf16", on_gpu=False)
    policy, _ = T.load_policy(str(tiny_toy_model), tcfg, "bf16")  # trainable weights upcast to fp32
    assert policy.dtype == torch.float32
    trainer = grpo.GRPOTrainer(model=policy, args=args, processing_class=transformers.AutoTokenizer.from_pretrained(
        tiny_toy_model), train_dataset=datasets.Dataset.from_pandas(pd.read_parquet(toy_prompt_set)))
    assert trainer.ref_model.dtype == torch.bfloat16  # TRL's default, the policy's dtype, would be fp32


def _mcfg() -> dict:
    return T.run_method_config(load(REPO / "config" / "config.yaml"), "lh_onpolicy")


def test_a_prompt_without_room_for_the_completion_is_dropped(tiny_toy_model, toy_prompt_set, tmp_path):
    tok = transformers.AutoTokenizer.from_pretrained(tiny_toy_model)
    df = T.read_training_table("lh_onpolicy", toy_prompt_set)
    longest = max(len(tok(p, add_special_tokens=False)["input_ids"]) for p in df["prompt"])
    args = SimpleNamespace(max_completion_length=64, process_index=0,
                           main_process_first=lambda **kw: __import__("contextlib").nullcontext())
    data, counts = T._grpo_data(tok, df, {"cutoff_len": longest + 63}, tmp_path / "d", args)
    assert counts["dropped"] >= 1 and counts["kept"] == len(data) == len(df) - counts["dropped"]
    with pytest.raises(ValueError, match="no example fits"):
        T._grpo_data(tok, df, {"cutoff_len": 64}, tmp_path / "e", args)


def test_a_run_whose_groups_all_tie_is_flagged():
    from o1pruner.training.health import training_warnings

    tied = [{"step": i, "loss": 0.0, "frac_reward_zero_std": v} for i, v in enumerate([0.5, 1.0, 1.0, 0.95], 1)]
    (warning,) = training_warnings(tied, "lh_onpolicy")
    assert "one reward for all their samples" in warning and "min 0.95" in warning
    assert training_warnings([{**e, "frac_reward_zero_std": 0.5} for e in tied], "lh_onpolicy") == []


# ---- the group gather: two processes -----------------------------------------------------------

def test_two_processes_score_a_group_that_spans_them(tiny_toy_model, toy_prompt_set, tmp_path):
    """per_device_batch_size 2, G = 4: every group is two samples on rank 0 and two on rank 1. The
    probe reward (1000 x the group's size + length minus the group's shortest) is right on both only
    if the group was gathered, and TRL's blocks of 4 are one problem each (score_groups refuses otherwise)."""
    data = tmp_path / "probe.parquet"
    table = pd.read_parquet(toy_prompt_set).assign(group_reward="span_probe", reward_params="{}")
    table["reward_clip"] = [[-1e9, 1e9]] * len(table)  # the probe's values, unclipped
    table.to_parquet(data)
    probe = tmp_path / "probe"
    spec = {"model": str(tiny_toy_model), "data": str(data), "output": str(tmp_path / "run" / "model"),
            "training": _tcfg(max_steps=2, per_device_batch_size=2, learning_rate=1e-4),
            "method_config": {"max_completion_length": 32, "num_generations": 4}, "probe": str(probe)}
    (tmp_path / "spec.json").write_text(json.dumps(spec))
    torchrun = shutil.which("torchrun", path=str(Path(sys.executable).parent)) or "torchrun"
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO / "src"), str(REPO), os.environ.get("PYTHONPATH", "")]),
           "OMP_NUM_THREADS": "1", "HF_HUB_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    res = subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", str(REPO / "tests" / "torchrun_grpo.py"),
                          str(tmp_path / "spec.json")], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=900)
    assert res.returncode == 0, res.stderr[-4000:]

    calls = {r: [json.loads(line) for line in Path(f"{probe}.{r}.jsonl").read_text().splitlines()] for r in (0, 1)}
    assert len(calls[0]) == len(calls[1]) == 2  # one generation batch per step
    for c0, c1 in zip(calls[0], calls[1]):
        assert c0["records"] == c1["records"] and (c0["start"], c1["start"]) == (0, 2)
        # the group spans the processes: both halves are the same problem's
        assert len(set(c0["local_problem_ids"] + c1["local_problem_ids"])) == 1
        lengths = c0["local_lengths"] + c1["local_lengths"]
        assert [r["num_tokens"] for r in c0["records"]] == lengths
        expected = [4000 + n - min(lengths) for n in lengths]
        assert c0["returned"] + c1["returned"] == pytest.approx(expected)
    summary = json.loads((tmp_path / "run" / "model" / "train_summary.json").read_text())
    assert (summary["world_size"], summary["steps"]) == (2, 2)
    log = [json.loads(line) for line in (tmp_path / "run" / "model" / "train_lh_onpolicy.jsonl").read_text().splitlines()]
    assert [e["step"] for e in log if "loss" in e] == [1, 2]  # rank 0 alone wrote it


def test_the_workflow_builds_and_trains_an_onpolicy_run(tmp_path):
    """Once in evaluation.methods: one build_dataset (the prompt set, λ from the run name), one train
    job that gets the trainer's keys and the grading block, one evaluation per set."""
    from tests.conftest import job_counts, snakemake

    overlay = tmp_path / "overlay.yaml"
    overlay.write_text("evaluation: {methods: [baseline, lh_onpolicy]}\nmethods: {lh_onpolicy: {lambda: 5}}\n")
    res = snakemake("-n", "-p", "--cores", "2", "--configfile", "config/config.yaml", str(overlay), "--config",
                    f"results={tmp_path}/r", "--", f"{tmp_path}/r/tables/table2.csv")
    assert res.returncode == 0, res.stderr[-3000:]
    jobs = job_counts(res.stdout)
    assert (jobs["build_dataset"], jobs["train"], jobs["evaluate"]) == (1, 1, 2)
    (build,) = [ln for ln in res.stdout.splitlines() if "build-dataset --method lh_onpolicy" in ln]
    assert """--method-json '{"clip": [-2, 4]}' --value 5 """ in build and "lh_onpolicy_lambda_5.parquet" in build
    (train,) = [ln for ln in res.stdout.splitlines() if "train --method lh_onpolicy" in ln]
    assert '"grading": {"answer_fallback": "none"' in train and '"num_generations": 4' in train
