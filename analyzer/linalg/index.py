"""Saddle index of one Hessian's eigenpairs: certified counts and null space, the bracket, or the SLQ estimate."""

from __future__ import annotations

import math

import numpy as np

from analyzer.linalg.eigenpairs import EigenPairs

ZERO_TOL = 1e-9  # |lambda| <= this x max |lambda| (or the method's certified error, if larger) is zero


def index_from_eigenpairs(eigenpairs: EigenPairs, threshold: float) -> dict:
    """Exact count with certified bounds, the null space, the count's sensitivity to the tolerance, and the exact
    trace (the sum of every eigenvalue; trace_err its certified bound).

    index_low/high count the eigenvalues that are certainly / possibly below t: computed values below
    t -/+ the certified error (the subspace run's own bounds, hessian_subspace). index_tol_x2/half: the
    counts below 2t and t/2, how much the index depends on the stated tolerance (not an error).
    """
    values, scale = eigenpairs.all_eigenvalues, eigenpairs.scale
    count = int(np.sum(values < threshold))
    if eigenpairs.subspace is not None:
        low, high = eigenpairs.subspace.index_bounds(threshold)
        failure = eigenpairs.subspace.failure_probability
    else:
        low, high = (int(np.sum(values < threshold + sign * eigenpairs.error)) for sign in (-1, 1))
        failure = 0.0
    zero_tol = max(ZERO_TOL * scale, eigenpairs.error)
    return {"index_count": float(count), "index_low": float(low), "index_high": float(high),
            "index_certified": bool(low == high), "certificate_failure_prob": failure,
            "index_tol_x2": float(np.sum(values < 2 * threshold)),
            "index_tol_half": float(np.sum(values < threshold / 2)),
            "null_multiplicity": int(np.sum(np.abs(values) <= zero_tol)), "zero_tol": zero_tol,
            "eigenvalue_error": float(eigenpairs.error), "trace": float(values.sum()),
            "trace_err": float(eigenpairs.error * len(values)), "trace_kind": "exact"}


def index_estimate(eigenpairs: EigenPairs, tol: float, threshold: float) -> dict:
    """Quadrature estimate with its bracket at 2t and t/2 (analyzer/linalg/krylov.py); not certified.

    Hard lower bounds raise the floor: converged bottom eigenvalues below t, and Cauchy interlacing on
    the capped subspace run (each Ritz value lies above its own eigenvalue, so Ritz values below t count).
    The trace is one probe's quadrature: an estimate (curvature/trace.py replaces it by a better one).
    """
    krylov = eigenpairs.krylov
    converged = eigenpairs.bottom_residual <= tol * eigenpairs.scale
    known = int(np.sum((eigenpairs.bottom < threshold) & converged))
    if eigenpairs.subspace is not None:
        known = max(known, int(np.sum(eigenpairs.subspace.ritz < threshold)))
    count = krylov.index_bounds(threshold, known)[0]
    low = min(krylov.index_bounds(2 * threshold, known)[1], count)
    high = max(krylov.index_bounds(threshold / 2, known)[2], count)
    trace, trace_err = krylov.trace()
    return {"index_count": count, "index_low": low, "index_high": high, "index_certified": False,
            "certificate_failure_prob": math.nan, "index_tol_x2": math.nan, "index_tol_half": math.nan,
            "null_multiplicity": math.nan, "zero_tol": math.nan, "eigenvalue_error": math.nan,
            "trace": trace, "trace_err": trace_err, "trace_kind": "estimate"}


def index_from_density(density, rel_tol: float, scale: float) -> dict:
    """Stochastic Lanczos quadrature estimate (analyzer/linalg/slq.py) of the eigenvalues below -rel_tol x scale:
    the expected count with its error bar as index_low/high, never certified; the Hutchinson trace (an estimate,
    trace_err two standard errors)."""
    threshold = -rel_tol * max(scale, density.scale)
    fraction = density.fraction_below(threshold)
    trace, trace_err = density.trace()
    n = density.n
    return {"index_count": fraction.estimate * n, "index_low": fraction.low * n, "index_high": fraction.high * n,
            "index_certified": False, "certificate_failure_prob": math.nan, "index_tol_x2": math.nan,
            "index_tol_half": math.nan, "null_multiplicity": math.nan, "zero_tol": math.nan,
            "eigenvalue_error": math.nan, "trace": trace, "trace_err": trace_err, "trace_kind": "estimate"}
