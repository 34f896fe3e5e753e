"""Ensembles: members equal their single runs, divergence stays with its member, files are ordinary runs."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers import small_config
from run_arrays import arrays, assert_same_arrays
from typer.testing import CliRunner

from analyzer.io.run import open_run
from trainer.engines.batched import BatchedMLP
from trainer.cli import app
from trainer.config import PRESETS
from trainer.sweep.ensemble import should_batch, train_ensemble
from trainer.errors import ConfigError, RunFileError
from trainer.engines.fused import FusedMLP
from trainer.engines.loop import initial_model, resume, train, training_set
from trainer.targets import make_data


def member_configs(preset: str, seeds=(0, 1, 2), lrs=None, **changes):
    """A preset at its real width and depth on a small grid; one config per seed (and lr)."""
    config = PRESETS[preset]
    changes = {"target": dataclasses.replace(config.target, n_train=160), "epochs": 120} | changes
    base = dataclasses.replace(config, **changes)
    lrs = lrs or [base.lr] * len(seeds)
    return [dataclasses.replace(base, seed=seed, lr=lr) for seed, lr in zip(seeds, lrs)]


def assert_members_equal_single_runs(tmp_path, configs, paths) -> None:
    """Measured tolerance on CPU: zero. Every array of every member's file equals its single run's."""
    for config, path in zip(configs, paths):
        single = tmp_path / f"single-{path.name}"
        train(config, single, engine="torch")
        assert_same_arrays(arrays(path), arrays(single))


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("preset", ["baseline", "wide", "deep", "sgd"])
def test_batched_members_equal_their_single_runs(tmp_path, preset, dtype):
    configs = member_configs(preset, dtype=dtype)
    paths = [tmp_path / f"m{c.seed}.h5" for c in configs]
    results = train_ensemble(configs, paths, batch=True)
    assert [r.status for r in results] == ["complete"] * 3 and {r.steps for r in results} == {120}
    assert_members_equal_single_runs(tmp_path, configs, paths)
    assert not np.array_equal(arrays(paths[0])["loss"], arrays(paths[1])["loss"])  # the seeds differ


@pytest.mark.parametrize("preset", ["baseline", "sgd"])
def test_members_with_their_own_learning_rates(tmp_path, preset):
    configs = member_configs(preset, lrs=[0.01, 0.003, 0.02], dtype="float64", epochs=80)
    paths = [tmp_path / f"m{c.seed}.h5" for c in configs]
    train_ensemble(configs, paths, batch=True)
    assert_members_equal_single_runs(tmp_path, configs, paths)
    assert arrays(paths[2])["lr"][0] == 0.02


def test_separate_eval_grid_and_sparse_logging(tmp_path):
    target = dataclasses.replace(PRESETS["baseline"].target, n_train=100, n_eval=64)
    configs = member_configs("baseline", seeds=(4, 5), target=target, epochs=45, pred_every=6, ckpt_every=7)
    paths = [tmp_path / f"m{c.seed}.h5" for c in configs]
    train_ensemble(configs, paths, batch=True)
    assert_members_equal_single_runs(tmp_path, configs, paths)
    assert arrays(paths[0])["pred"].shape == (len(range(0, 45, 6)) + 1, 64, 1)


@pytest.mark.parametrize("preset, huge_lr", [("sgd", 50.0), ("baseline", 1e6)])
def test_a_diverging_member_is_marked_and_leaves_the_others_alone(tmp_path, preset, huge_lr):
    configs = member_configs(preset, lrs=[0.01, huge_lr, 0.01], epochs=200)
    paths = [tmp_path / f"m{c.seed}.h5" for c in configs]
    results = train_ensemble(configs, paths, batch=True)
    assert [r.status for r in results] == ["complete", "diverged", "complete"]
    assert results[1].steps < 199
    with open_run(paths[1]) as run:
        assert run.status == "diverged"
        assert not np.isfinite(run.loss[-1]) and np.isfinite(run.loss[:-1]).all()
    single = train(configs[1], tmp_path / "single-diverged.h5")
    assert single.status == "diverged" and single.steps == results[1].steps
    assert_members_equal_single_runs(tmp_path, configs, paths)  # the diverged one too, row for row
    with pytest.raises(RunFileError, match="diverged"):
        resume(paths[1])


def test_members_are_ordinary_run_files_that_resume_alone(tmp_path):
    configs = member_configs("baseline", seeds=(0, 1), epochs=150)
    paths = [tmp_path / f"m{c.seed}.h5" for c in configs]

    def interrupt(run_steps, loss):
        if run_steps == 2 * 61:
            raise KeyboardInterrupt

    results = train_ensemble(configs, paths, batch=True, progress=interrupt, commit_every_s=0.0)
    assert [r.status for r in results] == ["interrupted"] * 2
    for path in paths:
        with open_run(path) as run:
            assert run.status == "interrupted" and 50 <= run.n_steps <= 61
        assert resume(path).status == "complete"
    assert_members_equal_single_runs(tmp_path, configs, paths)


def test_ctrl_c_stops_an_unbatched_ensemble(tmp_path):
    configs = member_configs("baseline", seeds=(0, 1, 2), epochs=50)
    paths = [tmp_path / f"m{c.seed}.h5" for c in configs]

    def interrupt(run_steps, loss):
        if run_steps == 50 + 20:
            raise KeyboardInterrupt

    results = train_ensemble(configs, paths, batch=False, progress=interrupt)
    assert [r.status for r in results] == ["complete", "interrupted"]
    assert not paths[2].exists()


@pytest.mark.parametrize("preset", ["baseline", "deep", "sgd"])
def test_all_batched_matmuls_as_on_a_gpu_agree_to_rounding_in_float64(preset):
    """The GPU's path (every layer in bmm, exact=False) run on CPU: members equal their single runs to
    1e-9 relative over 100 steps in float64 (measured: <= 1e-13; Adam amplifies the rounding later)."""
    configs = member_configs(preset, seeds=(0, 1), dtype="float64", epochs=100)
    x, y = training_set(configs[0], make_data(configs[0].target))
    batched = BatchedMLP(configs, [initial_model(c) for c in configs], x, y)
    batched.exact = False
    singles = [FusedMLP(c, initial_model(c), x, y) for c in configs]
    for _ in range(100):
        losses, _, _ = batched.evaluate()
        batched.update()
        for row, single in enumerate(singles):
            loss, _, _ = single.evaluate()
            single.update()
            assert losses[row] == pytest.approx(loss, rel=1e-9, abs=0)
    for row, single in enumerate(singles):
        np.testing.assert_allclose(batched.flat_params()[row].numpy(), single.flat_params().numpy(), rtol=0,
                                   atol=1e-9 * float(single.flat_params().abs().max()))


def test_automatic_choice_batches_on_a_gpu_only():
    cpu = member_configs("baseline")
    gpu = [dataclasses.replace(c, device="cuda") for c in cpu]
    assert not should_batch(cpu)
    assert should_batch(gpu)
    assert not should_batch(gpu[:1])
    tanh = [dataclasses.replace(c, model=dataclasses.replace(c.model, activation="tanh")) for c in gpu]
    assert not should_batch(tanh)


def test_unbatched_ensemble_is_single_run_training_and_covers_every_model(tmp_path):
    configs = member_configs("diag-linear", seeds=(0, 1), epochs=40)
    paths = [tmp_path / f"m{c.seed}.h5" for c in configs]
    steps = []
    results = train_ensemble(configs, paths, progress=lambda n, loss: steps.append(n))
    assert [r.status for r in results] == ["complete"] * 2 and steps[-1] == 80
    assert_members_equal_single_runs(tmp_path, configs, paths)
    with pytest.raises(ConfigError, match="batched step does not cover"):
        train_ensemble(configs, [tmp_path / "a.h5", tmp_path / "b.h5"], batch=True)


def test_bad_ensembles_are_refused_before_anything_is_written(tmp_path):
    configs = member_configs("baseline")
    other_width = [configs[0], dataclasses.replace(configs[1], model=dataclasses.replace(configs[1].model, width=9))]
    with pytest.raises(ConfigError, match="differs in model"):
        train_ensemble(other_width, [tmp_path / "a.h5", tmp_path / "b.h5"], batch=True)
    with pytest.raises(ConfigError, match="same run file"):
        train_ensemble(configs[:2], [tmp_path / "a.h5", tmp_path / "a.h5"], batch=True)
    with pytest.raises(ConfigError, match="2 configs but 1"):
        train_ensemble(configs[:2], [tmp_path / "a.h5"])
    (tmp_path / "b.h5").write_bytes(b"precious")
    with pytest.raises(RunFileError, match="already exists"):
        train_ensemble(configs[:2], [tmp_path / "a.h5", tmp_path / "b.h5"], batch=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["b.h5"] and (tmp_path / "b.h5").read_bytes() == b"precious"


def test_cli_ensemble(tmp_path):
    runner = CliRunner()
    args = ["ensemble", "--preset", "sgd", "--seeds", "0-1,5", "--epochs", "15", "--n-train", "64",
            "--out-dir", str(tmp_path)]
    result = runner.invoke(app, [*args, "--batch"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["sgd-s0.h5", "sgd-s1.h5", "sgd-s5.h5"]
    with open_run(tmp_path / "sgd-s5.h5") as run:
        assert run.status == "complete" and run.n_steps == 15
    result = runner.invoke(app, args)
    assert result.exit_code == 2 and "already exists" in result.output and "Traceback" not in result.output
    result = runner.invoke(app, ["ensemble", "--seeds", "3-x", "--out-dir", str(tmp_path)])
    assert result.exit_code == 2 and "--seeds" in result.output
