"""Saddle index by one Lanczos probe: exact when it exhausts a low-rank Hessian, a bracketed estimate otherwise.

`analyze hessian` gets its certified index from analyzer/linalg/subspace.py (block Lanczos to an invariant subspace);
this single-vector run is its fallback when that run hits the `krylov_steps` cap (the quadrature below).

The seed MLPs have 1-D inputs, so their Hessians are numerically low rank: on baseline (P = 2,701) about
2,520 eigenvalues are below 1e-10 x lambda_max and only ~180 are not. Lanczos with full
reorthogonalisation from one random vector then reaches an invariant subspace after ~rank steps; its
Ritz values are the whole non-negligible spectrum (every eigenvalue of H lies within `coupling` of a
Ritz value or of 0, by Weyl's inequality), and the index is a count, not an estimate.

Exhaustion is certified, not assumed: at each breakdown the run restarts from a random vector
orthogonal to the subspace found, and stops only when that vector shows the rest of H to be negligible
(a one-probe Hutchinson estimate of its Frobenius norm below `certify * scale`). A repeated eigenvalue,
which a single Krylov space holds once, fails that test and is found by the restarted run.

When the step cap is reached first (deep preset: rank > 1,500), the run is one probe of stochastic
Lanczos quadrature with many nodes, and the index comes with a bracket that states what it cannot see:
the Chebyshev-Markov-Stieltjes inequalities bound the probe's spectral measure below t between
W(t) - w_k and W(t) + w_(k+1) (the Gauss weights of the nodes on either side of t), and the probe's
sampling error adds 2 x sqrt(2 x count) (Rademacher probe: variance <= 2 x count). The trace counts the
converged Ritz values exactly and samples only the rest.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from analyzer.linalg.eigenpairs import EigenPairs
from analyzer.linalg.operators.base import CurvatureOperator
from analyzer.linalg.solvers import refine

BREAKDOWN = 1e-9  # beta below this x scale: the Krylov space is invariant
CERTIFY = 1e-8  # the rest of H counts as zero when its Frobenius norm is below this x scale


@dataclass
class KrylovRun:
    """Ritz pairs of the block-tridiagonal Lanczos matrix, and what they guarantee about H."""

    ritz: np.ndarray  # ascending
    ritz_vectors: np.ndarray = field(repr=False)  # (steps, steps) eigenvectors of the tridiagonal
    basis: np.ndarray = field(repr=False)  # (steps, n) orthonormal Lanczos vectors
    n: int
    exhausted: bool  # True: the Ritz values are the spectrum of H (zeros aside) to within `coupling`
    coupling: float  # Weyl bound: dropped betas + the certified size of the unexplored rest
    nodes: np.ndarray  # Gauss nodes and weights of the first probe (its block of the tridiagonal)
    weights: np.ndarray
    node_residuals: np.ndarray  # Lanczos residual estimate |beta_last * y_last| of each node

    @property
    def steps(self) -> int:
        return len(self.ritz)

    @property
    def scale(self) -> float:
        return float(np.max(np.abs(self.ritz)))

    def vectors(self, idx: np.ndarray) -> np.ndarray:
        """Ritz vectors (n, len(idx)) for the given Ritz indices."""
        return self.basis.T @ self.ritz_vectors[:, idx]

    def index_bounds(self, threshold: float, known_below: int = 0) -> tuple[float, float, float]:
        """(count, low, high) of eigenvalues below `threshold` < 0.

        Exhausted: the count of Ritz values below it, the bounds from Ritz values within `coupling`.
        Otherwise: the quadrature estimate with its Chebyshev-Markov-Stieltjes bracket and 2 sigma.
        `known_below` (converged eigenvalues below the threshold) is a hard lower bound.
        """
        if self.exhausted:
            count = float(np.sum(self.ritz < threshold))
            low = float(np.sum(self.ritz < threshold - self.coupling))
            high = float(np.sum(self.ritz < threshold + self.coupling))
            if self.coupling >= -threshold:  # the unexplored rest could reach below the threshold
                high += self.n - self.steps
            return count, max(low, known_below), high
        nodes, weights = self.nodes, self.weights
        below = nodes < threshold
        k = int(below.sum())
        estimate = self.n * float(weights[below].sum())
        cms_low = estimate - self.n * (float(weights[k - 1]) if k > 0 else 0.0)
        cms_high = estimate + self.n * (float(weights[k]) if k < len(nodes) else 0.0)
        low = max(cms_low - 2 * math.sqrt(2 * max(cms_low, 1.0)), float(known_below), 0.0)
        high = min(cms_high + 2 * math.sqrt(2 * max(cms_high, 1.0)), float(self.n))
        return max(estimate, float(known_below)), low, high

    def trace(self) -> tuple[float, float]:
        """Trace and its error: exact sum of Ritz values, or the probe's Gauss quadrature of sum(lambda)."""
        if self.exhausted:
            return float(self.ritz.sum()), self.coupling * self.n
        # converged nodes are eigenvalues: count each once instead of n * (its random weight), which
        # removes the top eigenvalues' share of the probe variance; the rest is Hutchinson-sampled
        exact = self.node_residuals <= CERTIFY * self.scale
        sampled = self.n * self.weights[~exact]
        rest = self.nodes[~exact]
        return float(self.nodes[exact].sum() + sampled @ rest), float(math.sqrt(2 * sampled @ rest ** 2))


