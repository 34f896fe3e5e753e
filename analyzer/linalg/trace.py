"""Hutchinson estimate of a Hessian's trace to a stated relative standard error, deflated by known eigenvectors.

For any orthonormal Q (n x k) and P = I - Q Q^T, trace(H) = trace(Q^T H Q) + trace(P H P) exactly (the cross terms
vanish since Q^T P = 0). The first term takes k HVPs; the second is Hutchinson-sampled with Rademacher probes
z (E z^T P H P z = trace(P H P)). With Q the extreme eigenvectors, the outliers that dominate a Hessian's Frobenius
norm, and so the probes' variance, are counted exactly instead of sampled.

Probes are added in blocks until the standard error of the mean is at most `rel_se` x |estimate| (at least
`min_probes` first, so the error is itself estimated from a sample), or `max_probes` are spent: then `capped`
says so and the standard error is whatever was reached. Stopping on the sample's own error biases the mean
slightly towards draws with small spread; at min_probes >= 10 that is well inside the stated error.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analyzer.linalg.operators.base import CurvatureOperator

BLOCK = 10  # probes added between checks of the standard error


@dataclass(frozen=True)
class TraceEstimate:
    """A Hutchinson trace: the value, its standard error, and what it took."""

    value: float
    standard_error: float
    probes: int
    n_hvp: int
    capped: bool  # max_probes were spent before the standard error reached rel_se x |value|
    deflated: int  # eigenvectors counted exactly


def hutchinson_trace(op: CurvatureOperator, rel_se: float = 0.1, max_probes: int = 1000, min_probes: int = 10,
                     seed: int = 0, vectors: np.ndarray | None = None) -> TraceEstimate:
    """Trace of the symmetric operator `op` to standard error <= rel_se x |trace|, or max_probes probes.

    Args:
        vectors: (n, k) columns to deflate by (orthonormalised here); None or empty: plain Hutchinson.
    """
    before = op.n_products
    basis = _orthonormal(vectors, op.n)
    exact = float(sum(basis[:, j] @ op.matvec(basis[:, j]) for j in range(basis.shape[1])))
    rng = np.random.default_rng(seed)
    samples: list[float] = []
    while len(samples) < max_probes:
        for _ in range(min(BLOCK, max_probes - len(samples))):
            probe = _project(rng.choice([-1.0, 1.0], size=op.n), basis)
            samples.append(float(probe @ op.matvec(probe)))
        value, error = _mean_and_error(exact, samples)
        if len(samples) >= min_probes and error <= rel_se * abs(value):
            break
    value, error = _mean_and_error(exact, samples)
    return TraceEstimate(value=value, standard_error=error, probes=len(samples),
                         n_hvp=op.n_products - before, capped=error > rel_se * abs(value),
                         deflated=basis.shape[1])


def _mean_and_error(exact: float, samples: list[float]) -> tuple[float, float]:
    values = np.asarray(samples)
    error = float(values.std(ddof=1) / math.sqrt(len(values))) if len(values) > 1 else math.inf
    return exact + float(values.mean()), error


def _orthonormal(vectors: np.ndarray | None, n: int) -> np.ndarray:
    """An orthonormal basis of the finite columns' span (rank-revealing QR drops dependent columns)."""
    if vectors is None or np.size(vectors) == 0:
        return np.zeros((n, 0))
    columns = np.asarray(vectors, dtype=float).reshape(n, -1)
    columns = columns[:, np.all(np.isfinite(columns), axis=0)]
    if columns.shape[1] == 0:
        return np.zeros((n, 0))
    q, r = np.linalg.qr(columns)
    keep = np.abs(np.diag(r)) > 1e-8 * max(float(np.max(np.abs(np.diag(r)))), 1e-300)
    return q[:, keep]


def _project(v: np.ndarray, basis: np.ndarray) -> np.ndarray:
    return v - basis @ (basis.T @ v) if basis.shape[1] else v
