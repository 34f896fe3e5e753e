"""The residual on a basis: orthonormal functions on the eval points, grouped into modes, and projections on them.

A *basis* is a set of functions orthonormal under some measure on the inputs (the uniform grid's mean
for Fourier modes, the uniform measure on the sphere for spherical harmonics, the eval points' mean for
NTK eigenvectors), grouped into *modes*: a frequency is its cos/sin pair, a degree its N(d, l)
harmonics, an NTK eigenvalue its eigenvector(s). Each mode has a label (`freq_hz`, `degree`, ...).
`coefficients(values, modes)` gives, for each row of values on the eval points, the coefficients on
the functions of each requested mode; the norm of a mode's component, ||P_mode f||, is the root sum of
their squares (the RMS of that component under the basis's measure).

`project_residual` streams a run's stored predictions through a basis and keeps, per tracked mode and
stored step, the norm of the residual's component ||P_mode (f_t - y)|| and of the prediction's, next to
the target's: the relative error ||P_mode (f_t - y)|| / ||P_mode y|| is what the spectrum's learned step and
jumps are computed from (for Fourier modes it equals |h_k - y_k| / |y_k| of the DFT coefficients).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass

import numpy as np

from analyzer.errors import BadInputError

BLOCK_ROWS = 1024  # project this many prediction rows at a time: bounded memory on long runs


class Basis(ABC):
    """Orthonormal functions sampled on a run's eval points, grouped into labelled modes."""

    kind: str  # "fourier", "harmonics", ...
    label_name: str  # what a mode's label is: "freq_hz", "degree", ...
    labels: np.ndarray  # (K,) one label per mode, ascending
    n_points: int  # G, the eval points the functions are sampled on

    @abstractmethod
    def coefficients(self, values: np.ndarray, modes: np.ndarray) -> np.ndarray:
        """(R, len(modes), W) coefficients of each row of `values` (R, G) on each mode's functions.

        W is the widest requested mode; narrower modes are padded with zeros, so the norm of a mode's
        component is the root sum of squares along the last axis.
        """

    def mode_norms(self, values: np.ndarray, modes: np.ndarray | None = None) -> np.ndarray:
        """(R, K') norm of each row's component on each mode (all modes by default)."""
        modes = np.arange(len(self.labels)) if modes is None else np.asarray(modes)
        values = np.atleast_2d(np.asarray(values, dtype=np.float64))
        return np.sqrt(np.sum(self.coefficients(values, modes) ** 2, axis=-1))

    def remainder_norms(self, values: np.ndarray) -> np.ndarray:
        """(R,) RMS over the eval points of the part of each row outside every mode (0 for a complete basis)."""
        return np.zeros(np.atleast_2d(values).shape[0])

    def modes_of(self, labels) -> np.ndarray:
        """Mode indices of the given labels; BadInputError naming a label the basis does not have."""
        wanted = np.asarray(labels, dtype=np.float64).reshape(-1)
        index = np.searchsorted(self.labels, wanted)
        for label, i in zip(wanted, index):
            if i >= len(self.labels) or not np.isclose(self.labels[i], label, rtol=1e-9, atol=1e-12):
                raise BadInputError(f"the {self.kind} basis has no mode with {self.label_name} {label:g} "
                                    f"(it has {self.labels[0]:g} to {self.labels[-1]:g})")
        return index


@dataclass(frozen=True, eq=False)
class SampledBasis(Basis):
    """A basis given by its functions' values on the eval points; coefficients by least squares.

    `design` (G, P) holds the P functions at the G points; `column_modes` (P,) the mode of each column.
    Least squares makes a function in the span come out exactly, whatever the points (random points on a
    sphere are only approximately orthonormal); what lies outside the span is in `remainder_norms`.
    """

    kind: str
    label_name: str
    labels: np.ndarray
    design: np.ndarray
    column_modes: np.ndarray

    def __post_init__(self):
        if self.design.shape[0] < self.design.shape[1]:
            raise BadInputError(f"the {self.kind} basis has {self.design.shape[1]} functions but only "
                                f"{self.design.shape[0]} eval points: too few points for a least-squares fit")
        object.__setattr__(self, "_solve", np.linalg.pinv(self.design))

    @property
    def n_points(self) -> int:
        return self.design.shape[0]

    def coefficients(self, values: np.ndarray, modes: np.ndarray) -> np.ndarray:
        all_coefficients = np.asarray(values, dtype=np.float64) @ self._solve.T  # (R, P)
        columns = [np.flatnonzero(self.column_modes == mode) for mode in modes]
        width = max(len(c) for c in columns)
        out = np.zeros((all_coefficients.shape[0], len(columns), width))
        for j, cols in enumerate(columns):
            out[:, j, :len(cols)] = all_coefficients[:, cols]
        return out

    def remainder_norms(self, values: np.ndarray) -> np.ndarray:
        """(R,) RMS over the eval points of what the least-squares fit leaves (the part outside every mode)."""
        values = np.atleast_2d(np.asarray(values, dtype=np.float64))
        fitted = (values @ self._solve.T) @ self.design.T
        return np.sqrt(np.mean((values - fitted) ** 2, axis=1))


