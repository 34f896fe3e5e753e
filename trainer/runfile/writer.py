"""`RunWriter`: buffered, crash-safe appends to a run file; the logger of `train run` and of any PyTorch loop.

From your own loop (the model's class must be importable, so the analyzer can rebuild it)::

    with RunWriter.for_model("runs/mine.h5", model, x_train, y_train) as run:
        for step in range(n_steps):
            if step % 10 == 0:
                run.checkpoint(step, model, optimizer)   # parameters at step (before its update)
                run.log_predictions(step)                # model(x_eval), computed here
            loss = loss_fn(model(x_train), y_train)
            run.log_step(step, loss)                     # loss at the parameters before the update
            ...                                          # backward, optimizer.step()
        run.checkpoint(n_steps, model)                   # the trained model
        run.log_predictions(n_steps)

Steps are non-negative and strictly increasing within each of log_step, log_predictions and
checkpoint (docs/run-file.md, step convention); leaving the block closes the file with status
complete (diverged if a non-finite loss was logged), or interrupted when an exception left it.
The trainer uses the lower-level face: `create(path, meta)`, `log_pred`, `checkpoint(step, flat,
packed_state)`, `close(status)`.
"""

from __future__ import annotations

import math
import os
import shutil
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from trainer.runfile import schema as runfile
from trainer.errors import RunFileError
from trainer.runfile.faults import crash_point
from trainer.runfile.logger import ModelLogging
from trainer.runfile.schema import NO_SLOT, RunMeta
from trainer.runfile.lock import RunLock

# never opened as the run: readers open only RUN (".importing": `train import` stages the whole run there)
TEMP_SUFFIXES = (".creating", ".resuming", ".closing", ".importing")


@dataclass
class _Block:
    """The rows of one commit, handed from the training thread to the writer thread."""

    log: dict[str, list]
    pred_steps: list[int]
    preds: list[np.ndarray]
    ckpt_steps: list[int]
    ckpts: list[np.ndarray]
    state: tuple[int, np.ndarray] | None


@dataclass
class ResumePoint:
    """Where a resumed run continues: the checkpoint step, its parameters and optimizer state."""

    step: int
    params: np.ndarray | None  # None: nothing was committed, start from the initial parameters
    state: np.ndarray | None


