"""Harmonics everywhere (issue 24): `train sweep` and `train ensemble` take --target harmonics --input-dim
--degrees, and `analyze study` pools harmonics runs per degree in a group of their own."""

from __future__ import annotations

import numpy as np
from typer.testing import CliRunner

import analyzer
from analyzer.study.collect import StudyOptions, summarize_run
from trainer.cli import app as train_app
from trainer.sweep.plan import plan_sweep

runner = CliRunner()


def test_plan_sweep_with_a_harmonics_target():
    from trainer.config import TargetSpec

    target = TargetSpec(kind="harmonics", freqs_hz=(), amps=(1.0, 1.0), degrees=(1, 3), input_dim=4)
    runs = plan_sweep(["baseline", "deep"], [0, 1], {"lr": (0.01, 0.001)}, target=target)
    assert len(runs) == 8 and all(r.file.endswith("-harmonics.h5") for r in runs)
    assert {r.file for r in runs} >= {"baseline-s0-lr0.01-harmonics.h5", "deep-s1-lr0.001-harmonics.h5"}
    assert all(r.config.target == target and r.config.model.in_dim == 4 for r in runs)
    assert plan_sweep(["baseline"], [0])[0].config.target.kind == "sines"  # no target: the preset's


def test_sweep_and_ensemble_options_are_checked():
    bad = runner.invoke(train_app, ["sweep", "--out", "x", "--target", "harmonics"])
    assert bad.exit_code == 2 and "--degrees" in bad.output
    bad = runner.invoke(train_app, ["ensemble", "--degrees", "1,2"])
    assert bad.exit_code == 2 and "--target harmonics" in bad.output


def test_an_ensemble_of_harmonics_runs_is_pooled_per_degree_by_the_study(tmp_path):
    result = runner.invoke(train_app, ["ensemble", "--preset", "baseline", "--seeds", "0-1", "--epochs", "60",
                                       "--n-train", "64", "--target", "harmonics", "--input-dim", "3",
                                       "--degrees", "1,2", "--out-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    paths = sorted(tmp_path.glob("*.h5"))
    assert [p.name for p in paths] == ["baseline-s0-harmonics.h5", "baseline-s1-harmonics.h5"]
    with analyzer.open_run(paths[0]) as run:
        assert run.target["kind"] == "harmonics" and run.target["degrees"] == [1, 2]
        assert run.data("x_train").shape == (64, 3)
    summary = summarize_run(str(paths[0]), StudyOptions(hessian=False, use_cache=False))
    assert not hasattr(summary, "reason"), getattr(summary, "reason", "")
    assert summary.preset == "baseline (harmonics)"
    np.testing.assert_array_equal(summary.extract("spectral_bias").modes, [1.0, 2.0])  # degrees: pooled per degree
    assert summary.extract("spectral_bias").mode_unit == "degree"
