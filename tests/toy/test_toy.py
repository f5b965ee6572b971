"""The toy long-thought task: exact answers, long-thought traces, a loadable HF model."""

from __future__ import annotations

import re

import numpy as np
import pytest

from o1pruner.grading import Grader
from o1pruner.toy.anatomy import anatomy
from o1pruner.toy.model import (
    MAX_VALUE,
    ChainProblem,
    SlipTable,
    ToyConfig,
    chain_problems,
    facts,
    long_thought_solution,
    slip_table,
    training_corpus,
)


def test_chains_stay_in_range_and_answers_are_exact():
    for p in chain_problems(500, [2, 3, 4, 5, 6], seed=0):
        vals = p.values()
        assert all(0 <= v <= MAX_VALUE for v in vals)
        assert p.answer == vals[-1] and p.level == len(p.ops)


def test_problem_text_and_scratchpad_format():
    p = ChainProblem(8, (("+", 1), ("-", 5), ("*", 2)))
    assert p.text == "Start with 8. Then a) +1, b) -5, c) *2. What is the final number?"
    assert p.step_lines() == ["a) 8 +1 = 9", "b) 9 -5 = 4", "c) 4 *2 = 8"]
    sol = long_thought_solution(p, np.random.default_rng(0), [1.0])     # stops at once
    assert sol == ("Let me solve this step by step.\na) 8 +1 = 9\nb) 9 -5 = 4\nc) 4 *2 = 8\n"
                   "The result is 8.\nSo the answer is \\boxed{8}.")


def test_reflective_trace_checks_the_last_steps_inline_and_repairs_a_slip():
    p = ChainProblem(8, (("+", 1), ("-", 5), ("*", 2)))
    # every fact slips at step b) and at no other; three re-checks: every step is redone
    slips = SlipTable([0.0, 1.0, 0.0], seed=0)
    lines = long_thought_solution(p, np.random.default_rng(0), [0.0, 0.0, 0.0, 1.0], False, slips).split("\n")
    assert lines[1] == "a) +1: 8 +1 = 9" and re.fullmatch(r"Wait, let me [a-z -]+ step a\)\.", lines[2])
    assert lines[3] == "a) +1: 8 +1 gives 9"                                    # waste
    assert lines[4].startswith("b) -5: 9 -5 = ") and lines[4] != "b) -5: 9 -5 = 4"  # the slip
    assert lines[5].endswith("step b).") and lines[6] == "b) -5: 9 -5 gives 4"  # the repair
    assert lines[7:] == ["c) *2: 4 *2 = 8", lines[8], "c) *2: 4 *2 gives 8", "The result is 8.",
                         "So the answer is \\boxed{8}."]
    # one re-check reaches only c): the slip carries on, consistently, to a wrong box
    lines = long_thought_solution(p, np.random.default_rng(0), [0.0, 1.0], False, slips).split("\n")
    slip = int(lines[2].rsplit(" ", 1)[1])
    assert abs(slip - 4) in (1, 2) and "Wait" not in lines[2] + lines[3]          # a near miss
    assert lines[3] == f"c) *2: {slip} *2 = {2 * slip}" and lines[5] == f"c) *2: {slip} *2 gives {2 * slip}"
    assert lines[-1] == f"So the answer is \\boxed{{{2 * slip}}}."


def test_slips_are_a_fixed_misconception_per_fact_from_an_onset_step():
    slips = SlipTable([0.0, 0.3, 0.6], seed=4)
    at = {step: {f for f in facts() if slips.slipped(step, *f, ()) is not None} for step in range(3)}
    assert not at[0] and at[1] <= at[2]                  # a fact that slips once slips later too
    assert 0.1 < len(at[1]) / len(facts()) < 0.5 and 0.45 < len(at[2]) / len(facts()) < 0.75
    same = SlipTable([0.0, 0.3, 0.6], seed=4)
    assert all(slips.slipped(2, *f, ()) == same.slipped(2, *f, ()) for f in facts())  # deterministic


def test_reflective_slips_rise_with_the_level_and_stay_one_digit():
    cfg = ToyConfig(reflective=True)
    rng = np.random.default_rng(0)
    wrong_share = {}
    for level in (3, 8):
        sols = [long_thought_solution(p, rng, cfg.stop_schedule, False, slip_table(cfg))
                for p in chain_problems(400, [level], seed=level)]
        for sol in sols:
            values = re.findall(r"(?:: |= |is |gives |wrote |\{)(-?\d+)", sol)  # every value, no operation
            assert values and all(0 <= int(v) <= MAX_VALUE for v in values), sol
        wrong_share[level] = np.mean([anatomy(s, p.text).n_errors > 0
                                      for s, p in zip(sols, chain_problems(400, [level], seed=level))])
    assert wrong_share[8] > 0.1 and wrong_share[3] == 0  # slips from step f) on only


def test_reflective_switch_is_off_by_default_and_leaves_the_corpus_unchanged():
    assert ToyConfig().reflective is False and slip_table(ToyConfig()) is None
    plain = training_corpus(ToyConfig(train_problems=50))
    assert not any("gives" in r for _, r in plain)
    assert any(" gives " in r for _, r in training_corpus(ToyConfig(train_problems=300, reflective=True)))


