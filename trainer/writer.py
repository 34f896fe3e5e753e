"""`RunWriter`: buffered, crash-safe appends to a run file; usable from any PyTorch training loop.

Typical use from your own loop::

    writer = RunWriter.create(path, meta)
    for step in range(n_steps):
        if step % 10 == 0:
            writer.checkpoint(step, flat_params, resume_state)   # may commit
        ...
        writer.log_step(step, loss, grad_norm, lr)
        writer.log_pred(step, predictions_on_eval_grid)
    writer.checkpoint(n_steps, flat_params, None)
    writer.close("complete")
"""

from __future__ import annotations

import os
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import h5py
import numpy as np

from trainer import runfile
from trainer.errors import RunFileError
from trainer.runfile import NO_SLOT, RunMeta


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


class RunWriter:
    """Append-only writer; rows are buffered in memory and committed at checkpoints."""

    def __init__(self, f: h5py.File, path: Path, commit_every_s: float):
        self._f = f
        self.path = path
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
        self.closed = False

    # ---- opening -------------------------------------------------------------------------------
    @classmethod
    def create(cls, path: Path | str, meta: RunMeta, *, overwrite: bool = False,
               commit_every_s: float = 1.0) -> "RunWriter":
        """Create a new run file (refusing to replace one unless `overwrite`)."""
        path = Path(path)
        runfile.check_writable_target(path, overwrite)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(path.name + ".creating")
        f = cls._new_file(tmp, meta)
        os.replace(tmp, path)  # an existing file is only replaced once the new one is valid
        return cls(f, path, commit_every_s)

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

        The committed rows up to that checkpoint are copied into a fresh file that atomically replaces
        the old one (a killed SWMR writer leaves flags that forbid reopening for writing); rows past
        the checkpoint are dropped and will be recomputed identically.
        """
        path = Path(path)
        with runfile.open_swmr_reader(path) as old:
            runfile.check_resumable(old, path)
            meta = runfile.read_meta(old)
            point, rows = cls._rows_to_keep(old)
        tmp = path.with_name(path.name + ".resuming")
        f = cls._new_file(tmp, meta)
        writer = cls(f, path, commit_every_s)
        writer._append_rows(rows)
        if point.state is not None:
            writer._pending_state = (point.step, point.state)
        writer.commit(wait=True)
        os.replace(tmp, path)
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
        ckpt_keep = int(np.searchsorted(ckpt_steps, step, side="left"))  # the loop re-logs `step` itself
        if ckpt_keep == len(ckpt_steps) or ckpt_steps[ckpt_keep] != step:
            raise RunFileError(f"resume state at step {step} has no matching checkpoint; the file is inconsistent")
        rows = {"log/" + k: f["log"][k][:log_keep] for k in runfile.LOG_FIELDS}
        rows |= {"pred_step": f["log/pred_step"][:pred_keep], "pred": f["log/pred"][:pred_keep],
                 "ckpt_step": ckpt_steps[:ckpt_keep], "ckpt": f["ckpt/params"][:ckpt_keep]}
        params = f["ckpt/params"][ckpt_keep].copy()
        return ResumePoint(step, params, f["resume/state"][slot].copy()), rows

    def _append_rows(self, rows: dict[str, np.ndarray]) -> None:
        for name in runfile.LOG_FIELDS:
            self._log[name].extend(rows["log/" + name].tolist())
        self._pred_steps.extend(rows["pred_step"].tolist())
        self._preds.extend(rows["pred"])
        self._ckpt_steps.extend(rows["ckpt_step"].tolist())
        self._ckpts.extend(rows["ckpt"])

    # ---- appending -----------------------------------------------------------------------------
    def log_step(self, step: int, loss: float, grad_norm: float, lr: float) -> None:
        """One optimizer step: the loss and gradient norm at the parameters before the update."""
        log = self._log
        log["step"].append(step)
        log["loss"].append(loss)
        log["grad_norm"].append(grad_norm)
        log["lr"].append(lr)

    def log_pred(self, step: int, pred: np.ndarray) -> None:
        """Predictions on the evaluation grid, shape (G, out_dim), at the parameters of `step`."""
        self._pred_steps.append(step)
        self._preds.append(np.array(pred, copy=True))

    def checkpoint(self, step: int, params: np.ndarray,
                   resume_state: np.ndarray | Callable[[], np.ndarray] | None) -> None:
        """Flat parameters at `step` (before its update) and, to make it resumable, the optimizer state.

        `resume_state` may be a callable: it is only evaluated when this checkpoint is committed, so
        packing the optimizer state costs nothing at the checkpoints in between commits.
        """
        self._ckpt_steps.append(step)
        self._ckpts.append(np.array(params, copy=True))
        due = time.monotonic() - self._last_commit >= self.commit_every_s
        if resume_state is not None and (due or not callable(resume_state)):
            state = resume_state() if callable(resume_state) else resume_state
            self._pending_state = (step, np.asarray(state, dtype=np.float64))
        if due:
            self.commit()

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
        f.flush()
        f["commit"][:] = np.array([n_log, n_pred, n_ckpt, slot], np.int64)
        f["commit"].flush()
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
        """Commit what is buffered, close, and record the final status."""
        if status not in runfile.STATUSES:
            raise ValueError(f"unknown status {status!r}")
        if self.closed:
            return
        try:
            self.commit(wait=True)
        finally:
            self._executor.shutdown(wait=True)
            self._f.close()
        self.closed = True
        with h5py.File(self.path, "r+", libver="latest") as f:  # SWMR forbids attribute writes
            f.attrs["status"] = status
            f.attrs["ended"] = time.strftime("%Y-%m-%dT%H:%M:%S%z")
