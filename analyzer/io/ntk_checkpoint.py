"""The linearised training dynamics shared by the ntk and mask analyses: the model at a checkpoint, the learning
rate in the trainer's units, the training residuals projected on a basis, and the formulas (docs/ntk.md)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from analyzer.errors import BadInputError

if TYPE_CHECKING:  # torch (through linalg.ntk) is imported when a model is rebuilt, not with the formulas
    from analyzer.linalg.ntk import NtkNet

CHUNK_ROWS = 512  # prediction rows read and projected at a time: memory stays ~CHUNK_ROWS x N


@dataclass(frozen=True)
class Schedule:
    """The run's optimizer and learning rate a, and a_eff = 2 a / (N o), the rate of r_t on K (docs/ntk.md)."""

    optimizer: str
    learning_rate: float
    effective_rate: float

    @property
    def has_closed_form(self) -> bool:
        """Full-batch GD at a fixed rate has one; Adam (and an unknown optimizer) does not."""
        return self.optimizer == "sgd" and math.isfinite(self.effective_rate)


def schedule(run) -> Schedule:
    optimizer = str(run.config.get("optimizer") or "unknown")
    lr = run.config.get("lr")
    learning_rate = float(lr) if isinstance(lr, (int, float)) else math.nan
    outputs = int(run.data("y_train").size)  # the trainer's loss is the mean over all N o squared residuals
    return Schedule(optimizer, learning_rate, 2.0 * learning_rate / outputs)


def checkpoint_net(run, step: int | None) -> tuple[NtkNet, int]:
    """The float64 model with its trained parameters marked, and the checkpoint step (None: the first stored)."""
    if len(run.ckpt_steps) == 0:
        raise BadInputError(f"{run.path}: no stored checkpoint; the NTK needs the parameters")
    step = int(run.ckpt_steps[0]) if step is None else int(step)
    from analyzer.linalg.ntk import make_net

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


# ---- the linearised dynamics ---------------------------------------------------------------------------------

def predicted_rates(eigenvalues: np.ndarray, effective_rate: float) -> np.ndarray:
    """Decay rate per step of r_t along each eigenvector: -ln|1 - a_eff lambda| (~ a_eff lambda when small)."""
    with np.errstate(divide="ignore"):
        return -np.log(np.abs(1.0 - effective_rate * np.asarray(eigenvalues, dtype=np.float64)))


def observed_rates(steps: np.ndarray, projections: np.ndarray, floor: float, min_component: float) -> np.ndarray:
    """Per column, kappa of |p(t)| = |p(0)| exp(-kappa t), least squares through the origin in log space over the
    steps before |p| first falls below floor |p(0)| (where rounding and the rest of the residual take over).

    NaN where |p(0)| < min_component ||r_0|| (nothing to decay) or no later step qualifies.
    """
    elapsed = np.asarray(steps, dtype=np.float64) - steps[0]
    initial = np.abs(projections[0])
    scale = np.linalg.norm(projections[0])
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.log(np.abs(projections) / initial)
    above = np.abs(projections) >= floor * initial
    prefix = np.cumprod(above, axis=0).astype(bool)  # steps before the first drop below the floor
    weights = np.where(prefix, elapsed[:, None], 0.0)
    numerator = -(weights * np.where(prefix, log_ratio, 0.0)).sum(axis=0)
    denominator = (weights * elapsed[:, None]).sum(axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        rates = numerator / denominator
    rates[(initial < min_component * scale) | (denominator == 0)] = np.nan
    return rates


def mask(singular_values: np.ndarray, effective_rate: float, iterations: np.ndarray) -> np.ndarray:
    """m(s; a_eff, q) = 1 - (1 - a_eff s^2)^q, one row per q."""
    factor = 1.0 - effective_rate * np.asarray(singular_values, dtype=np.float64) ** 2
    return 1.0 - factor[None, :] ** np.asarray(iterations, dtype=np.float64)[:, None]


def log_spaced(count: int, most: int) -> np.ndarray:
    """Up to `most` indices into range(count), spaced evenly in log(1 + index), first and last included."""
    if count <= most:
        return np.arange(count)
    picks = np.unique(np.round(np.expm1(np.linspace(0.0, np.log1p(count - 1), most))).astype(int))
    return picks
