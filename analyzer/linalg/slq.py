"""Stochastic Lanczos quadrature (SLQ): the Hessian's spectral density from a few probes, and the fraction of
eigenvalues below a threshold with an error bar -- a fast estimate for large P, never a certified count.

Each probe v (Rademacher, unit norm) gives, after m Lanczos steps with full reorthogonalisation
(analyzer/linalg/krylov.py), the Gauss quadrature (nodes theta_j, weights w_j) of its spectral measure
mu_v = sum_i (q_i . v)^2 delta(lambda_i), whose mean over probes is the spectral density: E mu_v(t) = count(< t) / n.

Two errors, both in the bar:
  quadrature: the Chebyshev-Markov-Stieltjes inequalities bound mu_v((-inf, t)) between the weights of the
      nodes below t minus the weight of the last one and plus the weight of the next one (none when the
      probe's Krylov space is invariant: its nodes are then eigenvalues and the sum is exact);
  sampling: the probes' lower and upper bounds are averaged, and each side moves by `z` standard errors of
      its mean over probes (a probe's bound lies in [0, 1], so the standard error is finite; z = 2: one-sided
      ~97.7 % each when the mean is near normal, as it is for tens of probes on a spread-out spectrum).
The reported fraction is the mean quadrature estimate; [low, high] is the bar, clipped to [0, 1].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import scipy.linalg

from analyzer.linalg.krylov import BREAKDOWN, _orthogonalise
from analyzer.linalg.operators.base import CurvatureOperator

PROBES = 16  # probe vectors: the sampling error falls as 1 / sqrt(probes)
STEPS = 150  # Lanczos steps per probe: the quadrature bracket narrows as the nodes fill the spectrum
Z = 2.0  # standard errors added on each side of the bar


@dataclass(frozen=True)
class FractionEstimate:
    """Fraction of eigenvalues below a threshold: estimate and its error bar [low, high], all in [0, 1]."""

    estimate: float
    low: float
    high: float
    sampling_error: float  # standard error of the estimate over probes

    @property
    def half_width(self) -> float:
        return (self.high - self.low) / 2


@dataclass
class SpectralDensity:
    """The Lanczos tridiagonals of `probes` random vectors: their Gauss quadratures and CMS brackets."""

    alphas: list[np.ndarray]  # diagonal of each probe's tridiagonal
    betas: list[np.ndarray]  # its off-diagonal, with the last (residual) beta appended: len(alphas) entries
    n: int
    n_hvp: int
    steps: int

    @property
    def probes(self) -> int:
        return len(self.alphas)

    @property
    def scale(self) -> float:
        """Largest |node| over the probes: a lower bound on max |eigenvalue| (the extremes converge first)."""
        return float(max(np.max(np.abs(gauss(a, b)[0])) for a, b in zip(self.alphas, self.betas)))

    def fraction_below(self, threshold: float, z: float = Z) -> FractionEstimate:
        """Fraction of eigenvalues below `threshold`, with the quadrature and sampling errors (module docstring)."""
        per_probe = np.array([probe_bounds(a, b, threshold) for a, b in zip(self.alphas, self.betas)])
        estimate, low, high = per_probe.mean(axis=0)
        spread = per_probe.std(axis=0, ddof=1) / math.sqrt(self.probes) if self.probes > 1 else np.full(3, 0.5)
        return FractionEstimate(float(estimate), float(max(low - z * spread[1], 0.0)),
                                float(min(high + z * spread[2], 1.0)), float(spread[0]))

    def trace(self, z: float = Z) -> tuple[float, float]:
        """Hutchinson trace by quadrature (exact for each probe: v^T H v = alpha_0), z standard errors."""
        values = np.array([self.n * float(a[0]) for a in self.alphas])
        error = z * values.std(ddof=1) / math.sqrt(self.probes) if self.probes > 1 else math.inf
        return float(values.mean()), float(error)


def gauss(alphas: np.ndarray, betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and weights of the Gauss quadrature of the tridiagonal (the first len(alphas) - 1 betas)."""
    nodes, vectors = scipy.linalg.eigh_tridiagonal(alphas, betas[:-1])
    return nodes, vectors[0] ** 2


def probe_bounds(alphas: np.ndarray, betas: np.ndarray, threshold: float) -> tuple[float, float, float]:
    """(Gauss estimate, low, high) of one probe's measure below `threshold`.

    low/high: the quadrature with a node prescribed at the threshold (the tridiagonal extended by the last beta
    and a diagonal entry that makes `threshold` an eigenvalue): the mass below it is certainly at least the
    weights of the nodes below, and at most that plus the weight at the threshold, the largest mass any measure
    with the probe's moments can put there (Chebyshev-Markov-Stieltjes). Exact when the Krylov space is invariant.
    """
    nodes, weights = gauss(alphas, betas)
    estimate = float(weights[nodes < threshold].sum())
    last = float(betas[-1])
    if last <= BREAKDOWN * max(float(np.max(np.abs(nodes))), 1e-300):
        return estimate, estimate, estimate
    shifted = np.diag(alphas - threshold) + np.diag(betas[:-1], 1) + np.diag(betas[:-1], -1)
    rhs = np.zeros(len(alphas))
    rhs[-1] = last ** 2
    try:
        delta = np.linalg.solve(shifted, rhs)
    except np.linalg.LinAlgError:  # the threshold is a Gauss node: nudge it by rounding
        delta = np.linalg.lstsq(shifted, rhs, rcond=None)[0]
    extended = scipy.linalg.eigh_tridiagonal(np.append(alphas, threshold + delta[-1]), betas)
    radau_nodes, radau_weights = extended[0], extended[1][0] ** 2
    at = int(np.argmin(np.abs(radau_nodes - threshold)))
    below = float(radau_weights[(radau_nodes < threshold) & (np.arange(len(radau_nodes)) != at)].sum())
    return estimate, max(below, 0.0), min(below + float(radau_weights[at]), 1.0)


def lanczos_tridiagonal(op: CurvatureOperator, steps: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Lanczos with full reorthogonalisation from a Rademacher probe: (alphas, betas) up to `steps` steps or a
    breakdown; betas end with the last residual norm (0 at a breakdown)."""
    n = op.n
    cap = min(steps, n)
    basis = np.zeros((cap, n))
    basis[0] = rng.choice([-1.0, 1.0], size=n) / math.sqrt(n)
    alphas, betas, scale = [], [], 0.0
    for j in range(cap):
        w = op.matvec(basis[j])
        alphas.append(float(basis[j] @ w))
        w -= alphas[-1] * basis[j] + (betas[-1] * basis[j - 1] if j > 0 else 0.0)
        w = _orthogonalise(w, basis[: j + 1])
        beta = float(np.linalg.norm(w))
        scale = max(scale, abs(alphas[-1]), beta)
        if beta <= BREAKDOWN * scale or j + 1 == cap:
            betas.append(0.0 if beta <= BREAKDOWN * scale or cap == n else beta)
            break
        betas.append(beta)
        basis[j + 1] = w / beta
    return np.array(alphas), np.array(betas)


def spectral_density(op: CurvatureOperator, probes: int = PROBES, steps: int = STEPS, seed: int = 0) -> SpectralDensity:
    """SLQ with `probes` Rademacher probes of `steps` Lanczos steps each, from one seeded generator."""
    rng, before = np.random.default_rng(seed), op.n_products
    alphas, betas = zip(*(lanczos_tridiagonal(op, steps, rng) for _ in range(probes)))
    return SpectralDensity(alphas=list(alphas), betas=list(betas), n=op.n, n_hvp=op.n_products - before, steps=steps)
