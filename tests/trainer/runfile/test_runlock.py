"""The run lock: one writer per run file, refused while its holder lives, free once the holder is gone."""

from __future__ import annotations

import os

import numpy as np
import pytest

from analyzer.io.run import open_run
from trainer.errors import RunFileError
from trainer.runfile.schema import RunMeta
from trainer.runfile.lock import RunLock, RunLockedError, check_unlocked, lock_path
from trainer.runfile.writer import RunWriter


def foreign_meta() -> RunMeta:
    grid = np.linspace(0, 1, 8, endpoint=False)[:, None]
    return RunMeta(config={"note": "lock test"}, target={"kind": "custom"}, model={"kind": "custom"},
                   layout={"names": ["w"], "shapes": [[2]]},
                   data={"x_train": grid, "y_train": grid, "x_eval": grid, "y_eval": grid},
                   n_params=2, param_dtype="float64", resume_size=2)


def test_a_held_lock_refuses_a_second_holder_naming_path_and_pid(tmp_path):
    path = tmp_path / "r.h5"
    with RunLock(path):
        with pytest.raises(RunLockedError, match=rf"{path} is being written by process {os.getpid()}"):
            RunLock(path).acquire()
        with pytest.raises(RunLockedError, match=str(os.getpid())):
            check_unlocked(path)
    assert not lock_path(path).exists()  # removed on release
    check_unlocked(path)
    with RunLock(path):
        pass


def test_a_stale_lock_file_blocks_no_one(tmp_path):
    """What kill -9 leaves: the file, with a dead pid in it, but no lock on it."""
    path = tmp_path / "r.h5"
    lock_path(path).write_text("999999999\n")
    check_unlocked(path)
    lock = RunLock(path).acquire()
    assert lock_path(path).read_text() == f"{os.getpid()}\n"
    lock.release()


def test_unlockable_folder_is_a_one_line_error(tmp_path):
    with pytest.raises(RunFileError, match="cannot lock"):
        RunLock(tmp_path / "missing" / "r.h5").acquire()


def test_the_writer_holds_the_lock_until_close_and_readers_are_not_blocked(tmp_path):
    path = tmp_path / "r.h5"
    writer = RunWriter.create(path, foreign_meta(), commit_every_s=0.0)
    writer.checkpoint(0, np.zeros(2), np.ones(2))
    writer.log_step(0, 1.0, 0.5, 0.1)
    writer.commit(wait=True)  # commits run on the writer thread: wait, or the reader may look first
    with pytest.raises(RunLockedError):
        RunWriter.create(path, foreign_meta(), overwrite=True)
    with pytest.raises(RunLockedError):
        RunWriter.resume(path)
    with open_run(path) as run:  # readers take no lock
        assert run.status == "running" and list(run.ckpt_steps) == [0]
    writer.close("interrupted")
    check_unlocked(path)
    writer, _, point = RunWriter.resume(path)  # free again once closed
    assert point.step == 0
    writer.close("complete")
    assert not lock_path(path).exists()
