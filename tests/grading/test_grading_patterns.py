"""Grader: issue 13's failure patterns, which box (issue 12), thinking scope (issue 14), the
official grader's rules and parallel workers.

    PYTHONPATH=src .venv/bin/python -m pytest tests/grading/test_grading_patterns.py -q
"""

from __future__ import annotations

import pytest

from o1pruner.grading import (
    Grader,
    answer_part,
    as_number,
    cli_grade,
    extract_answer,
    fast_equivalent,
    official_equivalent,
    pathology,
)


@pytest.fixture(scope="module")
def grader():
    with Grader(timeout=5) as g:
        yield g


# --------------------------------------------------------------------------- 1-3: false positives


@pytest.mark.parametrize("pred, gold", [
    ("32, 349", "32349"),  # a spaced comma separates two numbers
    ("2, 125", "2125"),
    ("32, 349", "32,349"),  # not even equal to the same digits with a separator
    ("1450000.5", "1,450,000"),  # exact answers are compared exactly
    ("1,450,001.00", "1,450,000"),
    ("3.0000001", "3"),
    (r"5 \text{ or more}", "5"),  # a text alternative is not a unit
    (r"18 \text{ or } 21", "18"),
    ("18 or 21", "18"),
    (r"\text{18 or more}", "18"),
])
def test_false_positives_are_rejected(grader, pred, gold):
    assert fast_equivalent(pred, gold) is False
    assert grader.grade(rf"so the answer is $\boxed{{{pred}}}$.", gold)[1] is False


def test_alternatives_count_only_when_all_are_right(grader):
    assert grader.grade(r"\boxed{1.5 or 3/2}", r"\frac{3}{2}")[1]  # one value written twice
    assert grader.grade(r"\boxed{1.5 \text{ or } \frac32}", "1.5")[1]
    assert not grader.grade(r"\boxed{1.5 or 2}", r"\frac{3}{2}")[1]


def test_constant_is_not_a_unit(grader):
    assert grader.grade(r"\boxed{18 pi}", "18") == ("18 pi", False)  # math-verify decides: 18*pi
    assert grader.grade(r"\boxed{18 pi}", r"18\pi") == ("18 pi", True)


def test_thousands_separator_without_space_still_counts(grader):
    assert grader.grade(r"\boxed{32,349}", "32349")[1]
    assert grader.grade(r"is $\boxed{32,\! 349}$", "32349")[1]  # MATH's own separator ",\!"
    assert grader.grade(r"is $\boxed{14{,}916}$", "14916")[1]
    assert grader.grade(r"\boxed{1\,450\,000}", "1,450,000")[1]
    assert as_number("32, 349") is None and as_number("32,349")[0] == 32349


def test_tolerance_only_when_configured():
    assert fast_equivalent("3.0000001", "3") is False
    assert fast_equivalent("3.0000001", "3", rel_tol=1e-6) is True
    assert fast_equivalent("3.01", "3", rel_tol=1e-6) is False
    assert fast_equivalent("0.333333", r"\frac{1}{3}", rel_tol=1e-6) is True
    assert fast_equivalent("28801", "28800", rel_tol=1e-3) is False  # integers stay exact
    with Grader(rel_tol=1e-6) as g:
        assert g.grade(r"\boxed{3.0000001}", "3")[1]
    with pytest.raises(ValueError, match="rel_tol"):
        Grader(rel_tol=-1)


# --------------------------------------------------------------------------- 4-5, 7: false negatives


@pytest.mark.parametrize("pred, gold", [
    ("18 dollars", "18"), ("18 eggs", "18"), ("18 cookies", "18"), ("18 people", "18"),
    ("18 points", "18"), ("18 times", "18"), ("1,234 dollars", "1234"), (r"\text{18 dollars}", "18"),
    (r"18\ dollars", "18"), ("18 hours", "18"), (r"18 \text{dollars}", "18"), (r"5\text{ cm}^2", "5"),
    (r"12.5\%", "12.5"), (r"18.0\%", "18"), (r"18.00\%", "18"), (r"18\,\%", "18"), ("18 percent", "18"),
    (r"28", r"28\%"), ("0.28", r"28\%"),  # a percentage is its number, or (as math-verify) its fraction
    ("12 pi", r"12\pi"), ("11√2", r"11\sqrt2"), ("√(x+1)", r"\sqrt{x+1}"), ("2π", r"2\pi"),
])
def test_false_negatives_are_accepted(grader, pred, gold):
    assert grader.grade(rf"The answer is $\boxed{{{pred}}}$.", gold)[1] is True


