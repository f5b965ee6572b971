"""The toy anatomy parser on hand-written responses, and the pruning anatomy table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from o1pruner.toy.anatomy import add_anatomy, anatomy, pruning_anatomy
from o1pruner.toy.model import (
    ToyConfig,
    chain_problems,
    long_thought_solution,
    slip_table,
)

PROBLEM = "Start with 8. Then a) +1, b) -5, c) *2. What is the final number?"


def kinds(a):
    return [s.kind for s in a.segments]


def test_redundant_checks_of_correct_work():
    r = ("Let me solve this step by step.\na) 8 +1 = 9\nb) 9 -5 = 4\nc) 4 *2 = 8\nThe result is 8.\n"
         "Wait, let me verify step c) 4 *2 = 8. Correct.\n"
         "Wait, let me double-check step b) 9 -5 = 4. Correct.\nSo the answer is \\boxed{8}.")
    a = anatomy(r, PROBLEM)
    assert kinds(a) == ["other", "work", "work", "work", "result", "check", "check", "other"]
    assert (a.n_checks, a.n_corrections, a.n_errors, a.n_uncaught) == (2, 0, 0, 0)


def test_a_check_of_a_slip_is_a_correction_and_one_of_a_right_step_is_redundant():
    r = ("Let me solve this step by step.\na) +1: 8 +1 = 9\nWait, let me verify step a).\na) +1: 8 +1 gives 9\n"
         "b) -5: 9 -5 = 3\nWait, let me check again step b).\nb) -5: 9 -5 gives 4\nc) *2: 4 *2 = 8\n"
         "The result is 8.\nSo the answer is \\boxed{8}.")
    a = anatomy(r, PROBLEM)
    assert kinds(a) == ["other", "work", "check", "work", "work", "correction", "work", "work", "result", "other"]
    slip = a.segments[4]
    assert slip.error and slip.caught and not slip.repair
    assert a.segments[3].repair and a.segments[6].repair and not a.segments[7].repair
    assert (a.n_checks, a.n_corrections, a.n_errors, a.n_uncaught) == (2, 1, 1, 0)


def test_a_check_that_misses_the_slip_or_errs_itself_catches_nothing():
    # the slip at b) carries on correctly; a check of c) only redoes c)
    r = "a) +1: 8 +1 = 9\nb) -5: 9 -5 = 3\nc) *2: 3 *2 = 6\nWait, let me verify step c).\nc) *2: 3 *2 gives 6"
    assert (lambda a: (a.n_checks, a.n_corrections, a.n_errors, a.n_uncaught))(anatomy(r, PROBLEM)) == (1, 0, 1, 1)
    r = "a) +1: 8 +1 = 9\nb) -5: 9 -5 = 3\nWait, let me verify step b).\nb) -5: 9 -5 gives 2"
    a = anatomy(r, PROBLEM)
    assert kinds(a)[2] == "check" and (a.n_corrections, a.n_errors, a.n_uncaught) == (0, 2, 2)
    # an operation misread (another step's, or none of the prompt's) and redone as read: both
    # lines are errors and nothing is repaired
    r = "a) +1: 8 +1 = 9\nb) -4: 9 -4 = 5\nWait, let me verify step b).\nb) -4: 9 -4 gives 5"
    assert (lambda a: (a.n_checks, a.n_corrections, a.n_errors))(anatomy(r, PROBLEM)) == (1, 0, 2)


def test_uncaught_errors_false_alarms_and_wrong_carries():
    r = ("a) 8 +1 = 9\nb) 9 -5 = 4\nc) 5 *2 = 10\nThe result is 10.\n"   # c) copies a wrong input
         "Wait, let me verify step a) 8 +1 = 9. Wrong.\na) 8 +1 = 7\nThe result is 7.")
    a = anatomy(r, PROBLEM)
    assert kinds(a)[4] == "false_alarm" and a.segments[5].repair
    # the wrong carry at c) and the bad repair of a) are errors; nothing caught them
    assert (a.n_checks, a.n_corrections, a.n_errors, a.n_uncaught) == (1, 0, 2, 2)


def test_a_reflective_line_whose_quoted_operation_disagrees_is_an_error():
    assert anatomy("a) +1: 8 +1 = 9\nb) -5: 9 -5 = 4", PROBLEM).n_errors == 0
    assert anatomy("a) +1: 8 +1 = 9\nb) -4: 9 -5 = 4", PROBLEM).n_errors == 1


def test_a_missed_error_is_a_check_not_a_correction():
    r = "a) 8 +1 = 9\nb) 9 -5 = 3\nc) 3 *2 = 6\nThe result is 6.\nWait, let me verify step b) 9 -5 = 3. Correct."
    a = anatomy(r, PROBLEM)
    assert (a.n_checks, a.n_corrections, a.n_errors, a.n_uncaught) == (1, 0, 1, 1)


def test_garbage_and_foreign_problems_count_nothing():
    for response, problem in [("a) a) = = 9 Wait, let me", PROBLEM), ("", PROBLEM),
                              ("a) 8 +1 = 9\nWait, let me verify step a) 8 +1 = 9. Correct.", "What is 2+2?"),
                              ("z) 1 +1 = 2\nk) 1 +1 = 2", PROBLEM)]:
        a = anatomy(response, problem)
        assert (a.n_checks, a.n_corrections) == (0, 0)
    # a step past the problem's last is an error, not a crash
    assert anatomy("k) 1 +1 = 2", PROBLEM).n_errors == 1


def test_generated_reflective_traces_parse_as_written():
    rng = np.random.default_rng(0)
    cfg = ToyConfig(reflective=True)
    n_corr = 0
    for p in chain_problems(300, [4, 6, 8], seed=3):
        sol = long_thought_solution(p, rng, cfg.stop_schedule, False, slip_table(cfg))
        a = anatomy(sol, p.text)
        assert a.n_checks == sol.count("Wait, let me")
        assert a.count("false_alarm") == 0 and a.n_errors <= sol.count(" = ")  # errors: hasty lines only
        # a careful redo never errs, so a trace whose slips were all caught ends right (two
        # uncaught slips can still cancel out)
        assert a.n_uncaught > 0 or sol.endswith(f"{{{p.answer}}}.")
        n_corr += a.n_corrections
    assert n_corr > 10


def test_add_anatomy_columns_and_pruning_table():
    good = ("a) +1: 8 +1 = 9\nWait, let me verify step a).\na) +1: 8 +1 gives 9\nb) -5: 9 -5 = 3\n"
            "Wait, let me verify step b).\nb) -5: 9 -5 gives 4\nc) *2: 4 *2 = 8\n"
            "Wait, let me verify step c).\nc) *2: 4 *2 gives 8\nThe result is 8.")
    short = "a) 8 +1 = 9\nb) 9 -5 = 4\nc) 4 *2 = 8\nThe result is 8."
    base = add_anatomy(pd.DataFrame({"problem": [PROBLEM] * 2, "response": [good, short],
                                     "correct": [True, True]}))
    assert base[["n_checks", "n_corrections", "n_errors"]].values.tolist() == [[3, 1, 1], [0, 0, 0]]
    pruned = pd.DataFrame({"problem": [PROBLEM] * 2, "response": [short, short], "correct": [True, True]})
    t = pruning_anatomy({("toy", "baseline", "toy_easy"): base, ("toy", "sft", "toy_easy"): pruned})
    sft = t[t["method"] == "sft"].iloc[0]
    assert sft["redundant_removed_pct"] == 100.0 and sft["corrections_kept_pct"] == 0.0
    b = t[t["method"] == "baseline"].iloc[0]
    assert b["n_checks"] == 1.5 and b["redundant_removed_pct"] == 0.0
    # no baseline corrections: the share kept is undefined, not a division error
    t = pruning_anatomy({("toy", "baseline", "s"): pruned, ("toy", "sft", "s"): pruned})
    assert t["corrections_kept_pct"].isna().all()


def test_workflow_annotates_toy_models_only(tmp_path):
    from tests.conftest import job_counts, snakemake

    res = snakemake("-n", "-p", "--cores", "2", "--config", f"results={tmp_path}/r")
    assert res.returncode == 0, res.stderr[-3000:]
    assert job_counts(res.stdout)["pruning_anatomy"] == 1
    out = res.stdout + res.stderr
    grades = [ln for ln in out.splitlines() if "o1pruner grade " in ln]
    evals = [ln for ln in out.splitlines() if "o1pruner evaluate " in ln]
    assert grades and evals and all("--annotate o1pruner.toy.anatomy:add_anatomy" in ln for ln in grades + evals)
    anatomy_cmd = out.split("rule pruning_anatomy:")[1].split("\n\n")[0]
    assert "eval/baseline/toy_hard.parquet" in anatomy_cmd and "eval/sft/toy_easy.parquet" in anatomy_cmd
    assert job_counts(res.stdout)["toy_reflection"] == 1
    reflection_cmd = out.split("rule toy_reflection:")[1].split("\n\n")[0]
    assert "--group toy_easy=2,3" in reflection_cmd and "--group toy_hard=6,7,8" in reflection_cmd

    res = snakemake("-n", "-p", "--cores", "2", "--configfile", "config/paper.yaml", "--config",
                    f"results={tmp_path}/p")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "pruning_anatomy" not in job_counts(res.stdout) and "toy_reflection" not in job_counts(res.stdout)
    assert "--annotate" not in res.stdout + res.stderr


def test_reflection_table_has_one_row_per_group_with_intervals():
    from o1pruner.toy.anatomy import reflection_table, reflection_value

    rows = []
    for pid, level in enumerate([2, 2, 7, 7]):
        for j, (checks, corr, ok) in enumerate([(1, 0, False), (2, 0, True), (3, 1, True), (2, 0, True)]):
            rows.append({"problem_id": pid, "level": level, "n_checks": checks, "n_corrections": corr,
                         "n_errors": 1 - int(ok), "correct": ok})
    value = reflection_value(pd.DataFrame(rows), {"easy": [2], "hard": [7]}, samples=50)
    t = reflection_table(value)
    assert t["group"].tolist() == ["all", "easy", "hard"] and t["samples"].tolist() == [16, 8, 8]
    assert t.loc[0, "acc %"].startswith("75.0 [") and t.loc[2, "with a correction %"].startswith("25.0 [")
    # one sample above its problem's median of 2 checks (right), one below (wrong): +100 points
    assert t.loc[1, "more - fewer checks, within problem (pts)"].startswith("100.0 [")


def test_more_minus_fewer_is_paired_within_problems_not_pooled():
    from o1pruner.toy.anatomy import reflection_value

    # problem 0 always wrong, one sample below its median; problem 1 always right, one above:
    # pooled, "more checks" would look 100 points better; within each problem nothing differs
    rows = [{"problem_id": pid, "level": 2, "n_checks": k, "n_corrections": 0, "n_errors": 0, "correct": ok}
            for pid, ks, ok in [(0, [1, 2, 2, 2], False), (1, [2, 2, 2, 3], True), (2, [1, 2, 3, 3], True)]
            for k in ks]
    v = reflection_value(pd.DataFrame(rows), {}, samples=50)["all"]
    assert v["more_minus_fewer"][0] == 0.0 and v["paired_problems"] == 1
    assert v["acc_more_checks"][0] == 100.0 and v["acc_fewer_checks"][0] == 66.67  # pooled: 2 of 3
