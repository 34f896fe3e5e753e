"""Run file: contents and schema, determinism, divergence, interrupt and resume (kill -9: test_crash_safety.py)."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
from helpers import small_config

from run_arrays import arrays, assert_same_arrays

from analyzer.io.run import open_run
from trainer.runfile import schema as runfile
from trainer.config import TrainConfig
from trainer.errors import RunFileError
from trainer.engines.loop import resume, train
from trainer.runfile.schema import RunMeta
from trainer.runfile.writer import RunWriter






def test_run_file_holds_the_documented_layout(small_run):
    with h5py.File(small_run, "r") as f:
        assert f.attrs["format"] == "spectral-run" and f.attrs["schema_version"] == 3
        assert f.attrs["status"] == "complete"
        config = TrainConfig.from_json(f.attrs["config"])
        assert config == small_config(epochs=300)
        assert json.loads(f["data"].attrs["target"])["freqs_hz"] == [1.0, 3.0, 7.0, 15.0]
        assert f["data/x_train"].shape == (128, 1) and f["data/y_eval"].shape == (128, 1)
        assert f["log/loss"].shape == (300,) and f["log/loss"].dtype == np.float64
        assert f["log/pred"].shape == (301, 128, 1) and f["log/pred"].dtype == np.float32
        np.testing.assert_array_equal(f["log/pred_step"][:], np.arange(301))
        np.testing.assert_array_equal(f["ckpt/step"][:], np.arange(0, 301, 10))
        assert f["ckpt/params"].shape == (31, int(f["model"].attrs["n_params"]))
        np.testing.assert_array_equal(f["commit"][:3], [300, 301, 31])


def test_logged_loss_and_predictions_match_the_stored_parameters(small_run):
    """Row t of the log is the loss at the parameters before update t, as checkpoint t stores them."""
    import torch

    from trainer.models import functional_forward

    with open_run(small_run) as run:
        model, layout = run.build_model("float32")
        x, y = (torch.from_numpy(run.data(k)) for k in ("x_train", "y_train"))
        for step in (0, 150, 300):
            out = functional_forward(model, layout, torch.from_numpy(run.params_at(step)), x)
            np.testing.assert_allclose(out.detach().numpy(), run.pred[step], rtol=0, atol=1e-6)
            if step < 300:
                np.testing.assert_allclose(torch.mean((out - y) ** 2).item(), run.loss[step], rtol=1e-6)


def test_same_seed_gives_identical_arrays_and_other_seed_does_not(tmp_path):
    config = small_config(epochs=120)
    train(config, tmp_path / "a.h5")
    train(config, tmp_path / "b.h5")
    train(small_config(epochs=120, seed=1), tmp_path / "c.h5")
    assert_same_arrays(arrays(tmp_path / "a.h5"), arrays(tmp_path / "b.h5"))
    assert not np.array_equal(arrays(tmp_path / "a.h5")["loss"], arrays(tmp_path / "c.h5")["loss"])


def test_float64_sgd_and_sparse_logging(tmp_path):
    config = small_config("sgd", epochs=95, dtype="float64", ckpt_every=20, pred_every=7)
    result = train(config, tmp_path / "r.h5")
    assert result.status == "complete" and result.steps == 95
    data = arrays(tmp_path / "r.h5")
    np.testing.assert_array_equal(data["pred_steps"], [*range(0, 95, 7), 95])
    np.testing.assert_array_equal(data["ckpt_steps"], [0, 20, 40, 60, 80, 95])
    assert data["pred"].dtype == np.float64


def test_diverging_run_stops_cleanly(tmp_path):
    result = train(small_config("sgd", lr=50.0, epochs=500), tmp_path / "d.h5")
    assert result.status == "diverged" and result.steps < 499
    with open_run(tmp_path / "d.h5") as run:
        assert run.status == "diverged"
        assert not np.isfinite(run.loss[-1]) and np.isfinite(run.loss[:-1]).all()
    with pytest.raises(RunFileError, match="diverged"):
        resume(tmp_path / "d.h5")


def test_writer_refuses_to_overwrite_and_keeps_the_file(tmp_path):
    path = tmp_path / "keep.h5"
    path.write_bytes(b"precious")
    with pytest.raises(RunFileError, match="already exists"):
        train(small_config(), path)
    assert path.read_bytes() == b"precious"


def test_resume_refuses_complete_foreign_and_other_schema_files(tmp_path, small_run):
    with pytest.raises(RunFileError, match="already complete"):
        resume(small_run)
    text = tmp_path / "text.h5"
    text.write_text("not hdf5")
    with pytest.raises(RunFileError, match="not an HDF5 file"):
        resume(text)
    foreign = tmp_path / "foreign.h5"
    with h5py.File(foreign, "w") as f:
        f["x"] = 1
    with pytest.raises(RunFileError, match="not a run file"):
        resume(foreign)
    other = tmp_path / "v4.h5"
    other.write_bytes(small_run.read_bytes())
    with h5py.File(other, "r+") as f:
        f.attrs["status"] = "interrupted"
        f.attrs["schema_version"] = 4
    with pytest.raises(RunFileError, match="schema version 4"):
        resume(other)


def test_resume_refuses_a_marker_past_the_stored_rows(tmp_path, small_run):
    """The analyzer refuses such a file; resume used to clamp the marker silently and go on."""
    damaged = tmp_path / "past.h5"
    damaged.write_bytes(small_run.read_bytes())
    with h5py.File(damaged, "r+") as f:
        f.attrs["status"] = "interrupted"
        f["commit"][0] = 10**9
    before = damaged.read_bytes()
    with pytest.raises(RunFileError, match="commit marker names 1,000,000,000 log rows"):
        resume(damaged)
    assert damaged.read_bytes() == before


def test_writer_works_from_a_foreign_training_loop(tmp_path):
    """RunWriter needs no trainer config: any loop can log steps, predictions and checkpoints."""
    grid = np.linspace(0, 1, 16, endpoint=False)[:, None]
    meta = RunMeta(config={"note": "hand-written loop"}, target={"kind": "custom"}, model={"kind": "custom"},
                   layout={"names": ["w"], "shapes": [[3]]}, data={"x_train": grid, "y_train": grid,
                                                                   "x_eval": grid, "y_eval": grid},
                   n_params=3, param_dtype="float64", resume_size=0)
    writer = RunWriter.create(tmp_path / "own.h5", meta, commit_every_s=0.0)
    for step in range(25):
        if step % 10 == 0:
            writer.checkpoint(step, np.full(3, step, float), None)
        writer.log_step(step, 1.0 / (step + 1), 0.5, 0.1)
        writer.log_pred(step, grid * step)
    writer.close("complete")
    with open_run(tmp_path / "own.h5") as run:
        assert run.n_steps == 25 and run.status == "complete"
        np.testing.assert_array_equal(run.ckpt_steps, [0, 10, 20])
        np.testing.assert_array_equal(run.pred[24], grid * 24)


# ---- resume (kill -9 at every point and at random instants: tests/trainer/runfile/test_crash_safety.py) -----------------


def test_interrupted_status_and_resume(tmp_path):
    path = tmp_path / "int.h5"
    config = small_config(epochs=200)
    calls = {"n": 0}

    def interrupt(step, loss):
        calls["n"] += 1
        if step == 77:
            raise KeyboardInterrupt

    result = train(config, path, progress=interrupt)
    assert result.status == "interrupted"
    with open_run(path) as run:
        assert run.status == "interrupted" and run.n_steps >= 70
    train(config, tmp_path / "ref.h5")
    resume(path)
    assert_same_arrays(arrays(path), arrays(tmp_path / "ref.h5"))


def test_reader_trims_to_the_commit_marker(tmp_path, small_run):
    """Rows written past the marker (a kill between data and marker) are invisible to readers."""
    path = tmp_path / "grown.h5"
    path.write_bytes(small_run.read_bytes())
    with h5py.File(path, "r+") as f:
        f["commit"][:3] = [100, 101, 11]
    with open_run(path) as run:
        assert run.n_steps == 100 and len(run.pred_steps) == 101 and run.ckpt_steps[-1] == 100
    assert runfile.SCHEMA_VERSION == 3


def test_differences_names_any_changed_dataset_but_not_the_resume_state(tmp_path, small_run):
    """The bitwise comparison behind the crash tests: one flipped value anywhere is found."""
    assert runfile.differences(small_run, small_run) == []
    for name, index in (("log/pred", (5, 3, 0)), ("ckpt/params", (2, 1)), ("data/y_eval", (0, 0)),
                        ("log/grad_norm", (7,)), ("commit", (0,))):
        changed = tmp_path / f"{name.replace('/', '-')}.h5"
        changed.write_bytes(small_run.read_bytes())
        with h5py.File(changed, "r+") as f:
            f[name][index] = f[name][index] + 1
        assert runfile.differences(changed, small_run) == [f"/{name} differs"]
    ignored = tmp_path / "resume.h5"
    ignored.write_bytes(small_run.read_bytes())
    with h5py.File(ignored, "r+") as f:
        f["resume/state"][0, 0] += 1.0
        f["commit"][3] = 1 - f["commit"][3]
        f.attrs["ended"] = "another day"
    assert runfile.differences(ignored, small_run) == []
    other = tmp_path / "other-seed.h5"
    train(small_config(epochs=300, seed=1), other)
    assert "/log/loss differs" in runfile.differences(other, small_run)


def test_training_is_single_threaded_whatever_the_callers_thread_count(tmp_path):
    """Several BLAS threads split a 1,000-point step by the threads they get, so its rounding followed the
    load; training runs on one thread (as sweep workers do) and gives the caller its thread count back."""
    import dataclasses

    import torch

    from trainer.config import PRESETS

    config = dataclasses.replace(PRESETS["wide"], epochs=40)
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        train(config, tmp_path / "two.h5")
        assert torch.get_num_threads() == 2
        torch.set_num_threads(1)
        train(config, tmp_path / "one.h5")
    finally:
        torch.set_num_threads(before)
    assert_same_arrays(arrays(tmp_path / "two.h5"), arrays(tmp_path / "one.h5"))
