"""The linearised gradient-descent dynamics on a kernel, model-independent (docs/ntk.md): the effective rate,
predicted and observed decay rates of the residual along eigenvectors, and the spectral mask."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Schedule:
    """The run's optimizer and learning rate a, and a_eff = 2 a / (N o), the rate of r_t on K (docs/ntk.md).

    `plain_gd`: the optimizer is plain full-batch gradient descent (its record's `is_plain_gd`, trainer/optim/);
    False for Adam and for an optimizer no record covers.
    """

    optimizer: str
    learning_rate: float
    effective_rate: float
    plain_gd: bool = False

    @property
    def has_closed_form(self) -> bool:
        """Full-batch GD at a fixed rate has one; Adam (and an unknown optimizer) does not."""
        return self.plain_gd and math.isfinite(self.effective_rate)


def effective_rate(learning_rate: float, outputs: int) -> float:
    """a_eff = 2 a / (N o): the trainer's loss is the mean over all N o squared residuals."""
    return 2.0 * learning_rate / outputs


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
