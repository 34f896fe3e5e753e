"""The one result type of every eigensolver here: extreme eigenpairs with their residuals or certified errors.

Hessians fill both ends (top k descending, bottom k ascending; solvers.py, subspace.py, krylov.py, gram.py); a kernel's
eigenpairs (kernel.py) fill the top end only, `bottom` empty. `method` says how they were computed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

UNIT_ROUNDOFF = np.finfo(np.float64).eps / 2


@dataclass
class EigenPairs:
    """Extreme eigenpairs of one symmetric operator: top k descending, bottom k ascending (a kernel's: empty), with
    true residuals or certified errors."""

    top: np.ndarray
    bottom: np.ndarray
    top_residual: np.ndarray
    bottom_residual: np.ndarray
    scale: float  # largest |eigenvalue| found: every relative tolerance refers to it
    method: str
    n_hvp: int = 0  # operator products it took (the name the JSON rows and the stored points read)
    seconds: float = 0.0
    all_eigenvalues: np.ndarray | None = None  # every eigenvalue, ascending (dense and certified subspace)
    error: float = float("nan")  # certified |listed - true eigenvalue| for all_eigenvalues; nan: none
    top_vectors: np.ndarray | None = field(default=None, repr=False)
    bottom_vectors: np.ndarray | None = field(default=None, repr=False)
    krylov: object | None = field(default=None, repr=False)  # linalg.krylov.KrylovRun behind the index
    subspace: object | None = field(default=None, repr=False)  # analyzer/linalg/subspace.py.SubspaceRun behind it
    density: object | None = field(default=None, repr=False)  # linalg.slq.SpectralDensity: the index estimate

    def converged(self, tol: float) -> bool:
        residuals = np.concatenate([self.top_residual, self.bottom_residual])
        return bool(np.all(np.isfinite(residuals)) and np.all(residuals <= tol * self.scale))

    @property
    def max_rel_residual(self) -> float:
        residuals = np.concatenate([self.top_residual, self.bottom_residual])
        return float(np.max(residuals) / self.scale) if self.scale > 0 else float("nan")
