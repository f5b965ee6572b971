"""The toy long-thought task: exact answers, long-thought traces, a loadable HF model."""

from __future__ import annotations

import numpy as np

from o1pruner.grading import Grader
from o1pruner.toy import MAX_VALUE, ChainProblem, chain_problems, long_thought_solution


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
