"""`o1pruner toy-check`'s table: one column per seed, each row against its target."""

from __future__ import annotations

from o1pruner.toy.check import render


def row(seed, easy=100.0, medium=99.0, presample=90.0, hard_gap=20.0, build_s=250.0):
    return {"seed": seed, "build_s": build_s, "final_loss": 0.036, "loss_drop_last_tenth_pct": 3.0,
            "presample_acc": presample, "greedy_medium": medium, "greedy_easy": easy, "greedy_hard": 70.0,
            "easy_more_minus_fewer": 0.0, "easy_more_minus_fewer_ci": [-1.0, 1.0],
            "hard_more_minus_fewer": hard_gap, "hard_more_minus_fewer_ci": [hard_gap - 8, hard_gap + 8],
            "hard_with_correction_pct": 25.0, "hard_acc_with_correction": 95.0}


def lines_of(text):
    return {line.split("|")[1].strip(): line for line in text.splitlines() if line.startswith("| ")}


def test_every_row_met_says_yes_and_intervals_are_printed():
    text = render([row(0), row(1), row(2, presample=94.0)], "Test CPU")
    assert text.startswith("CPU: Test CPU")
    rows = lines_of(text)
    assert rows["measure"].count("seed ") == 3
    for key in ("greedy_easy", "greedy_medium", "hard_more_minus_fewer", "build_s", "presample_acc"):
        assert rows[key].rstrip(" |").endswith("yes"), rows[key]
    assert "+20.0 [+12.0, +28.0]" in rows["hard_more_minus_fewer"]
    assert rows["greedy_hard"].endswith("|  |  |")  # no target: reported only


def test_one_seed_short_of_a_target_fails_that_row_only():
    text = render([row(0), row(1, medium=44.7, hard_gap=0.3), row(2, presample=49.6)], "Test CPU")
    rows = lines_of(text)
    assert "**no**" in rows["greedy_medium"] and "**no**" in rows["hard_more_minus_fewer"]
    assert "**no** (40.4)" in rows["presample_acc"]          # spread of 90.0 and 49.6
    assert rows["greedy_easy"].rstrip(" |").endswith("yes")