@pytest.mark.parametrize("pred, gold", [
    ("18 dollars", "19"), (r"12.5\%", "12"), ("12 pi", r"11\pi"), ("11√2", r"11\sqrt3"), ("0.28", r"27\%"),
])
def test_units_percent_constants_still_compare_the_value(grader, pred, gold):
    assert grader.grade(rf"\boxed{{{pred}}}", gold)[1] is False


# --------------------------------------------------------------------------- 6: several boxes


@pytest.mark.parametrize("text, expected", [
    (r"\boxed{(2, 2)} \quad\text{and}\quad \boxed{(6, 2)}", "(2, 2), (6, 2)"),
    (r"\boxed{1},\boxed{2},\boxed{3}", "1, 2, 3"),
    (r"$x = \boxed{1}$, $\boxed{2}$ and $\boxed{3}$.", "1, 2, 3"),
    (r"Wrong: \boxed{7}. Then the solutions are \boxed{1} and \boxed{2}", "1, 2"),  # prose breaks a run
    (r"\boxed{5}" + "\n\n" + r"\boxed{5}", "5"),  # a repeated answer is not a list
    (r"$\boxed{1}\boxed{2}$", "1, 2"),
    (r"\(\boxed{1}\) and \(\boxed{-2}\).", "1, -2"),
    (r"\boxed{1} papers and \boxed{2} bins", "2"),  # words end the run
    (r"\boxed{18} or \boxed{21}", "21"),  # an alternative is not a part
])
def test_box_runs_are_one_answer(text, expected):
    assert extract_answer(text) == expected


def test_multi_box_answers_grade_as_one(grader):
    assert grader.grade(r"\boxed{(2, 2)} \quad\text{and}\quad \boxed{(6, 2)}", "(2, 2), (6, 2)")[1]
    assert grader.grade(r"\boxed{1},\boxed{2},\boxed{3}", r"\{1,2,3\}")[1]
    assert not grader.grade(r"\boxed{1},\boxed{2},\boxed{4}", r"\{1,2,3\}")[1]
    assert not grader.grade(r"\boxed{32}, \boxed{349}", "32349")[1]


# --------------------------------------------------------------------------- which box (issue 12)


def test_first_box():
    text = r"First \boxed{3}, then \boxed{4}; finally \boxed{5} and \boxed{6}."
    assert extract_answer(text) == "5, 6"
    assert extract_answer(text, box="first") == "3"
    assert extract_answer(r"\boxed{1}, \boxed{2} so on; later \boxed{9}", box="first") == "1, 2"
    # a truncated last box: no answer for "last"; "first" already has its box
    assert extract_answer(r"\boxed{3} hmm, \boxed{\frac{1", box="first") == "3"
    assert extract_answer(r"\boxed{3} hmm, \boxed{\frac{1", box="last") is None
    assert extract_answer(r"\boxed{\frac{1} \boxed{3}", box="first") is None
    with pytest.raises(ValueError, match="box"):
        extract_answer("x", box="middle")
    with Grader(box="first") as g:
        assert g.grade(r"\boxed{3}, wait, no: \boxed{4}", "3") == ("3", True)
    with Grader() as g:
        assert g.grade(r"\boxed{3}, wait, no: \boxed{4}", "3") == ("4", False)


# --------------------------------------------------------------------------- thinking scope (issue 14)


def test_answer_part():
    assert answer_part("<think>a</think>b") == "b"
    assert answer_part("a</think>b</think>c") == "c"  # after the LAST </think>
    assert answer_part("<think>still thinking") is None
    assert answer_part("plain") == "plain"
    assert answer_part("<think>still thinking", scope="whole") == "<think>still thinking"


def test_thinking_scope_reads_the_answer_after_think():
    thought = r"<think>Maybe \boxed{3}? No.</think> The answer is \boxed{4}."
    unclosed = r"<think>Let me try \boxed{4} ... and then"
    with Grader() as g:
        assert g.grade(thought, "4") == ("4", True)
        assert g.grade(thought, "3") == ("4", False)
        assert g.grade(unclosed, "4") == (None, False)  # cut off while thinking: no answer
        assert g.grade(r"no tags \boxed{4}", "4") == ("4", True)  # models that do not think
        # R1-Distill's template opens <think> in the prompt: the response only closes it
        assert g.grade(r"Maybe \boxed{3}.</think>So \boxed{4}", "4") == ("4", True)
        assert g.grade(r"Thinking \boxed{4}.</think>I am not sure.", "4") == (None, False)
    with Grader(scope="whole") as g:
        assert g.grade(unclosed, "4") == ("4", True)
        assert g.grade(r"<think>\boxed{3}</think>I am not sure.", "3") == ("3", True)
    with pytest.raises(ValueError, match="scope"):
        Grader(scope="think")


