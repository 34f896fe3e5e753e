"""Model-independent eigensolvers on any symmetric curvature operator (a Hessian): dense and restarted Lanczos.

Every Lanczos eigenpair carries its true residual ||Hv - lambda v|| (recomputed with fresh HVPs, never
taken from the Lanczos recurrence); the dense path (and the certified subspace run, analyzer/linalg/subspace.py)
carry a certified bound on |computed - true eigenvalue| in the same fields. A value is called converged
only when that number is below `tol * scale`, where `scale` is the largest eigenvalue magnitude found.
"""

from __future__ import annotations

import time

import numpy as np
import torch
from scipy.sparse.linalg import ArpackNoConvergence, eigsh

from analyzer.linalg.eigenpairs import UNIT_ROUNDOFF, EigenPairs
from analyzer.linalg.operators.base import CurvatureOperator

BYTES_PER_FLOAT64 = 8


def dense_bytes(n_params: int) -> int:
    """Memory the dense path needs: the Hessian, a copy for LAPACK and its workspace (~3 n^2 floats)."""
    return 3 * n_params * n_params * BYTES_PER_FLOAT64


def dense_hessian(op: CurvatureOperator) -> torch.Tensor:
    """The full Hessian, one HVP per basis vector, symmetrised (asymmetry is rounding, ~1e-14)."""
    hess = torch.empty(op.n, op.n, dtype=torch.float64)
    basis = torch.zeros(op.n, dtype=torch.float64)  # 0 and 1: exact in the operator's own dtype too
    for j in range(op.n):
        basis[j] = 1.0
        hess[j] = op.apply(basis)
        basis[j] = 0.0
    return (hess + hess.T) / 2


def dense_eigenpairs(op: CurvatureOperator, k: int) -> EigenPairs:
    """Exact spectrum: the Hessian from P HVPs, then eigenvalues only (torch's LAPACK: 2x numpy's here).

    No eigenvectors: nothing downstream needs them, and they cost 3-5x the eigenvalues. The residual
    fields hold the a-priori bound instead: syevd is backward stable, its eigenvalues are exact for a
    matrix within p(n) u ||H|| of H (LAPACK Users' Guide, 4.7.1), so by Weyl each one is within
    n u max|lambda| of its own (p(n) = n, generous).
    """
    started = time.perf_counter()
    values = torch.linalg.eigvalsh(dense_hessian(op)).numpy()
    k = min(k, op.n)
    scale = float(np.max(np.abs(values)))
    error = op.n * UNIT_ROUNDOFF * scale
    return EigenPairs(top=values[::-1][:k].copy(), bottom=values[:k].copy(), top_residual=np.full(k, error),
                    bottom_residual=np.full(k, error), scale=scale, method="dense", n_hvp=op.n,
                    seconds=time.perf_counter() - started, all_eigenvalues=values, error=error)


def lanczos_eigenpairs(op: CurvatureOperator, k: int, tol: float = 1e-6, ncv: int | None = None,
                     maxiter: int | None = None, seed: int = 0, bottom: bool = True) -> EigenPairs:
    """Top-k and bottom-k eigenpairs by restarted Lanczos (ARPACK eigsh) on HVPs.

    The top run comes first and fixes `scale`; the bottom run works on H - scale*I, which has the same
    Krylov spaces but makes ARPACK's tolerance (relative to each Ritz value) mean ||r|| <= tol*scale
    instead of tol*|lambda_min| -- with lambda_min ~ 1e-4 lambda_max that is the difference between
    ~150 HVPs and minutes. A wide subspace (ncv >= 80) is the other half of the fix: the default
    2k+1 restarts far too often on the clustered bottom of the spectrum.
    """
    started, hvp_before = time.perf_counter(), op.n_products
    if not 0 < k < op.n:
        raise ValueError(f"Lanczos needs 0 < k < n_params = {op.n}, got k = {k}")
    ncv = min(op.n, ncv or max(4 * k, 80))
    maxiter = maxiter or 50 * op.n  # restarts; with ncv >= 80 this is never the binding limit in practice
    rng = np.random.default_rng(seed)
    top, top_vec = _eigsh(op, k, "LA", 0.0, tol, ncv, maxiter, rng.standard_normal(op.n))
    scale = float(np.nanmax(np.abs(top))) if np.any(np.isfinite(top)) else 1.0
    if not bottom:  # top only (benchmarks): the bottom fields are NaN
        bottom, bottom_vec = np.full(k, np.nan), np.full((op.n, k), np.nan)
    else:
        bottom, bottom_vec = _eigsh(op, k, "SA", scale, tol, ncv, maxiter, rng.standard_normal(op.n))
    scale = max(scale, float(np.nanmax(np.abs(bottom))) if np.any(np.isfinite(bottom)) else 0.0)
    top, top_vec, top_res = refine(op, top[::-1], top_vec[:, ::-1])
    bottom, bottom_vec, bottom_res = refine(op, bottom, bottom_vec)
    return EigenPairs(top=top, bottom=bottom, top_residual=top_res, bottom_residual=bottom_res, scale=scale,
                    method="lanczos", n_hvp=op.n_products - hvp_before, seconds=time.perf_counter() - started,
                    top_vectors=top_vec, bottom_vectors=bottom_vec)


def _eigsh(op: CurvatureOperator, k: int, which: str, shift: float, tol: float, ncv: int, maxiter: int,
           v0: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Sorted ascending k eigenpairs of H; missing ones (no convergence) are NaN, never dropped."""
    try:
        values, vectors = eigsh(op.to_scipy(shift), k=k, which=which, tol=tol, ncv=ncv, maxiter=maxiter, v0=v0)
    except ArpackNoConvergence as err:  # partial results are attached: keep them, flag the rest
        values, vectors = err.eigenvalues, err.eigenvectors
    values = np.real(values) + shift
    order = np.argsort(values)
    values, vectors = values[order], np.real(vectors[:, order])
    missing = k - len(values)
    if missing > 0:
        pad = np.full(missing, np.nan)
        values = np.concatenate([values, pad]) if which == "SA" else np.concatenate([pad, values])
        empty = np.full((op.n, missing), np.nan)
        vectors = np.hstack([vectors, empty]) if which == "SA" else np.hstack([empty, vectors])
    return values, vectors


def refine(op: CurvatureOperator, values: np.ndarray, vectors: np.ndarray):
    """Rayleigh quotients and true residuals ||Hv - lambda v||, one fresh HVP per eigenvector."""
    values, residuals = values.copy(), np.full(len(values), np.nan)
    for j in range(len(values)):
        if not np.all(np.isfinite(vectors[:, j])):
            continue
        v = vectors[:, j] / np.linalg.norm(vectors[:, j])
        hv = op.matvec(v)
        values[j] = float(v @ hv)
        residuals[j] = float(np.linalg.norm(hv - values[j] * v))
    return values, vectors, residuals
