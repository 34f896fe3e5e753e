"""The exact spectrum of a Gauss-Newton Hessian H = c J^T J from its Jacobian J: one Gram matrix and one eigh.

A loss mean((f_0 + J (theta - theta_0) - y)^2) over n_rows residuals (a linearised twin's) has the Hessian
H = c J^T J, c = 2 / n_rows, at every theta. Its non-zero eigenvalues are c times those of the smaller Gram
matrix, G = J J^T (n_rows x n_rows) or J^T J (P x P when P < n_rows), and every other eigenvalue of H is an exact
0 (P - n of them, n = min(n_rows, P)). Eigenvectors of H in the range: v = J^T u / sqrt(mu) for G u = mu u,
polished by Rayleigh-Ritz so that they are orthonormal to rounding (range_pairs).

Certified error, for every eigenvalue of H (J taken as given, as an HVP route takes its products):
  forming G: |fl(G) - G| <= gamma_m |J| |J|^T entrywise (m the inner dimension, max(n_rows, P); Higham, Accuracy
      and Stability, 3.5), so ||fl(G) - G||_2 <= gamma_m ||J||_F^2 = gamma_m trace(G);
  eigh (LAPACK syevd, backward stable): exact for a matrix within n u ||G||_2 of fl(G) (p(n) = n, generous, as the
      dense route's bound in linalg/solvers.py);
  by Weyl, error = c (gamma_m trace(G) + n u lambda_max(G)); the P - n exact zeros carry no error.
H is positive semi-definite, so a computed eigenvalue in [-error, 0) is rounding: it is set to 0 and counted
(`clipped`, with the most negative one in `clipped_min`). One below -error would break the bound: it is kept as
computed, never hidden.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np

from analyzer.linalg.eigenpairs import UNIT_ROUNDOFF, EigenPairs

GRAM_METHOD = "twin-gram"  # the `method` of rows and eigensystems computed here


@dataclass(frozen=True)
class GramSpectrum:
    """Every eigenvalue of H = c J^T J: the Gram side's n values (ascending, rounding negatives clipped) and P - n
    exact zeros."""

    values: np.ndarray  # (n,) ascending: c x eig(G)
    n_params: int
    error: float  # certified |computed - true| for each listed eigenvalue (module docstring)
    clipped: int  # computed values in [-error, 0) set to 0
    clipped_min: float  # the most negative of them before clipping (0.0 when none)
    side: str  # "rows": G = J J^T; "params": G = J^T J
    seconds: float
    gram_vectors: np.ndarray | None = field(default=None, repr=False)  # eigenvectors of G (columns), if asked

    @property
    def scale(self) -> float:
        return float(np.max(np.abs(self.values))) if len(self.values) else 0.0

    @property
    def trace(self) -> float:
        """c trace(G) = c ||J||_F^2: the sum of every eigenvalue of H."""
        return float(np.sum(self.values))

    def all_eigenvalues(self) -> np.ndarray:
        """All P eigenvalues of H, ascending."""
        return np.sort(np.concatenate([self.values, np.zeros(self.n_params - len(self.values))]))

    def eigenpairs(self, k: int) -> EigenPairs:
        """Top k (descending) and bottom k (ascending) eigenvalues, each within `error`, and the whole spectrum."""
        values = self.all_eigenvalues()
        k = min(k, self.n_params)
        return EigenPairs(top=values[::-1][:k].copy(), bottom=values[:k].copy(), top_residual=np.full(k, self.error),
                          bottom_residual=np.full(k, self.error), scale=self.scale, method=GRAM_METHOD, n_hvp=0,
                          all_eigenvalues=values, error=self.error)


def gram_spectrum(jacobian: np.ndarray, c: float, with_vectors: bool = False) -> GramSpectrum:
    """The spectrum of H = c J^T J (module docstring); `with_vectors` keeps G's eigenvectors for range_pairs."""
    started = time.perf_counter()
    jac = np.asarray(jacobian, dtype=np.float64)
    n_rows, n_params = jac.shape
    side = "rows" if n_rows <= n_params else "params"
    gram = jac @ jac.T if side == "rows" else jac.T @ jac
    n, inner = gram.shape[0], max(n_rows, n_params)
    if with_vectors:
        mu, vectors = np.linalg.eigh(gram)
    else:
        mu, vectors = np.linalg.eigvalsh(gram), None
    gamma = inner * UNIT_ROUNDOFF / (1 - inner * UNIT_ROUNDOFF)
    error_gram = gamma * float(np.trace(gram)) + n * UNIT_ROUNDOFF * float(np.max(np.abs(mu), initial=0.0))
    rounding = (mu < 0) & (mu >= -error_gram)
    clipped_min = float(mu[rounding].min()) if rounding.any() else 0.0
    mu = np.where(rounding, 0.0, mu)
    return GramSpectrum(values=c * mu, n_params=n_params, error=c * error_gram, clipped=int(rounding.sum()),
                        clipped_min=c * clipped_min, side=side, seconds=time.perf_counter() - started,
                        gram_vectors=vectors)


def range_pairs(spectrum: GramSpectrum, jacobian: np.ndarray, c: float, zero_tol: float):
    """(values ascending, orthonormal eigenvectors as columns, max residual ||H v - lambda v||) of H for the
    eigenvalues above `zero_tol`: J^T u / sqrt(mu) spans them; Rayleigh-Ritz on that span makes the vectors
    orthonormal to rounding (1 / sqrt(mu) alone leaves ~u ||G|| / mu of non-orthogonality). The residuals are
    recomputed (two products with J): each value lies within its residual of an eigenvalue of H."""
    if spectrum.gram_vectors is None:
        raise ValueError("range_pairs needs a spectrum computed with_vectors=True")
    jac = np.asarray(jacobian, dtype=np.float64)
    keep = spectrum.values > zero_tol
    if spectrum.side == "params":  # G = J^T J is H / c: its eigenvectors are H's
        values, vectors = spectrum.values[keep], spectrum.gram_vectors[:, keep]
    else:
        span = jac.T @ (spectrum.gram_vectors[:, keep] / np.sqrt(spectrum.values[keep] / c))
        basis, _ = np.linalg.qr(span)
        image = jac @ basis
        values, weights = np.linalg.eigh(c * (image.T @ image))
        vectors = basis @ weights
    residual = c * (jac.T @ (jac @ vectors)) - vectors * values
    worst = float(np.max(np.linalg.norm(residual, axis=0), initial=0.0))
    return values, vectors, worst
