"""Helpers of the crash-safety tests: run the trainer in a child process, kill it, check what it left."""

from __future__ import annotations

import multiprocessing
import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
from helpers import small_config
from run_arrays import arrays, assert_same_arrays

from analyzer.io.run import open_run
from trainer.runfile import schema as runfile
from trainer.config import TrainConfig
from trainer.runfile.faults import CRASH_ENV, STALL_ENV
from trainer.engines.loop import resume, train
from trainer.runfile.lock import check_unlocked
from trainer.runfile.writer import TEMP_SUFFIXES

CHILD = """
import sys
from trainer.config import TrainConfig
from trainer.engines.loop import train, resume
config = TrainConfig.from_json(sys.argv[2])
if sys.argv[1] == "train":
    train(config, sys.argv[3], commit_every_s=0.0)
else:
    resume(sys.argv[3], commit_every_s=0.0)
"""
# Children forked from a server that has imported torch but never run an op (so no thread pool is
# forked): ~3 s of interpreter and torch start-up saved per child, which the named-point tests need.
FORKSERVER = multiprocessing.get_context("forkserver")
FORKSERVER.set_forkserver_preload(["trainer.engines.loop", "torch._dynamo", "crash_helpers"])


def start(mode: str, config, path: Path, stall_at: str | None = None) -> subprocess.Popen:
    """`train` or `resume` in a fresh interpreter that commits at every checkpoint (start-up included); with
    `stall_at` (POINT[@N]) it stops there until killed (trainer/runfile/faults.py)."""
    env = {k: v for k, v in os.environ.items() if k not in (CRASH_ENV, STALL_ENV)}
    if stall_at is not None:
        env[STALL_ENV] = stall_at
    return subprocess.Popen([sys.executable, "-c", CHILD, mode, config.to_json(), str(path)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def train_or_resume(mode: str, config_json: str, path: str, crash_at: str | None) -> None:
    """A child's work: `train` or `resume` committing at every checkpoint, killed at `crash_at`."""
    os.environ.pop(CRASH_ENV, None)
    if crash_at is not None:
        os.environ[CRASH_ENV] = crash_at
    if mode == "train":
        train(TrainConfig.from_json(config_json), path, commit_every_s=0.0)
    else:
        resume(path, commit_every_s=0.0)


def run_killed(target, *args) -> None:
    """Run `target(*args)` in a forked child that must die of SIGKILL (so its crash point was reached)."""
    child = FORKSERVER.Process(target=target, args=args)
    child.start()
    child.join(timeout=300)
    assert child.exitcode == -9, f"child {target.__name__}{args[:1]} was not killed (exit {child.exitcode})"


def kill_at(mode: str, config, path: Path, crash_at: str) -> None:
    """`train` or `resume` killed by the named crash point."""
    run_killed(train_or_resume, mode, config.to_json(), str(path), crash_at)


def check_only_complete_rows(path: Path, config) -> int:
    """After a kill: the file opens, its rows are whole, the resume slot names a stored checkpoint.

    Returns the committed steps.
    """
    with open_run(path) as run:
        n = run.n_steps
        np.testing.assert_array_equal(run.steps, np.arange(n))
        assert np.isfinite(run.loss).all() and np.isfinite(run.pred).all()
        assert run.pred.shape[0] == len(run.pred_steps)
        np.testing.assert_array_equal(run.pred_steps, np.arange(len(run.pred_steps)) * config.pred_every)
        np.testing.assert_array_equal(run.ckpt_steps, np.arange(len(run.ckpt_steps)) * config.ckpt_every)
        assert len(run.pred_steps) <= n // config.pred_every + 1 and len(run.ckpt_steps) <= n // config.ckpt_every + 1
    with h5py.File(path, "r", swmr=True) as f:
        slot = int(f["commit"][3])
        if slot != runfile.NO_SLOT:
            assert int(f["resume/step"][slot]) in f["ckpt/step"][: int(f["commit"][2])]
    return n


def committed_counts(path: Path) -> dict[str, int] | None:
    """The committed row counts of a run file being written by another process (None: not there or unreadable
    right now, e.g. being replaced)."""
    try:
        with h5py.File(path, "r", swmr=True) as f:
            return runfile.committed(f)
    except (OSError, KeyError):
        return None


def status_of(path: Path) -> str | None:
    """The run file's status attribute; None when there is no run file."""
    if not path.exists():
        return None
    with h5py.File(path, "r", swmr=True) as f:
        return str(f.attrs["status"])


def finish(path: Path, config) -> None:
    """What a user does after a kill: resume, or train again if the run file was never put in place."""
    if not path.exists():
        train(config, path)
        return
    with h5py.File(path, "r", swmr=True) as f:
        status = str(f.attrs["status"])
    if status != "complete":
        assert resume(path).status == "complete"


def assert_same_run(path: Path, reference: Path) -> None:
    """Bitwise equal in every dataset but the optimizer snapshots; no temporaries left, the lock free.

    A lock file may remain when the writer was killed after its last step (nothing ran after it to
    remove it); it is free, so it blocks no one.
    """
    assert runfile.differences(path, reference) == []
    with h5py.File(path, "r") as f:  # a plain open: the finished file was closed cleanly
        assert f.attrs["status"] == "complete"
    assert not [s for s in TEMP_SUFFIXES if path.with_name(path.name + s).exists()]
    check_unlocked(path)


CONFIG = small_config(epochs=200, ckpt_every=10)


def assert_interrupted_run_resumes_bit_for_bit(config, tmp_path, first: str, then: str, stop_at: int) -> None:
    """Trained on `first` until step `stop_at`, resumed on `then`: the same file as one uninterrupted torch run."""
    path = tmp_path / "interrupted.h5"

    def interrupt(step, loss):
        if step == stop_at:
            raise KeyboardInterrupt

    assert train(config, path, progress=interrupt, engine=first, commit_every_s=0.0).status == "interrupted"
    assert resume(path, engine=then).status == "complete"
    train(config, tmp_path / "reference.h5", engine="torch")
    assert_same_arrays(arrays(path), arrays(tmp_path / "reference.h5"))