def krylov_run(op: CurvatureOperator, max_steps: int, seed: int = 0, breakdown: float = BREAKDOWN,
               certify: float = CERTIFY) -> KrylovRun:
    """Lanczos with full reorthogonalisation, restarted at each breakdown, up to `max_steps` HVPs."""
    n = op.n
    cap = min(max_steps, n)
    basis = np.zeros((cap, n))
    rng = np.random.default_rng(seed)
    basis[0] = rng.choice([-1.0, 1.0], size=n) / math.sqrt(n)
    alpha, beta = [], []
    scale, dropped, complement, restart, first_block, exhausted, last_beta = 0.0, 0.0, 0.0, -1, cap, False, 0.0
    for j in range(cap):
        w = op.matvec(basis[j])
        a = float(basis[j] @ w)
        w -= a * basis[j] + (beta[-1] * basis[j - 1] if j > 0 else 0.0)  # the three-term recurrence first,
        w = _orthogonalise(w, basis[: j + 1])  # then full reorthogonalisation removes what rounding left
        b = float(np.linalg.norm(w))
        alpha.append(a)
        scale = max(scale, abs(a), b)
        if j == restart:  # a random vector orthogonal to an invariant subspace: is the rest negligible?
            complement = math.sqrt(n - j) * math.hypot(a, b)  # E ||A q||^2 = ||A||_F^2 / dim for random q
            if complement <= certify * scale:
                exhausted = True
                break
        if j + 1 == cap:
            exhausted, last_beta = cap == n, b
            break
        if b <= breakdown * scale:
            first_block = min(first_block, j + 1)
            dropped += b
            beta.append(0.0)
            restart = j + 1
            basis[j + 1] = _random_orthogonal(rng, basis[: j + 1])
        else:
            beta.append(b)
            basis[j + 1] = w / b
    steps = len(alpha)
    tri = np.diag(alpha) + np.diag(beta[: steps - 1], 1) + np.diag(beta[: steps - 1], -1)
    ritz, ritz_vectors = np.linalg.eigh(tri)
    head = min(first_block, steps)
    nodes, vectors = np.linalg.eigh(tri[:head, :head])  # the first probe's Gauss quadrature
    return KrylovRun(ritz=ritz, ritz_vectors=ritz_vectors, basis=basis[:steps], n=n, exhausted=exhausted,
                     coupling=dropped + complement, nodes=nodes, weights=vectors[0] ** 2,
                     node_residuals=np.abs(last_beta * vectors[-1]) if head == steps else np.full(head, np.inf))


def _orthogonalise(w: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Classical Gram-Schmidt, repeated once only if it cancelled much (DGKS): twice is enough."""
    before = np.linalg.norm(w)
    w = w - basis.T @ (basis @ w)
    if np.linalg.norm(w) < 0.7 * before:
        w = w - basis.T @ (basis @ w)
    return w


def _random_orthogonal(rng: np.random.Generator, basis: np.ndarray) -> np.ndarray:
    z = _orthogonalise(rng.standard_normal(basis.shape[1]), basis)
    return z / np.linalg.norm(z)


def eigenpairs_from_krylov(op: CurvatureOperator, krylov: KrylovRun, k: int, seconds: float = 0.0) -> EigenPairs:
    """Top-k and bottom-k eigenpairs from the extreme Ritz pairs, residuals from fresh HVPs.

    Exact for an exhausted run; otherwise usually converged too (the extremes converge first in
    Lanczos: residuals ~1e-15 x scale after 300 steps on deep) -- the caller checks the residuals.
    """
    k = min(k, krylov.steps)
    top_idx, bottom_idx = np.arange(krylov.steps)[::-1][:k], np.arange(k)
    top, top_vec, top_res = refine(op, krylov.ritz[top_idx], krylov.vectors(top_idx))
    bottom, bottom_vec, bottom_res = refine(op, krylov.ritz[bottom_idx], krylov.vectors(bottom_idx))
    return EigenPairs(top=top, bottom=bottom, top_residual=top_res, bottom_residual=bottom_res, scale=krylov.scale,
                    method="lanczos", n_hvp=krylov.steps + 2 * k, seconds=seconds, top_vectors=top_vec,
                    bottom_vectors=bottom_vec, krylov=krylov)  # "exhaustive" is the certified subspace run's