@dataclass(frozen=True, eq=False)
class ModeProjection:
    """Per tracked mode and stored step: the norms of the residual's, the prediction's and the target's components."""

    steps: np.ndarray  # (T,) prediction steps projected (those before the first non-finite prediction)
    label_name: str
    labels: np.ndarray  # (K,) tracked modes
    target_norm: np.ndarray  # (K,) ||P_mode y||
    pred_norm: np.ndarray  # (T, K) ||P_mode f_t||
    residual_norm: np.ndarray  # (T, K) ||P_mode (f_t - y)||
    residual_rms: np.ndarray  # (T,) sqrt(mean over the eval points of (f_t - y)^2): the whole residual's norm
    residual_remainder: np.ndarray  # (T,) RMS of the residual's part outside every mode of the basis
    first_nonfinite_step: int | None = None

    @property
    def rel_error(self) -> np.ndarray:
        """(T, K) ||P_mode (f_t - y)|| / ||P_mode y|| (inf where the target has no component on the mode)."""
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.residual_norm / self.target_norm


def project_residual(basis: Basis, steps, pred, y_eval, labels) -> ModeProjection:
    """Stream predictions (T, G) or (T, G, 1), anything row-sliceable, through `basis` on the modes `labels`.

    Stops at the first row with a NaN or infinite value (`first_nonfinite_step`).
    """
    steps = np.asarray(steps, dtype=np.int64)
    y_eval = np.asarray(y_eval, dtype=np.float64).reshape(-1)
    n_grid = basis.n_points
    if y_eval.shape[0] != n_grid or len(steps) != pred.shape[0] or pred.shape[1] != n_grid:
        raise BadInputError(f"predictions of shape {tuple(pred.shape)} and a target of {y_eval.shape[0]} points do "
                            f"not match {len(steps)} steps x {n_grid} points")
    modes = basis.modes_of(labels)
    target = basis.coefficients(y_eval[None, :], modes)[0]
    pred_norm = np.empty((len(steps), len(modes)))
    residual_norm = np.empty((len(steps), len(modes)))
    residual_rms = np.empty(len(steps))
    remainder = np.empty(len(steps))
    n_finite = len(steps)
    for start in range(0, len(steps), BLOCK_ROWS):
        block = np.asarray(pred[start:start + BLOCK_ROWS], dtype=np.float64).reshape(-1, n_grid)
        finite = np.isfinite(block).all(axis=1)
        if not finite.all():
            n_finite = start + int(np.argmin(finite))
            block = block[:int(np.argmin(finite))]
        coefficients = basis.coefficients(block, modes)
        pred_norm[start:start + len(block)] = np.sqrt(np.sum(coefficients ** 2, axis=-1))
        residual_norm[start:start + len(block)] = np.sqrt(np.sum((coefficients - target) ** 2, axis=-1))
        residual_rms[start:start + len(block)] = np.sqrt(np.mean((block - y_eval) ** 2, axis=1))
        remainder[start:start + len(block)] = basis.remainder_norms(block - y_eval)
        if n_finite < len(steps):
            break
    return ModeProjection(steps=steps[:n_finite], label_name=basis.label_name, labels=basis.labels[modes],
                          target_norm=np.sqrt(np.sum(target ** 2, axis=-1)), pred_norm=pred_norm[:n_finite],
                          residual_norm=residual_norm[:n_finite], residual_rms=residual_rms[:n_finite],
                          residual_remainder=remainder[:n_finite],
                          first_nonfinite_step=None if n_finite == len(steps) else int(steps[n_finite]))
