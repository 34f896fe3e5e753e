"""Crash safety, tested the way SQLite does: kill -9 at every named point of the write protocol and at
random instants of `train run` and `train resume`; each time the file opens with whole rows, its resume
slot names a stored checkpoint, it resumes, and the finished run equals an uninterrupted one bit for bit."""

from __future__ import annotations

import os
import shutil
import signal
import time

import numpy as np
import pytest
from crash_helpers import (assert_same_run, check_only_complete_rows, committed_counts, finish, kill_at, run_killed,
                           start, status_of)
from helpers import small_config

from crash_helpers import CONFIG

from trainer.config import TrainConfig
from trainer.runfile.faults import POINTS
from trainer.errors import RunFileError
from trainer.engines.loop import resume, train
from trainer.runfile.writer import RunWriter


# (command, crash point @ its n-th pass); with a commit at every checkpoint, commit n holds checkpoint 10(n-1)
TRAIN_POINTS = ["create.temp", "create.replaced", "checkpoint@5", "commit.rows@4", "commit.state@4", "commit.marker@4",
                "close.swmr_closed", "close.copied", "close.status_open", "close.status_written", "close.replaced"]
RESUME_POINTS = ["resume.read", "resume.temp", "commit.rows@1", "commit.state@1", "commit.marker@1",
                 "resume.committed", "resume.replaced", "commit.marker@2", "close.status_open"]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    path = tmp_path_factory.mktemp("reference") / "reference.h5"
    train(CONFIG, path)
    return path


@pytest.fixture(scope="module")
def killed_mid_run(tmp_path_factory):
    """A run killed just after its 6th commit (checkpoint 50), to be resumed."""
    path = tmp_path_factory.mktemp("killed") / "killed.h5"
    kill_at("train", CONFIG, path, "commit.marker@6")
    return path


def test_every_crash_point_is_exercised():
    named = {point.split("@")[0] for point in TRAIN_POINTS + RESUME_POINTS}
    assert named == set(POINTS)


def test_kill_after_the_first_commit_of_a_resumed_file_still_resumes(tmp_path, reference):
    """Regression (issue 11): the resumed file's first commit named a resume slot whose checkpoint was not
    copied, so a kill before the next commit left a run that could never be resumed."""
    path = tmp_path / "run.h5"

    def interrupt(step, loss):
        if step == 77:
            raise KeyboardInterrupt

    assert train(CONFIG, path, progress=interrupt, commit_every_s=0.0).status == "interrupted"
    run_killed(resume_then_die, str(path))
    assert check_only_complete_rows(path, CONFIG) == 70
    finish(path, CONFIG)
    assert_same_run(path, reference)


def resume_then_die(path: str) -> None:
    RunWriter.resume(path)
    os.kill(os.getpid(), signal.SIGKILL)


def test_kill_while_the_final_status_is_written_leaves_an_openable_file(tmp_path, reference):
    """Regression: close() reopened the run file read-write without SWMR to write the status; killed
    there, HDF5 refused every later open of the run (plain and SWMR alike)."""
    path = tmp_path / "run.h5"
    run_killed(train_dying_in_status_write, CONFIG.to_json(), str(path))
    check_only_complete_rows(path, CONFIG)
    finish(path, CONFIG)
    assert_same_run(path, reference)


def train_dying_in_status_write(config_json: str, path: str) -> None:
    close = RunWriter.close

    def close_and_die(self, status="complete"):
        time.strftime = lambda *args: os.kill(os.getpid(), signal.SIGKILL)  # called while the status is written
        close(self, status)

    RunWriter.close = close_and_die
    train(TrainConfig.from_json(config_json), path)


@pytest.mark.slow
@pytest.mark.parametrize("crash_at", TRAIN_POINTS)
def test_kill_at_each_point_of_train_run(tmp_path, reference, crash_at):
    path = tmp_path / "run.h5"
    kill_at("train", CONFIG, path, crash_at)
    if crash_at == "create.temp":  # only a stale RUN.creating, never taken for the run; the next attempt removes it
        assert path.with_name("run.h5.creating").exists() and not path.exists()
        with pytest.raises(RunFileError, match="no such file"):
            resume(path)
    else:
        check_only_complete_rows(path, CONFIG)
    finish(path, CONFIG)
    assert_same_run(path, reference)