class RunWriter(ModelLogging):
    """Append-only writer; rows are buffered in memory and committed at checkpoints (`ModelLogging`: the face
    for any PyTorch loop)."""

    def __init__(self, f: h5py.File, path: Path, commit_every_s: float, lock: RunLock | None = None):
        self._f = f
        self.path = path
        self._lock = lock
        self._stored_checkpoint: int | None = None  # a resumed run's checkpoint, already in the file
        self.commit_every_s = commit_every_s
        self._counts = runfile.committed(f)
        self._slot = self._counts["resume_slot"]
        self._log: dict[str, list] = {name: [] for name in runfile.LOG_FIELDS}
        self._pred_steps: list[int] = []
        self._preds: list[np.ndarray] = []
        self._ckpt_steps: list[int] = []
        self._ckpts: list[np.ndarray] = []
        self._pending_state: tuple[int, np.ndarray] | None = None
        self._last_commit = time.monotonic()
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="run-writer")
        self._inflight: Future | None = None
        self._resume_capacity = int(f["resume/state"].shape[1])
        self._last_steps = {"log": -1, "pred": -1, "ckpt": -1}  # each kind of row: strictly increasing steps
        self._diverged = False
        self.closed = False

    # ---- opening -------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: Path | str, meta: RunMeta, *, overwrite: bool = False,
               commit_every_s: float = 1.0) -> "RunWriter":
        """Create a new run file (refusing to replace one unless `overwrite`, or one a live writer holds)."""
        path = Path(path)
        runfile.check_writable_target(path, overwrite)
        path.parent.mkdir(parents=True, exist_ok=True)
        lock = RunLock(path).acquire()
        f = None
        try:
            runfile.check_writable_target(path, overwrite)  # again: another writer may have made it meanwhile
            _remove_stale_temps(path)
            tmp = _temp(path, ".creating")
            f = cls._new_file(tmp, meta)
            crash_point("create.temp")
            os.replace(tmp, path)  # an existing file is only replaced once the new one is valid
            crash_point("create.replaced")
        except BaseException:
            if f is not None:
                f.close()
            lock.release()
            raise
        return cls(f, path, commit_every_s, lock)

    @staticmethod
    def _new_file(path: Path, meta: RunMeta) -> h5py.File:
        f = h5py.File(path, "w", libver="latest")
        try:
            runfile._create_layout(f, meta)
            f.swmr_mode = True
        except BaseException:
            f.close()
            path.unlink(missing_ok=True)
            raise
        return f

    @classmethod
    def resume(cls, path: Path | str, *, commit_every_s: float = 1.0) -> tuple["RunWriter", RunMeta, ResumePoint]:
        """Re-open a killed or interrupted run at its last committed checkpoint.

        The committed rows before that checkpoint, the checkpoint itself and its optimizer state are
        copied into a fresh file, committed there, and only then does the fresh file atomically replace
        the old one (a killed SWMR writer leaves flags that forbid reopening for writing); rows past
        the checkpoint are dropped and will be recomputed identically.
        """
        path = Path(path)
        if not path.is_file():
            raise RunFileError(f"{path}: no such file")
        lock = RunLock(path).acquire()
        writer = None
        try:
            _remove_stale_temps(path)
            with runfile.open_swmr_reader(path) as old:
                runfile.check_resumable(old, path)
                meta = runfile.read_meta(old)
                point, rows = cls._rows_to_keep(old)
            crash_point("resume.read")
            tmp = _temp(path, ".resuming")
            writer = cls(cls._new_file(tmp, meta), path, commit_every_s, lock)
            crash_point("resume.temp")
            writer._append_rows(rows)
            if point.state is not None:
                writer._pending_state = (point.step, point.state)
                writer._stored_checkpoint = point.step
            writer.commit(wait=True)  # the marker now names a slot whose checkpoint is in this file
            crash_point("resume.committed")
            os.replace(tmp, path)
            crash_point("resume.replaced")
        except BaseException:
            if writer is not None:
                writer._abandon()
            lock.release()
            raise
        return writer, meta, point

    @staticmethod
    def _rows_to_keep(f: h5py.File) -> tuple[ResumePoint, dict[str, np.ndarray]]:
        counts = runfile.committed(f)
        slot = counts["resume_slot"]
        if slot == NO_SLOT:
            empty = {"log/" + k: np.zeros(0, dt) for k, dt in runfile.LOG_FIELDS.items()}
            return ResumePoint(0, None, None), empty | {"pred_step": np.zeros(0, np.int64),
                                                        "pred": f["log/pred"][:0], "ckpt_step": np.zeros(0, np.int64),
                                                        "ckpt": f["ckpt/params"][:0]}
        step = int(f["resume/step"][slot])
        log_keep = int(np.searchsorted(f["log/step"][: counts["log"]], step, side="left"))
        pred_keep = int(np.searchsorted(f["log/pred_step"][: counts["pred"]], step, side="left"))
        ckpt_steps = f["ckpt/step"][: counts["ckpt"]]
        at = int(np.searchsorted(ckpt_steps, step, side="left"))
        if at == len(ckpt_steps) or ckpt_steps[at] != step:
            raise RunFileError(f"resume state at step {step} has no matching checkpoint; the file is inconsistent")
        # checkpoint `step` is kept (the resume slot must name a stored checkpoint at every commit);
        # the log and prediction rows of `step` are not: the loop computes them again
        rows = {"log/" + k: f["log"][k][:log_keep] for k in runfile.LOG_FIELDS}
        rows |= {"pred_step": f["log/pred_step"][:pred_keep], "pred": f["log/pred"][:pred_keep],
                 "ckpt_step": ckpt_steps[:at + 1], "ckpt": f["ckpt/params"][:at + 1]}
        params = f["ckpt/params"][at].copy()
        return ResumePoint(step, params, f["resume/state"][slot].copy()), rows

    def _append_rows(self, rows: dict[str, np.ndarray]) -> None:
        for name in runfile.LOG_FIELDS:
            self._log[name].extend(rows["log/" + name].tolist())
        self._pred_steps.extend(rows["pred_step"].tolist())
        self._preds.extend(rows["pred"])
        self._ckpt_steps.extend(rows["ckpt_step"].tolist())
        self._ckpts.extend(rows["ckpt"])
        for kind, name in (("log", "log/step"), ("pred", "pred_step"), ("ckpt", "ckpt_step")):
            if len(rows[name]):
                self._last_steps[kind] = int(rows[name][-1])

    # ---- appending -----------------------------------------------------------------------------
    def log_step(self, step: int, loss: float, grad_norm: float | None = None, lr: float | None = None) -> None:
        """One optimizer step: the loss and gradient norm at the parameters before the update (None: NaN)."""
        self._advance("log", step)
        log = self._log
        loss = _scalar(loss)
        if self._loss_check is not None:
            self._loss_check.at_log(step, loss)
        if not math.isfinite(loss):
            self._diverged = True
        log["step"].append(step)
        log["loss"].append(loss)
        log["grad_norm"].append(math.nan if grad_norm is None else _scalar(grad_norm))
        log["lr"].append(math.nan if lr is None else _scalar(lr))

    def log_pred(self, step: int, pred: np.ndarray) -> None:
        """Predictions on the evaluation grid, shape (G, out_dim), at the parameters of `step`."""
        self._advance("pred", step)
        self._pred_steps.append(step)
        self._preds.append(np.array(pred, copy=True))

    def checkpoint(self, step: int, params, optimizer=None) -> None:
        """Parameters at `step` (before its update) and, to make it resumable, the optimizer state.

        `params`: an `nn.Module` or its flat parameter vector (`trainer.models.flatten`). `optimizer`:
        a torch Adam/SGD optimizer, its packed state, or a callable that packs it; packing happens only
        when this checkpoint is committed, so it costs nothing at the checkpoints in between commits.
        """
        if step == self._stored_checkpoint:
            self._stored_checkpoint = None  # resume copied it with its optimizer state; the loop repeats it
            return
        crash_point("checkpoint")
        self._advance("ckpt", step)
        resume_state = self._state_packer(optimizer)
        if hasattr(params, "named_parameters"):
            from trainer.models import flatten

            if self._loss_check is not None:
                self._loss_check.at_checkpoint(step, params)

            params = flatten(params).cpu().numpy()
        self._ckpt_steps.append(step)
        self._ckpts.append(np.array(params, copy=True))
        due = time.monotonic() - self._last_commit >= self.commit_every_s
        if resume_state is not None and (due or not callable(resume_state)):
            state = resume_state() if callable(resume_state) else resume_state
            self._pending_state = (step, np.asarray(state, dtype=np.float64))
        if due:
            self.commit()

    def _advance(self, kind: str, step: int) -> None:
        if not 0 <= step or step <= self._last_steps[kind]:
            raise ValueError(f"{kind} step {step} after step {self._last_steps[kind]}: steps must be non-negative "
                             f"and strictly increasing (docs/run-file.md, step convention)")
        self._last_steps[kind] = step

    # ---- committing ----------------------------------------------------------------------------
    def commit(self, wait: bool = False) -> None:
        """Hand the buffered rows to the writer thread; `wait=True` returns once they are on disk.

        One commit is in flight at most, so commits land in order and memory stays bounded. The
        thread overlaps compression and I/O with training (h5py releases the GIL while it writes).
        """
        self._wait()
        block = _Block(log={k: v[:] for k, v in self._log.items()}, pred_steps=self._pred_steps[:],
                       preds=self._preds[:], ckpt_steps=self._ckpt_steps[:], ckpts=self._ckpts[:],
                       state=self._pending_state)
        for rows in (*self._log.values(), self._pred_steps, self._preds, self._ckpt_steps, self._ckpts):
            rows.clear()
        self._pending_state = None
        self._last_commit = time.monotonic()
        self._inflight = self._executor.submit(self._write_block, block)
        if wait:
            self._wait()

    def _wait(self) -> None:
        if self._inflight is not None:
            inflight, self._inflight = self._inflight, None
            inflight.result()  # re-raises a failed write in the training thread

    def _write_block(self, block: "_Block") -> None:
        """Rows, flush, resume slot, flush, then the marker: a reader never sees a half commit."""
        f, counts = self._f, self._counts
        n_log = self._append("log/step", block.log["step"], counts["log"])
        for name in ("loss", "grad_norm", "lr"):
            self._append("log/" + name, block.log[name], counts["log"])
        n_pred = self._append("log/pred_step", block.pred_steps, counts["pred"])
        self._append("log/pred", block.preds, counts["pred"])
        n_ckpt = self._append("ckpt/step", block.ckpt_steps, counts["ckpt"])
        self._append("ckpt/params", block.ckpts, counts["ckpt"])
        slot = self._slot
        if block.state is not None:
            slot = 0 if self._slot != 0 else 1  # never overwrite the slot the marker points at
            step, state = block.state
            row = np.zeros(f["resume/state"].shape[1])
            row[: state.size] = state  # optimizers without state (plain SGD) still mark a resume point
            f["resume/state"][slot] = row
            f["resume/step"][slot] = step
        crash_point("commit.rows")
        f.flush()
        crash_point("commit.state")
        f["commit"][:] = np.array([n_log, n_pred, n_ckpt, slot], np.int64)
        f["commit"].flush()
        crash_point("commit.marker")
        counts.update(log=n_log, pred=n_pred, ckpt=n_ckpt, resume_slot=slot)
        self._slot = slot

    def _append(self, name: str, rows: list, start: int) -> int:
        if not rows:
            return start
        ds = self._f[name]
        block = np.asarray(rows, dtype=ds.dtype)
        ds.resize(start + len(block), axis=0)
        ds[start:] = block
        return start + len(block)

    def close(self, status: str = "complete") -> None:
        """Commit what is buffered, close, record the final status, and release the lock."""
        if status not in runfile.STATUSES:
            raise ValueError(f"unknown status {status!r}")
        if self.closed:
            return
        try:
            try:
                self.commit(wait=True)
            finally:
                self._executor.shutdown(wait=True)
                self._f.close()
            self.closed = True
            crash_point("close.swmr_closed")
            self._record_status(status)
        finally:
            if self._lock is not None:
                self._lock.release()

    def _record_status(self, status: str) -> None:
        """Write the status into a copy that then replaces the run file.

        SWMR forbids attribute writes, and a file killed while open read-write without SWMR keeps
        consistency flags that make HDF5 refuse every later open (plain and SWMR alike), so that
        open happens on a copy: the run file is the closed "running" file or the finished one.
        """
        tmp = _temp(self.path, ".closing")
        shutil.copyfile(self.path, tmp)
        crash_point("close.copied")
        with h5py.File(tmp, "r+", libver="latest") as f:
            f.attrs["status"] = status
            f.attrs["ended"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
            crash_point("close.status_open")
        crash_point("close.status_written")
        os.replace(tmp, self.path)
        crash_point("close.replaced")

    def discard(self) -> None:
        """Drop a run being written: close without committing more, delete its file, release the lock."""
        try:
            if not self.closed:
                self._abandon()
            self.path.unlink(missing_ok=True)
            _temp(self.path, ".closing").unlink(missing_ok=True)
        finally:
            if self._lock is not None:
                self._lock.release()

    def _abandon(self) -> None:
        """Drop a writer whose opening failed, without writing anything more."""
        self._executor.shutdown(wait=True)
        self._f.close()
        self.closed = True


def _scalar(value) -> float:
    """A float from a number or a 0-d tensor (detached first: a loss tensor still holds its graph)."""
    return float(value.detach()) if hasattr(value, "detach") else float(value)


def _temp(path: Path, suffix: str) -> Path:
    return path.with_name(path.name + suffix)


def _remove_stale_temps(path: Path) -> None:
    """Temporaries of a killed writer: only ever renamed onto the run, never read, so safe to drop under the lock."""
    for suffix in TEMP_SUFFIXES:
        _temp(path, suffix).unlink(missing_ok=True)
