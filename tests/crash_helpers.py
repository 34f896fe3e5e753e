"""Helpers of the crash-safety tests: run the trainer in a child process, kill it, check what it left."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np

from analyzer.run import open_run
from trainer import runfile
from trainer.faults import CRASH_ENV
from trainer.loop import resume, train
from trainer.runlock import check_unlocked
from trainer.writer import TEMP_SUFFIXES

CHILD = """
import sys
from trainer.config import TrainConfig
from trainer.loop import train, resume
config = TrainConfig.from_json(sys.argv[2])
if sys.argv[1] == "train":
    train(config, sys.argv[3], commit_every_s=0.0)
else:
    resume(sys.argv[3], commit_every_s=0.0)
"""


def start(mode: str, config, path: Path, crash_at: str | None = None, code: str = CHILD) -> subprocess.Popen:
    """`train` or `resume` in a child process that commits at every checkpoint."""
    env = dict(os.environ)
    env.pop(CRASH_ENV, None)
    if crash_at is not None:
        env[CRASH_ENV] = crash_at
    return subprocess.Popen([sys.executable, "-c", code, mode, config.to_json(), str(path)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def run_killed(mode: str, config, path: Path, crash_at: str | None = None, code: str = CHILD) -> None:
    """Run a child that must die of SIGKILL (so the crash point was reached)."""
    proc = start(mode, config, path, crash_at, code)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == -9, f"child was not killed at {crash_at} (exit {proc.returncode}): {err.decode()[-2000:]}"


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
