"""Saddle index of one Hessian spectrum: certified counts and null space, or the quadrature estimate."""

from __future__ import annotations

import math

import numpy as np

from analyzer.hessian_solvers import Spectrum

ZERO_TOL = 1e-9  # |lambda| <= this x max |lambda| (or the method's certified error, if larger) is zero


def index_from_spectrum(spectrum: Spectrum, threshold: float) -> dict:
    """Exact count with certified bounds, the null space, and the count's sensitivity to the tolerance.

    index_low/high count the eigenvalues that are certainly / possibly below t: computed values below
    t -/+ the certified error (the subspace run's own bounds, hessian_subspace). index_tol_x2/half: the
    counts below 2t and t/2, how much the index depends on the stated tolerance (not an error).
    """
    values, scale = spectrum.all_eigenvalues, spectrum.scale
    count = int(np.sum(values < threshold))
    if spectrum.subspace is not None:
        low, high = spectrum.subspace.index_bounds(threshold)
        failure = spectrum.subspace.failure_probability
    else:
        low, high = (int(np.sum(values < threshold + sign * spectrum.error)) for sign in (-1, 1))
        failure = 0.0
    zero_tol = max(ZERO_TOL * scale, spectrum.error)
    return {"index_count": float(count), "index_low": float(low), "index_high": float(high),
            "index_certified": bool(low == high), "certificate_failure_prob": failure,
            "index_tol_x2": float(np.sum(values < 2 * threshold)),
            "index_tol_half": float(np.sum(values < threshold / 2)),
            "null_multiplicity": int(np.sum(np.abs(values) <= zero_tol)), "zero_tol": zero_tol,
            "eigenvalue_error": float(spectrum.error), "trace": float(values.sum()),
            "trace_err": float(spectrum.error * len(values))}


def index_estimate(spectrum: Spectrum, tol: float, threshold: float) -> dict:
    """Quadrature estimate with its bracket at 2t and t/2 (hessian_krylov); not certified.

    Hard lower bounds raise the floor: converged bottom eigenvalues below t, and Cauchy interlacing on
    the capped subspace run (each Ritz value lies above its own eigenvalue, so Ritz values below t count).
    """
    run = spectrum.krylov
    converged = spectrum.bottom_residual <= tol * spectrum.scale
    known = int(np.sum((spectrum.bottom < threshold) & converged))
    if spectrum.subspace is not None:
        known = max(known, int(np.sum(spectrum.subspace.ritz < threshold)))
    count = run.index_bounds(threshold, known)[0]
    low = min(run.index_bounds(2 * threshold, known)[1], count)
    high = max(run.index_bounds(threshold / 2, known)[2], count)
    trace, trace_err = run.trace()
    return {"index_count": count, "index_low": low, "index_high": high, "index_certified": False,
            "certificate_failure_prob": math.nan, "index_tol_x2": math.nan, "index_tol_half": math.nan,
            "null_multiplicity": math.nan, "zero_tol": math.nan, "eigenvalue_error": math.nan,
            "trace": trace, "trace_err": trace_err}
