"""Training warnings and the per-run diagnostics figure."""

from __future__ import annotations

import json

from o1pruner.reporting.commands import cli_training_figure
from o1pruner.reporting.diagnostics import figure, training_warnings


def _lh_log(clip, ratio, loss=None):
    return [{"step": i + 1, "loss": (loss[i] if loss else 0.1), "learning_rate": 1e-3, "grad_norm": 1.0,
             "lh_ratio": r, "lh_clip_frac": c} for i, (c, r) in enumerate(zip(clip, ratio))]


def test_healthy_lh_run_has_no_warning():
    assert training_warnings(_lh_log([0.0, 0.1, 0.2, 0.1], [1.0, 0.9, 1.1, 1.2]), "lh") == []


def test_clip_fraction_staying_above_half():
    w = training_warnings(_lh_log([0.1, 0.2, 0.6, 0.7], [1, 1, 1, 1]), "lh")
    assert len(w) == 1 and "clip fraction stays above 0.5" in w[0]
    # a single spike does not "stay" above
    assert training_warnings(_lh_log([0.1, 0.9, 0.2, 0.3], [1, 1, 1, 1]), "lh") == []


def test_ratio_outside_range_and_nan_loss():
    w = training_warnings(_lh_log([0, 0, 0], [1.0, 2.5, 0.4], loss=[0.1, float("nan"), 0.2]), "lh")
    assert any("loss is NaN" in x and "step 2" in x for x in w)
    assert any("ratio leaves [0.5, 2] at 2 logged step(s), first at step 2 (2.5)" in x for x in w)
    # ratio and clip fraction only matter for LH
    assert training_warnings([{"step": 1, "loss": 1.0, "lh_ratio": 9}], "sft") == []


def test_figure_and_cli_read_the_log_named_by_the_summary(tmp_path, capsys):
    log = tmp_path / "logs" / "train_dpo.jsonl"
    log.parent.mkdir()
    entries = [{"step": i, "loss": 0.7 - 0.1 * i, "learning_rate": 1e-3, "grad_norm": 2.0,
                "rewards/margins": 0.1 * i, "rewards/accuracies": 0.5 + 0.1 * i} for i in range(1, 5)]
    entries.append({"step": 4, "train_loss": 0.5, "train_runtime": 1.0})
    log.write_text("".join(json.dumps(e) + "\n" for e in entries))
    model = tmp_path / "model"
    model.mkdir()
    (model / "train_summary.json").write_text(json.dumps({"method": "dpo", "log": str(log)}))
    assert cli_training_figure(["--model-dir", str(model), "--output", str(tmp_path / "f")]) == 0
    assert (tmp_path / "f.png").stat().st_size > 5000 and (tmp_path / "f.pdf").exists()
    assert "no training warnings" in capsys.readouterr().out
    bad = _lh_log([0.9, 0.9], [3.0, 3.0])
    assert len(figure(bad, "lh", tmp_path / "g", "bad run")) == 2
