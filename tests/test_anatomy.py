"""The toy anatomy parser on hand-written responses, and the pruning anatomy table."""

from __future__ import annotations

import numpy as np
import pandas as pd

from o1pruner.anatomy import add_anatomy, anatomy, pruning_anatomy
from o1pruner.toy import ToyConfig, chain_problems, long_thought_solution

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


def test_a_correction_catches_a_slip_and_its_repair_is_labelled():
    r = ("Let me solve this step by step.\na) 8 +1 = 9\nb) 9 -5 = 3\nc) 3 *2 = 6\nThe result is 6.\n"
         "Wait, let me verify step c) 3 *2 = 6. Correct.\n"
         "Wait, let me check again step b) 9 -5 = 4, not 3. Wrong.\nb) 9 -5 = 4\nc) 4 *2 = 8\n"
         "The result is 8.\nSo the answer is \\boxed{8}.")
    a = anatomy(r, PROBLEM)
    assert kinds(a)[5:10] == ["check", "correction", "work", "work", "result"]
    slip = a.segments[2]
    assert slip.error and slip.caught and not slip.repair
    assert [s.repair for s in a.segments[7:9]] == [True, True]
    # c) 3 *2 = 6 carries the slip correctly: one error, not two
    assert (a.n_checks, a.n_corrections, a.n_errors, a.n_uncaught) == (2, 1, 1, 0)


def test_uncaught_errors_false_alarms_and_wrong_carries():
    r = ("a) 8 +1 = 9\nb) 9 -5 = 4\nc) 5 *2 = 10\nThe result is 10.\n"   # c) copies a wrong input
         "Wait, let me verify step a) 8 +1 = 7, not 9. Wrong.\na) 8 +1 = 7\nThe result is 7.")
    a = anatomy(r, PROBLEM)
    assert kinds(a)[4] == "false_alarm" and a.segments[5].repair
    # the wrong carry at c) and the bad repair of a) are errors; nothing caught them
    assert (a.n_checks, a.n_corrections, a.n_errors, a.n_uncaught) == (1, 0, 2, 2)


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
        sol = long_thought_solution(p, rng, cfg.stop_schedule, False, cfg.error_rates)
        a = anatomy(sol, p.text)
        assert a.n_checks == sol.count("Wait, let me")
        assert a.n_corrections == sol.count(". Wrong.")       # the generator's re-checks never err
        assert a.count("false_alarm") == 0
        n_corr += a.n_corrections
    assert n_corr > 10


def test_add_anatomy_columns_and_pruning_table():
    good = ("a) 8 +1 = 9\nb) 9 -5 = 3\nc) 3 *2 = 6\nThe result is 6.\n"
            "Wait, let me verify step b) 9 -5 = 4, not 3. Wrong.\nb) 9 -5 = 4\nc) 4 *2 = 8\nThe result is 8.\n"
            "Wait, let me verify step a) 8 +1 = 9. Correct.\nWait, let me verify step c) 4 *2 = 8. Correct.")
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
    from tests.test_workflow import job_counts, snakemake

    res = snakemake("-n", "-p", "--cores", "2", "--config", f"results={tmp_path}/r")
    assert res.returncode == 0, res.stderr[-3000:]
    assert job_counts(res.stdout)["pruning_anatomy"] == 1
    out = res.stdout + res.stderr
    grades = [ln for ln in out.splitlines() if "o1pruner grade " in ln]
    evals = [ln for ln in out.splitlines() if "o1pruner evaluate " in ln]
    assert grades and evals and all("--toy-anatomy" in ln for ln in grades + evals)
    anatomy_cmd = out.split("rule pruning_anatomy:")[1].split("\n\n")[0]
    assert "eval/baseline/toy_hard.parquet" in anatomy_cmd and "eval/sft/toy_easy.parquet" in anatomy_cmd

    res = snakemake("-n", "-p", "--cores", "2", "--configfile", "config/paper.yaml", "--config",
                    f"results={tmp_path}/p")
    assert res.returncode == 0, res.stderr[-3000:]
    assert "pruning_anatomy" not in job_counts(res.stdout)
    assert "--toy-anatomy" not in res.stdout + res.stderr
