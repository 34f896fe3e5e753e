"""`train` through typer's CliRunner: exit codes, one-line errors, nothing overwritten."""

from __future__ import annotations

import os
import signal
import time

import h5py
import pytest
from crash_helpers import check_only_complete_rows, kill_at, start
from helpers import small_config
from typer.testing import CliRunner

from cli_helpers import assert_one_line_error, invoke

from trainer.cli import app
from trainer.runfile.lock import lock_path

runner = CliRunner()
FAST = ["--epochs", "20", "--n-train", "64", "--width", "8"]






def test_help_lists_commands():
    result = invoke("--help")
    assert result.exit_code == 0
    for command in ("run", "resume", "presets"):
        assert command in result.output


def test_presets_lists_the_seed_study():
    result = invoke("presets")
    assert result.exit_code == 0
    for name in ("baseline", "wide", "deep", "sgd", "diag-linear"):
        assert name in result.output


def test_run_writes_a_run_file(tmp_path):
    out = tmp_path / "r.h5"
    result = invoke("run", "--preset", "deep", *FAST, "--seed", "3", "--activation", "tanh", "--freqs", "1,2",
                    "--amps", "0.5,0.25", "--dtype", "float64", "--ckpt-every", "5", "--pred-every", "2", "--out",
                    str(out))
    assert result.exit_code == 0, result.output
    with h5py.File(out, "r") as f:
        assert f.attrs["status"] == "complete"
        assert f["ckpt/step"][:].tolist() == [0, 5, 10, 15, 20]
        assert f["log/pred"].shape == (11, 64, 1)


def test_diag_linear_options(tmp_path):
    out = tmp_path / "d.h5"
    result = invoke("run", "--preset", "diag-linear", "--epochs", "30", "--features", "4", "--feature-decay", "1",
                    "--init-scale", "0.01", "--out", str(out))
    assert result.exit_code == 0, result.output
    with h5py.File(out, "r") as f:
        assert f["model"].attrs["n_params"] == 16


def test_default_study_trains_the_four_presets(tmp_path):
    result = invoke("--out-dir", str(tmp_path), "--epochs", "3")
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == ["baseline-s0.h5", "deep-s0.h5", "sgd-s0.h5", "wide-s0.h5"]
    again = invoke("--out-dir", str(tmp_path), "--epochs", "3")
    assert_one_line_error(again, "already exists")
    kept = invoke("--out-dir", str(tmp_path), "--epochs", "3", "--skip-existing")
    assert kept.exit_code == 0 and "kept" in kept.output


@pytest.mark.parametrize(
    "args, fragment",
    [
        (["run", "--preset", "nope"], "unknown preset"),
        (["run", "--activation", "swish"], "unknown activation"),
        (["run", "--epochs", "0"], "epochs must be positive"),
        (["run", "--lr", "-0.1"], "lr must be positive"),
        (["run", "--width", "0"], "width must be positive"),
        (["run", "--depth", "-1"], "depth must be positive"),
        (["run", "--n-train", "0"], "n-train must be positive"),
        (["run", "--freqs", "1,3,5"], "frequencies given"),
        (["run", "--freqs", "1,500", "--amps", "1,1"], "Nyquist"),
        (["run", "--freqs", "1,3", "--amps", "1"], "one amplitude per frequency"),
        (["run", "--freqs", "a,b"], "comma-separated numbers"),
        (["run", "--optimizer", "lbfgs"], "unknown optimizer"),
        (["run", "--dtype", "float16"], "unknown dtype"),
    ],
)
def test_bad_run_options(tmp_path, args, fragment):
    out = tmp_path / "never.h5"
    assert_one_line_error(invoke(*args, "--out", str(out)), fragment)
    assert not out.exists()


def test_existing_output_is_refused_and_kept(tmp_path):
    out = tmp_path / "mine.h5"
    out.write_bytes(b"user data")
    assert_one_line_error(invoke("run", *FAST, "--out", str(out)), "already exists")
    assert out.read_bytes() == b"user data"
    assert invoke("run", *FAST, "--out", str(out), "--overwrite").exit_code == 0


def test_unwritable_output_directory(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    assert_one_line_error(invoke("run", *FAST, "--out", str(blocker / "r.h5")), "not a directory")
    assert_one_line_error(invoke("run", *FAST, "--out", "/proc/r.h5"), "not writable")


def test_resume_bad_inputs(tmp_path, small_run):
    text = tmp_path / "notes.h5"
    text.write_text("hello")
    assert_one_line_error(invoke("resume", str(text)), "not an HDF5 file")
    assert_one_line_error(invoke("resume", str(small_run)), "already complete")
    other = tmp_path / "v9.h5"
    other.write_bytes(small_run.read_bytes())
    with h5py.File(other, "r+") as f:
        f.attrs["schema_version"] = 9
    assert_one_line_error(invoke("resume", str(other)), "schema version 9")
    assert_one_line_error(invoke("resume", str(tmp_path / "missing.h5")), "no such file")


def test_resume_an_interrupted_run(tmp_path, small_run):
    path = tmp_path / "int.h5"
    path.write_bytes(small_run.read_bytes())
    with h5py.File(path, "r+") as f:
        f.attrs["status"] = "interrupted"
        f["commit"][:] = [100, 101, 11, int(f["commit"][3])]
        f["resume/step"][int(f["commit"][3])] = 100
    result = invoke("resume", str(path))
    assert result.exit_code == 0, result.output
    with h5py.File(path, "r") as f:
        assert f.attrs["status"] == "complete" and f["log/loss"].shape == (300,)


def test_run_help_has_no_stray_spaces():
    result = runner.invoke(app, ["run", "--help"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    assert "Evaluation grid points." in result.output and "Run file." in result.output
    assert " ." not in result.output


def test_a_live_writer_refuses_second_resume_and_overwrite_and_kill_9_frees_it(tmp_path):
    """The lock: while `train resume` runs, a second resume or `train run --overwrite` onto the same file
    exits 2 with one line naming the file and the writer's pid; after kill -9 of the writer, resume works."""
    config = small_config(epochs=800, ckpt_every=10)
    path = tmp_path / "run.h5"
    kill_at("train", config, path, "commit.marker@3")
    holder = start("resume", config, path)
    deadline = time.monotonic() + 60
    while holder.poll() is None and time.monotonic() < deadline:
        if lock_path(path).exists() and lock_path(path).read_text().strip() == str(holder.pid):
            break
        time.sleep(0.01)
    assert holder.poll() is None, "the resuming writer ended before the test could race it"
    for args in (["resume", str(path)], ["run", *FAST, "--out", str(path), "--overwrite"]):
        assert_one_line_error(invoke(*args), f"{path} is being written by process {holder.pid}")
    assert_one_line_error(invoke("run", *FAST, "--out", str(path)), "already exists")
    os.kill(holder.pid, signal.SIGKILL)
    holder.wait()
    check_only_complete_rows(path, config)
    result = invoke("resume", str(path))
    assert result.exit_code == 0, result.output
    with h5py.File(path, "r") as f:
        assert f.attrs["status"] == "complete" and f["log/loss"].shape == (800,)