def test_last_number_fallback_reads_only_the_answer_part():
    with Grader(answer_fallback="last_number") as g:
        assert g.grade("<think>5 + 2 = 7</think>So it is 9.", "9") == ("9", True)
        assert g.grade("<think>5 + 2 = 7</think>I give up.", "7") == (None, False)
        assert g.grade("<think>5 + 2 = 7", "7") == (None, False)
        assert g.grade("It is 7.", "7") == ("7", True)
    with Grader(answer_fallback="last_number", scope="whole") as g:
        assert g.grade("<think>5 + 2 = 7</think>I give up.", "7") == ("7", True)


# --------------------------------------------------------------------------- pathological guard


def test_pathology_guard_rules():
    for s in ["10^{10^{10^{10}}}", "9^{9^{9^{9}}}", "2^{2^{2^{2^{2^{2}}}}}", "9!!!!!!", "(10^{10})!",
              "99999!", "10^{1000000}", "{" * 40 + "1" + "}" * 40]:
        assert pathology(s), s
    for s in ["e^{x^2}", "2^{2^{4}}", "2^{2023}-1", "n!!", "(2n)!", "5!", r"\frac{1}{\frac{1}{2}}",
              "10^{10}", "x^{10}"]:
        assert pathology(s) is None, s


# --------------------------------------------------------------------------- official grader


def _no_sympy(a: str, b: str) -> bool:
    raise AssertionError(f"sympy step reached for {a!r} vs {b!r}")


@pytest.mark.parametrize("given, truth, expected", [
    (r"\frac12", r"\frac{1}{2}", True),  # Hendrycks normalisation
    ("0.5", r"\frac{1}{2}", True),
    (r"10\text{ cm}", "10", True),
    ("x=5", "5", True),
    (r"\text{(C)}", "(C)", True),
    ("18.0", "18", True),
    ("1,234", "1234", True),
    (r"\frac{2}{4}", r"\frac{1}{2}", False),  # an unreduced fraction is not the answer
    ("2.000001", "2", False),
    ("2.00000001", "2", True),  # the official rules read a float within 1e-7 of an integer as it
    ("5.5", "5", False),
    ("(1,2)", "(1, 3)", False),
    ("[1,2)", "(1,2)", False),
])
def test_official_string_rules(given, truth, expected):
    assert official_equivalent(given, truth, _no_sympy) is expected


def test_official_grader_symbolic_step():
    with Grader(grader="official") as g:
        assert g.grade(r"\boxed{\frac{\sqrt{3}}{3}}", r"\frac{1}{\sqrt{3}}")[1]
        assert g.grade(r"\boxed{[x+x, \frac12)}", r"[2x, 0.5)")[1]  # element by element
        # a tuple with brackets inside is one expression to the official rules: not equal
        assert not g.grade(r"\boxed{(1, \frac{\sqrt{3}}{3})}", r"(1, \frac{1}{\sqrt{3}})")[1]
        assert not g.grade(r"\boxed{2\pi}", r"\pi")[1]
        assert g.grade(r"\boxed{x^2+2x+1}", "(x+1)^2")[1]
        assert not g.grade(r"\boxed{x^2+2x+1}", "(x+1)^3")[1]
        assert g.grade(r"\boxed{2x+2}", "2(x+1)")[1]
        assert g.grade(r"first \boxed{5} then \boxed{6}", "6")[1]  # box choice is independent
        assert g.stats["fallbacks"] >= 4 and g.stats["timeouts"] == 0
    with pytest.raises(ValueError, match="grader"):
        Grader(grader="prm800k")


def test_official_grader_never_evaluates(tmp_path):
    marker = tmp_path / "pwned"
    payload = f"__import__('os').system('touch {marker}')"
    with Grader(grader="official") as g:
        assert not g.grade(rf"\boxed{{{payload}}}", "1")[1]
        assert not g.grade(r"\boxed{1}", payload)[1]
        assert not g.grade(rf"\boxed{{open('{marker}', 'w')}}", "o")[1]
    assert not marker.exists()


# --------------------------------------------------------------------------- workers, CLI