@pytest.mark.slow
@pytest.mark.parametrize("crash_at", RESUME_POINTS)
def test_kill_at_each_point_of_train_resume(tmp_path, reference, killed_mid_run, crash_at):
    path = tmp_path / "run.h5"
    shutil.copyfile(killed_mid_run, path)
    before = check_only_complete_rows(path, CONFIG)
    kill_at("resume", CONFIG, path, crash_at)
    assert check_only_complete_rows(path, CONFIG) >= before  # never behind the resume point
    finish(path, CONFIG)
    assert_same_run(path, reference)


LONG_CONFIG = small_config(epochs=1500, ckpt_every=10)


@pytest.fixture(scope="module")
def long_reference(tmp_path_factory):
    """An uninterrupted run in a child process, and its wall time (start-up included) to scale kill instants."""
    path = tmp_path_factory.mktemp("long") / "reference.h5"
    started = time.monotonic()
    child = start("train", LONG_CONFIG, path)
    assert child.wait() == 0, child.stderr.read().decode()
    return path, time.monotonic() - started


def test_kills_at_random_instants_of_run_and_resume(tmp_path, long_reference):
    """A few kills at random instants (start-up, creation, the copy, training, closing), each followed by
    the command a user would run next; the full loop is bench/kill_loop.py.

    No outcome depends on the machine's speed: the first kill lands mid-training for certain (the child stalls
    at a random checkpoint, trainer/runfile/faults.py, and is killed once the file shows the checkpoints before
    it committed); at the random instants after it a child may finish before its kill, or die after its file is
    complete, and both are valid: a complete file ends the loop (the next `resume` would say "already
    complete"), and whatever the instant, the file holds only whole rows and finishes equal to the reference.
    """
    reference, wall_s = long_reference
    path = tmp_path / "run.h5"
    rng = np.random.default_rng(11)
    n_ckpts = LONG_CONFIG.epochs // LONG_CONFIG.ckpt_every + 1
    stall = int(rng.integers(2, n_ckpts - 1))  # the stall-th checkpoint never reaches the file
    child = start("train", LONG_CONFIG, path, stall_at=f"checkpoint@{stall}")
    wait_until(lambda: (committed_counts(path) or {}).get("ckpt") == stall - 1, child)
    child.kill()
    assert child.wait() == -signal.SIGKILL
    # the last committed checkpoint (step ckpt_every (stall - 2)) went with the losses of the steps before it
    assert check_only_complete_rows(path, LONG_CONFIG) == (stall - 2) * LONG_CONFIG.ckpt_every
    outcomes = {"killed": 1, "finished": 0}
    for attempt in range(4):
        if status_of(path) == "complete":
            break  # finished (or killed after its file was complete): nothing left to resume
        mode = "resume" if path.exists() else "train"
        child = start(mode, LONG_CONFIG, path)
        # even attempts die early (start-up, the copy), odd ones later (training, closing)
        time.sleep(wall_s * (rng.uniform(0.0, 0.4) if attempt % 2 == 0 else rng.uniform(0.4, 1.0)))
        child.kill()  # a no-op when the child has exited already
        code, stderr = child.wait(), child.stderr.read().decode()
        already_complete = code == 1 and "already complete" in stderr
        assert code in (0, -signal.SIGKILL) or already_complete, stderr
        outcomes["killed" if code == -signal.SIGKILL else "finished"] += 1
        if path.exists():
            check_only_complete_rows(path, LONG_CONFIG)
    print("outcomes:", outcomes)
    finish(path, LONG_CONFIG)
    assert_same_run(path, reference)


def wait_until(condition, child, timeout_s: float = 300.0) -> None:
    """Poll `condition` until it holds; fail if `child` exits first or the (generous) timeout passes."""
    deadline = time.monotonic() + timeout_s
    while not condition():
        assert child.poll() is None, f"the child exited ({child.returncode}): {child.stderr.read().decode()}"
        assert time.monotonic() < deadline, "timed out waiting for the child's progress"
        time.sleep(0.02)
