"""Kernel algebra, model-independent: K = J J^T as a matrix-free operator, its eigenpairs, sign-fixed SVDs.

The operator takes any differentiable function of a flat parameter tensor; building that function from a
trained network (and the layer-signal routes that need the network's structure) lives in analyzer/io/ntk_net.py.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
import scipy.linalg
import scipy.sparse.linalg
import torch

ROUTES = ("auto", "jacobian", "matrix-free")


class KernelOperator(scipy.sparse.linalg.LinearOperator):
    """v -> K v = J (J^T v), J the Jacobian of `function` at `point`, without forming J: one vjp (reverse) and
    one jvp (forward mode) per product."""

    def __init__(self, function: Callable[[torch.Tensor], torch.Tensor], point: torch.Tensor, rows: int):
        self._function = function
        self.trained = point
        self.products = 0
        super().__init__(dtype=np.float64, shape=(rows, rows))

    def transpose_times(self, vectors: torch.Tensor) -> torch.Tensor:
        """J^T V for V of shape (rows, m): m vjps vmapped over one linearisation."""
        _, vjp = torch.func.vjp(self._function, self.trained)
        return torch.func.vmap(lambda v: vjp(v)[0], in_dims=1, out_dims=1)(vectors)

    def times(self, tangents: torch.Tensor) -> torch.Tensor:
        """J T for T of shape (P', m): m jvps vmapped."""
        def one(t):
            return torch.func.jvp(self._function, (self.trained,), (t,))[1]

        return torch.func.vmap(one, in_dims=1, out_dims=1)(tangents)

    def _matmat(self, block: np.ndarray) -> np.ndarray:
        block = torch.as_tensor(np.ascontiguousarray(block, dtype=np.float64).reshape(self.shape[0], -1))
        self.products += block.shape[1]
        with torch.no_grad():
            return self.times(self.transpose_times(block)).numpy()

    def _matvec(self, vector: np.ndarray) -> np.ndarray:
        return self._matmat(vector.reshape(-1, 1)).reshape(-1)

    def _adjoint(self):
        return self  # K is symmetric


@dataclass(frozen=True)
class KernelEigen:
    """Eigenpairs of K, eigenvalues descending; `route` says how they were computed."""

    eigenvalues: np.ndarray
    vectors: np.ndarray  # (rows, k), columns orthonormal
    route: str


def choose_route(route: str, rows: int, jacobian_bytes: int, max_jacobian_gb: float) -> str:
    """The route `auto` resolves to: dense when both J and K fit in `max_jacobian_gb`, else matrix-free."""
    if route not in ROUTES:
        raise ValueError(f"route must be one of {', '.join(ROUTES)}, got {route!r}")
    if route != "auto":
        return route
    kernel_bytes = 8 * rows ** 2
    return "jacobian" if max(jacobian_bytes, kernel_bytes) <= max_jacobian_gb * 2**30 else "matrix-free"


def dense_eigen(kernel: np.ndarray, top_k: int) -> KernelEigen:
    """The top `top_k` eigenpairs (0: all) of a dense symmetric K (LAPACK evd)."""
    values, vectors = scipy.linalg.eigh(kernel, driver="evd")
    values, vectors = values[::-1], vectors[:, ::-1]
    keep = len(values) if top_k == 0 else min(top_k, len(values))
    return KernelEigen(values[:keep].copy(), np.ascontiguousarray(vectors[:, :keep]), "jacobian")


def operator_eigen(operator: scipy.sparse.linalg.LinearOperator, top_k: int, seed: int) -> KernelEigen:
    """The top `top_k` eigenpairs (0 < top_k < rows) of a symmetric operator by Lanczos (ARPACK eigsh)."""
    rows = operator.shape[0]
    if not 0 < top_k < rows:
        raise ValueError(f"the matrix-free route computes the top k eigenpairs: top_k must be in 1..{rows - 1}, "
                         f"got {top_k}")
    start = np.random.default_rng(seed).standard_normal(rows)
    values, vectors = scipy.sparse.linalg.eigsh(operator, k=top_k, which="LA", v0=start, tol=1e-14)
    order = np.argsort(values)[::-1]
    return KernelEigen(values[order], vectors[:, order], "matrix-free")


def signed_svd(matrix: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """U, s (descending), Vt of `matrix` (LAPACK gesdd, thin), signs fixed as `fix_signs` says."""
    left, singular, right_t = scipy.linalg.svd(matrix, full_matrices=False, lapack_driver="gesdd")
    return fix_signs(left, singular, right_t)


def fix_signs(left: np.ndarray, singular: np.ndarray, right_t: np.ndarray):
    """Flip (u_i, v_i) pairs so that the largest-magnitude entry of every u_i is positive: coordinates in this
    basis are then comparable between computations."""
    signs = np.sign(left[np.argmax(np.abs(left), axis=0), np.arange(left.shape[1])])
    signs[signs == 0] = 1.0
    return left * signs, singular, right_t * signs[:, None]