def test_levels_outside_the_step_labels_are_a_clear_error():
    import pytest

    with pytest.raises(ValueError, match=r"from 1 to 12 .* got \[0, 13\]"):
        chain_problems(5, [0, 2, 13], seed=0)


def test_solutions_are_long_thought_and_grade_correct():
    rng = np.random.default_rng(0)
    probs = chain_problems(200, [3], seed=1)
    sols = [long_thought_solution(p, rng, [0.25, 0.35, 0.45, 0.6, 0.8, 1.0]) for p in probs]
    n_checks = [s.count("Wait, let me") for s in sols]
    assert min(n_checks) == 0 and max(n_checks) == 5          # variable redundancy, capped
    assert np.mean(n_checks) > 1.5
    with Grader() as g:
        assert all(g.grade(s, str(p.answer))[1] for s, p in zip(sols, probs))


def test_tiny_toy_model_loads_and_generates(tiny_toy_model):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from o1pruner.prompts import render

    tok = AutoTokenizer.from_pretrained(tiny_toy_model)
    model = AutoModelForCausalLM.from_pretrained(tiny_toy_model)
    prompt = render(tok, "Start with 3. Then a) +4. What is the final number?")
    assert prompt.endswith("<|im_start|>assistant\n")
    ids = tok(prompt, return_tensors="pt", add_special_tokens=False)
    out = model.generate(**ids, max_new_tokens=5, do_sample=False)
    assert out.shape[1] == ids["input_ids"].shape[1] + 5 or tok.eos_token_id in out[0].tolist()
    # digits, operations and step labels are single tokens: arithmetic stays learnable
    assert tok.tokenize("123") == ["1", "2", "3"]
    ids = tok(" 7 +2 = 9", add_special_tokens=False)["input_ids"]
    assert [tok.decode([i]) for i in ids] == [" 7", " +2", " =", " 9"]
    assert tok.decode(tok("b) 9 -2 = 7", add_special_tokens=False)["input_ids"][:1]) == "b)"


def test_shared_prefix_loss_equals_the_full_batch_loss_and_gradient():
    """The toy build's step: the prefix computed once and broadcast, the head on labels only."""
    import torch

    from o1pruner.toy.model import (
        REFLECTIVE_PIECES,
        ToyConfig,
        build_model,
        build_tokenizer,
        common_prefix,
        encode_pairs,
        shared_prefix_loss,
        training_corpus,
    )

    cfg = ToyConfig(train_problems=64, reflective=True, hidden_size=32, intermediate_size=64,
                    num_layers=2, num_heads=2)
    pairs = training_corpus(cfg)
    tok = build_tokenizer([p + r for p, r in pairs], 300, pieces=REFLECTIVE_PIECES)
    data = encode_pairs(tok, pairs, 512)
    prefix = common_prefix(data)
    assert tok.decode(prefix).startswith("<|im_start|>system")
    assert all(ids[: len(prefix)] == prefix and n > len(prefix) for ids, n in data)
    batch = data[:6]
    width = max(len(ids) for ids, _ in batch)
    input_ids = torch.full((6, width), tok.pad_token_id)
    labels = torch.full((6, width), -100)
    for b, (ids, n) in enumerate(batch):
        input_ids[b, : len(ids)] = torch.tensor(ids)
        labels[b, n: len(ids)] = torch.tensor(ids[n:])
    model = build_model(cfg, tok)
    grads = []
    for loss_fn in (lambda: model(input_ids=input_ids, labels=labels).loss,
                    lambda: shared_prefix_loss(model, prefix, input_ids, labels)):
        model.zero_grad()
        loss = loss_fn()
        loss.backward()
        grads.append((loss.item(), torch.cat([p.grad.flatten() for p in model.parameters()])))
    (full_loss, full_grad), (shared_loss, shared_grad) = grads
    assert shared_loss == pytest.approx(full_loss, rel=1e-6)
    assert torch.allclose(shared_grad, full_grad, rtol=1e-4, atol=1e-7)
    assert full_grad.abs().sum() > 0


def test_learning_rate_holds_its_peak_then_decays_over_the_last_share_of_the_steps():
    import math

    from o1pruner.toy.model import lr_factor

    whole = ToyConfig(steps=1000, warmup_steps=10)   # decay_fraction 1.0: a cosine over the run
    assert lr_factor(whole, 0) == pytest.approx(0.1) and lr_factor(whole, 9) == pytest.approx(1.0, abs=1e-3)
    assert lr_factor(whole, 500) == pytest.approx(0.5 * (1 + math.cos(math.pi * 0.5)))
    held = ToyConfig(steps=1000, warmup_steps=10, decay_fraction=0.25)
    assert [lr_factor(held, s) for s in (9, 400, 750)] == [1.0, 1.0, 1.0]
    assert lr_factor(held, 875) == pytest.approx(0.5)
    assert lr_factor(held, 1000) == pytest.approx(0.0)