def test_two_workers_give_the_same_verdicts():
    pairs = [(r"\frac{\sqrt3}{3}", r"\frac{1}{\sqrt{3}}"), (r"[\frac{1}{2},1)", "[0.5, 1)"),
             (r"(\frac{1}{2},1)", "[0.5, 1)"), (r"\{2,1\}", r"\{1,2\}"), ("1-x", "-x+1"),
             (r"2\pi", r"\pi"), ("-2,1", "1,-2"), ("x=5", "5")]
    responses, golds = [rf"\boxed{{{p}}}" for p, _ in pairs], [g for _, g in pairs]
    with Grader() as one, Grader(workers=2) as two:
        a, b = one.grade_many(responses, golds), two.grade_many(responses, golds)
        assert a == b and [ok for _, ok in a] == [True, True, False, True, True, False, True, True]
        assert [w.starts for w in two._workers] == [1, 1]  # both took part
    with pytest.raises(ValueError, match="workers"):
        Grader(workers=0)


def test_cli_grade_options(tmp_path):
    import pandas as pd

    src = tmp_path / "in.jsonl"
    src.write_text('{"response": "<think>\\\\boxed{3}</think> \\\\boxed{4}, or \\\\boxed{5}", "gold": "4"}\n')
    runs = {"default": [], "first": ["--box", "first"], "whole": ["--scope", "whole", "--box", "first"],
            "official": ["--grader", "official", "--box", "first", "--workers", "2"]}
    got = {}
    for name, flags in runs.items():
        out = tmp_path / f"{name}.parquet"
        assert cli_grade(["--input", str(src), "--output", str(out)] + flags) == 0
        got[name] = pd.read_parquet(out)[["extracted", "correct"]].iloc[0].tolist()
    assert got == {"default": ["5", False], "first": ["4", True], "whole": ["3", False],
                   "official": ["4", True]}
    with pytest.raises(SystemExit):
        cli_grade(["--input", str(src), "--output", str(tmp_path / "x.parquet"), "--box", "middle"])


# --------------------------------------------------------------------------- kinds (speed without new verdicts)


@pytest.mark.parametrize("pred, gold, expected", [
    ("153", "15x - 80", False),  # a number is never an expression in a variable
    ("140", "6+9i", False),
    ("1", r"$(-\infty,-3)$", False),  # ... nor an interval, tuple or matrix
    (r"(3,4]", r"\frac65", False),
    ("18", r"\begin{pmatrix} -7 \\ 16 \end{pmatrix}", False),
    ("9", r"2\sqrt{5}", False),  # a rational is never irrational
    ("3", r"\pi", False),
    ("K", "864", False),
    (r"\text{(C)}", "C", True),  # a choice is its letter
    ("c", "(C)", True),
    (r"\text{Even}", "even", True),
    ("F", "None", False),
    (r"x \in [-2,7]", "D", False),
])
def test_kinds_decided_without_math_verify(pred, gold, expected):
    assert fast_equivalent(pred, gold) is expected


@pytest.mark.parametrize("pred, gold", [
    ("5", "x=5"),  # relations, roots of squares, +-, set braces, tuples vs vectors: math-verify
    ("2", r"\sqrt{4}"),
    ("1.5", r"\sqrt2"),
    (r"1 \pm \sqrt{2}", r"1+\sqrt2, 1-\sqrt2"),
    ("1, 2, 3", "{1,2,3}"),
    ("(1,2)", r"\begin{pmatrix}1\\2\end{pmatrix}"),
    ("2", r"$2\frac58$"),
])
def test_kinds_leave_the_unsure_to_math_verify(pred, gold):
    assert fast_equivalent(pred, gold) is None


def test_gsm8k_golds_with_units_lists_and_alternatives(grader, shared_data):
    import json

    golds = [r["ground_truth_answer"] for r in json.loads((shared_data / "gsm8k_test.json").read_text())]
    golds = [g for g in golds if g.replace(",", "").isdigit()][:150]
    assert len(golds) == 150
    right = [rf"\boxed{{{g} dollars}}" for g in golds] + [rf"\boxed{{\text{{{g} eggs}}}}" for g in golds]
    wrong = ([rf"\boxed{{{int(g.replace(',', '')) + 1} dollars}}" for g in golds]
             + [rf"\boxed{{{g} \text{{ or more}}}}" for g in golds]
             + [rf"\boxed{{{g.replace(',', '')[:-3]}, {g.replace(',', '')[-3:]}}}" for g in golds
                if len(g.replace(",", "")) > 3])  # "1450, 000": two numbers, not 1,450,000
    assert all(ok for _, ok in grader.grade_many(right, golds * 2))
    wrong_golds = golds * 2 + [g for g in golds if len(g.replace(",", "")) > 3]
    assert not any(ok for _, ok in grader.grade_many(wrong, wrong_golds))
