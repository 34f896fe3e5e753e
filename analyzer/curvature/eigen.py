"""Extreme eigenpairs of the Hessian of any scalar loss at a point, by the method chosen (dense, certified
subspace run, Krylov quadrature, restarted Lanczos); see the module docstring of saddle.py for the methods."""

from __future__ import annotations

import math
import time
from dataclasses import replace

import torch

from analyzer.curvature.cost import MAX_DENSE_GB, QUADRATURE_STEPS, resolve_method
from analyzer.errors import BadInputError
from analyzer.linalg.eigenpairs import EigenPairs
from analyzer.linalg.krylov import eigenpairs_from_krylov, krylov_run
from analyzer.linalg.operators.base import CurvatureOperator
from analyzer.linalg.operators.hessian import HessianOperator
from analyzer.linalg.slq import spectral_density
from analyzer.linalg.solvers import dense_bytes, dense_eigenpairs, lanczos_eigenpairs
from analyzer.linalg.subspace import SubspaceRun, eigenpairs_from_subspace, subspace_run


def hessian_eigenpairs(loss_fn, theta: torch.Tensor, method: str = "auto", k: int = 10, tol: float = 1e-8,
                     dense_max_params: int = 100, max_dense_gb: float = MAX_DENSE_GB, seed: int = 0,
                     op: CurvatureOperator | None = None, krylov_steps: int = 5000, live=None,
                     estimate: tuple[int, int] | None = None) -> EigenPairs:
    """Extreme eigenvalues of the Hessian of any scalar `loss_fn` at `theta`, by the chosen method.

    `live` (live.LiveNet): the same loss on the live subnetwork, whose Hessian is the full one's non-zero block
    (the other rows and columns are exactly zero). The certified subspace run then works on it, with P - P_live
    more exact zeros; if that run does not certify, the fallbacks use the full operator.
    `estimate` = (probes, steps): no certified run; the index comes from stochastic Lanczos quadrature
    (linalg/slq.py, in `density`) and the extremes from the Krylov fallback below.
    """
    op = op or HessianOperator(loss_fn, theta)
    if k > op.n:
        raise BadInputError(f"k = {k} is larger than the parameter count {op.n}")
    chosen = resolve_method(method, op.n, k, dense_max_params)
    if chosen == "dense":
        needed_gb = dense_bytes(op.n) / 1e9
        if needed_gb > min(max_dense_gb, _available_gb()):
            raise BadInputError(f"dense Hessian of {op.n} parameters needs {needed_gb:.1f} GB, more than the "
                                f"{min(max_dense_gb, _available_gb()):.1f} GB allowed/available; use --method lanczos")
        return dense_eigenpairs(op, k)
    started = time.perf_counter()
    if estimate is not None:
        density = spectral_density(op, *estimate, seed=seed)
        eigenpairs = _extremes(op, k, tol, seed, krylov_steps)
        eigenpairs.density, eigenpairs.n_hvp, eigenpairs.seconds = density, op.n_products, time.perf_counter() - started
        return eigenpairs
    subspace = _subspace_run(op, krylov_steps, seed, live)
    if subspace.certified:
        return eigenpairs_from_subspace(subspace, k, seconds=time.perf_counter() - started)
    eigenpairs = _extremes(op, k, tol, seed, krylov_steps)  # too big for the cap
    eigenpairs.subspace, eigenpairs.n_hvp, eigenpairs.seconds = subspace, op.n_products, time.perf_counter() - started
    return eigenpairs


def _extremes(op: CurvatureOperator, k: int, tol: float, seed: int, krylov_steps: int) -> EigenPairs:
    """One Lanczos probe for the quadrature bracket of the index, extremes from its Ritz pairs when their fresh
    residuals meet `tol`, else from restarted Lanczos."""
    krylov = krylov_run(op, min(QUADRATURE_STEPS, krylov_steps), seed=seed)
    eigenpairs = eigenpairs_from_krylov(op, krylov, k) if krylov.steps >= 2 * k else None
    if eigenpairs is None or not eigenpairs.converged(tol):
        eigenpairs = lanczos_eigenpairs(op, k, tol=tol, seed=seed)
        eigenpairs.krylov = krylov
    return eigenpairs


def _subspace_run(op: CurvatureOperator, krylov_steps: int, seed: int, live) -> SubspaceRun:
    """The certified subspace run on the live block when there is one (module docstring), else on `op`."""
    if live is None or live.n_full != op.n:
        return subspace_run(op, krylov_steps, seed=seed)
    block = live.operator(on_product=op.on_product)
    subspace = subspace_run(block, krylov_steps, seed=seed)
    op.n_products += block.n_products  # the row's n_hvp counts both
    return replace(subspace, n=op.n, basis=None, rayleigh=None)  # the removed coordinates: n - n_live exact zeros


def _available_gb() -> float:
    import os

    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE") / 1e9
    except (ValueError, OSError):
        return math.inf
