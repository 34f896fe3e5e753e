"""The exact Hessian route of a linearised twin: (2 / (N o)) J_0^T J_0 at every checkpoint, from one Jacobian.

A twin's MSE is a convex quadratic in theta (trainer/linearized.py): its Hessian does not depend on theta, so one
J_0 (analyzer/io/model.theta0_jacobian) and one eigh of its Gram matrix (analyzer/linalg/gram.py) give every
eigenvalue of every checkpoint's Hessian, each within a certified rounding bound, with no HVP. Method "twin-gram":
the Hessian analysis' `--method auto` takes it for every twin, `--method dense` / `lanczos` still take the HVP
routes (to compare). Per checkpoint only the gradient is new (one autograd gradient of the same loss closure as
the other routes).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np
import torch

from analyzer.curvature.cost import MAX_DENSE_GB
from analyzer.errors import BadInputError
from analyzer.linalg.eigenpairs import EigenPairs
from analyzer.linalg.gram import GramSpectrum, gram_spectrum
from analyzer.linalg.solvers import BYTES_PER_FLOAT64


def is_twin(run) -> bool:
    return run.linearized is not None


def jacobian_bytes(n_rows: int, n_params: int) -> int:
    """Memory of the route: J_0 and the Gram matrix of its smaller side, twice (LAPACK's copy)."""
    side = min(n_rows, n_params)
    return (n_rows * n_params + 2 * side * side) * BYTES_PER_FLOAT64


def twin_jacobian(run, max_gb: float = MAX_DENSE_GB) -> tuple[np.ndarray, float]:
    """J_0 of the twin `run` and the loss' factor c = 2 / (N o); refused (one line) beyond `max_gb`."""
    from analyzer.io.model import theta0_jacobian

    n_rows, n_params = int(np.asarray(run.data("y_train")).size), int(run.n_params)
    needed = jacobian_bytes(n_rows, n_params) / 1e9
    if needed > max_gb:
        raise BadInputError(f"the twin's exact Hessian needs J_0 of {n_rows} x {n_params} ({needed:.1f} GB), more "
                            f"than --max-dense-gb {max_gb:g}; use --method lanczos")
    return theta0_jacobian(run), 2.0 / n_rows


@dataclass
class TwinPoint:
    """What a checkpoint's row reads of its Hessian operator (saddle.saddle_metrics): P, the gradient, no HVPs."""

    n: int
    grad: torch.Tensor
    n_products: int = 0


class TwinHessian:
    """The twin's Hessian spectrum, computed on first use and shared by every checkpoint of one analysis."""

    def __init__(self, run, max_gb: float):
        self.run, self.max_gb = run, max_gb
        self._spectrum: GramSpectrum | None = None

    @property
    def spectrum(self) -> GramSpectrum:
        if self._spectrum is None:
            jacobian, c = twin_jacobian(self.run, self.max_gb)
            self._spectrum = gram_spectrum(jacobian, c)
        return self._spectrum

    def eigenpairs(self, k: int) -> EigenPairs:
        """The extremes and whole spectrum; `seconds` is this call's time (the first one builds the spectrum)."""
        started = time.perf_counter()
        eigenpairs = self.spectrum.eigenpairs(k)
        eigenpairs.seconds = time.perf_counter() - started
        return eigenpairs

    def rounding(self) -> dict:
        """The row's record of computed eigenvalues in [-error, 0) set to 0 (rounding: H is PSD)."""
        return {"clipped_negatives": self.spectrum.clipped, "clipped_min": self.spectrum.clipped_min}


def twin_point(loss_fn, theta: torch.Tensor) -> TwinPoint:
    """The checkpoint's gradient of the same loss closure the HVP routes differentiate."""
    return TwinPoint(n=int(theta.numel()), grad=torch.func.grad(loss_fn)(theta.detach()).detach())


NO_ROUNDING = {"clipped_negatives": 0, "clipped_min": 0.0}  # the HVP routes clip nothing
