"""What the ntk and mask analyses read from a run: the model at a checkpoint, the learning rate in the trainer's
units, and the training residuals projected on a basis (the formulas: analyzer/linalg/gd_dynamics.py)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from analyzer.errors import BadInputError
from analyzer.io.optimizer import is_plain_gd
from analyzer.linalg.gd_dynamics import Schedule, effective_rate

if TYPE_CHECKING:  # torch (through io.ntk_net) is imported when a model is rebuilt, not with the residuals
    from analyzer.io.ntk_net import NtkNet

CHUNK_ROWS = 512  # prediction rows read and projected at a time: memory stays ~CHUNK_ROWS x N


def schedule(run) -> Schedule:
    """The run's optimizer and learning rate from its config."""
    optimizer = str(run.config.get("optimizer") or "unknown")
    lr = run.config.get("lr")
    learning_rate = float(lr) if isinstance(lr, (int, float)) else math.nan
    outputs = int(run.data("y_train").size)  # the trainer's loss is the mean over all N o squared residuals
    return Schedule(optimizer, learning_rate, effective_rate(learning_rate, outputs), is_plain_gd(optimizer))


def checkpoint_net(run, step: int | None) -> tuple[NtkNet, int]:
    """The float64 model with its trained parameters marked, and the checkpoint step (None: the first stored)."""
    if len(run.ckpt_steps) == 0:
        raise BadInputError(f"{run.path}: no stored checkpoint; the NTK needs the parameters")
    step = int(run.ckpt_steps[0]) if step is None else int(step)
    from analyzer.io.ntk_net import make_net

    run.params_at(step)  # a clear error naming the stored steps when there is none at `step`
    model, layout = run.build_model("float64")
    freeze = bool(run.config.get("freeze_hidden", False))
    return make_net(model, layout, run.data("x_train"), freeze), step


@dataclass(frozen=True)
class Residuals:
    """basis^T r_t at `steps`; `note` says where non-finite predictions cut the series short ("" if they did not)."""

    steps: np.ndarray
    projections: np.ndarray
    note: str = ""


def projected_residuals(run, net: NtkNet, basis: np.ndarray, first_step: int) -> Residuals:
    """Steps t >= first_step and basis^T r_t, r_t = f_t(x_train) - y_train flattened (rows as J's), up to the
    first step whose predictions are not finite.

    From the stored predictions when the eval grid is the training grid (every `pred_every` steps), else
    recomputed from the checkpoints. Refuses fewer than 2 usable steps (no rate can be measured).
    """
    y = np.asarray(run.data("y_train"), dtype=np.float64).reshape(-1)
    same_grid = np.array_equal(run.data("x_eval"), run.data("x_train"))
    steps = run.pred_steps if same_grid else run.ckpt_steps
    keep = np.flatnonzero(steps >= first_step)
    what = "prediction" if same_grid else "checkpoint"
    out = np.empty((len(keep), basis.shape[1]))
    n_finite = len(keep)
    for start in range(0, len(keep), CHUNK_ROWS):
        rows = keep[start:start + CHUNK_ROWS]
        outputs = (_stored_outputs(run, rows) if same_grid else _recomputed_outputs(run, net, steps[rows]))
        bad = np.flatnonzero(~np.isfinite(outputs).all(axis=1))
        out[start:start + len(rows)] = (np.where(np.isfinite(outputs), outputs, 0.0) - y) @ basis
        if len(bad):
            n_finite = start + int(bad[0])
            break
    note = ""
    if n_finite < len(keep):
        first_bad = int(steps[keep[n_finite]])
        if n_finite == 0:
            raise BadInputError(f"the predictions are NaN or infinite from the first stored step ({first_bad}); "
                                "nothing to analyze")
        note = f"predictions not finite from step {first_bad}; analysed the {n_finite} {what} steps before it only"
    if n_finite < 2:
        raise BadInputError(f"nothing to analyze: {n_finite} stored {what} step(s) at or after step {first_step}; "
                            "a rate needs at least 2")
    return Residuals(np.asarray(steps[keep[:n_finite]]), out[:n_finite], note)


def _stored_outputs(run, rows: np.ndarray) -> np.ndarray:
    block = run.pred_dataset[int(rows[0]):int(rows[-1]) + 1]
    return np.asarray(block, dtype=np.float64).reshape(len(rows), -1)


def _recomputed_outputs(run, net: NtkNet, steps: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        return np.stack([net.outputs(*net.split(run.params_at(int(s)))).numpy() for s in steps])
