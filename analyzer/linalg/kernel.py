"""Kernel algebra, model-independent: the eigenpairs of K = J J^T (dense, or by Lanczos on its operator,
analyzer/linalg/operators/ntk.py) and sign-fixed SVDs. Building K from a trained network (and the layer-signal
routes that need the network's structure) lives in analyzer/io/ntk_net.py.
"""

from __future__ import annotations

import numpy as np
import scipy.linalg
import scipy.sparse.linalg

from analyzer.linalg.eigenpairs import UNIT_ROUNDOFF, EigenPairs
from analyzer.linalg.operators.base import CurvatureOperator

ROUTES = ("auto", "jacobian", "matrix-free")


def choose_route(route: str, rows: int, jacobian_bytes: int, max_jacobian_gb: float) -> str:
    """The route `auto` resolves to: dense when both J and K fit in `max_jacobian_gb`, else matrix-free."""
    if route not in ROUTES:
        raise ValueError(f"route must be one of {', '.join(ROUTES)}, got {route!r}")
    if route != "auto":
        return route
    kernel_bytes = 8 * rows ** 2
    return "jacobian" if max(jacobian_bytes, kernel_bytes) <= max_jacobian_gb * 2**30 else "matrix-free"


def dense_eigen(kernel: np.ndarray, top_k: int) -> EigenPairs:
    """The top `top_k` eigenpairs (0: all) of a dense symmetric K (LAPACK evd), method "jacobian". The residual
    fields hold syevd's a-priori bound n u max|lambda| (as solvers.dense_eigenpairs); `all_eigenvalues` every one."""
    ascending, vectors = scipy.linalg.eigh(kernel, driver="evd")
    values, vectors = ascending[::-1], vectors[:, ::-1]
    keep = len(values) if top_k == 0 else min(top_k, len(values))
    scale = float(np.max(np.abs(values), initial=0.0))
    error = len(values) * UNIT_ROUNDOFF * scale
    return _top_pairs(values[:keep].copy(), np.ascontiguousarray(vectors[:, :keep]), np.full(keep, error), scale,
                      "jacobian", all_eigenvalues=ascending, error=error)


def operator_eigen(operator: CurvatureOperator, top_k: int, seed: int) -> EigenPairs:
    """The top `top_k` eigenpairs (0 < top_k < rows) of a symmetric operator by Lanczos (ARPACK eigsh), method
    "matrix-free"; residuals not recomputed (NaN: the products would cost top_k more)."""
    rows, before = operator.shape[0], operator.n_products
    if not 0 < top_k < rows:
        raise ValueError(f"the matrix-free route computes the top k eigenpairs: top_k must be in 1..{rows - 1}, "
                         f"got {top_k}")
    start = np.random.default_rng(seed).standard_normal(rows)
    values, vectors = scipy.sparse.linalg.eigsh(operator, k=top_k, which="LA", v0=start, tol=1e-14)
    order = np.argsort(values)[::-1]
    return _top_pairs(values[order], vectors[:, order], np.full(top_k, np.nan),
                      float(np.max(np.abs(values))), "matrix-free", n_products=operator.n_products - before)


def _top_pairs(values: np.ndarray, vectors: np.ndarray, residuals: np.ndarray, scale: float, method: str,
               n_products: int = 0, **fields) -> EigenPairs:
    """A kernel's eigenpairs: the top end only (descending, columns orthonormal), `bottom` empty."""
    empty = np.empty(0)
    return EigenPairs(top=values, bottom=empty, top_residual=residuals, bottom_residual=empty, scale=scale,
                      method=method, n_hvp=n_products, top_vectors=vectors, **fields)


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
