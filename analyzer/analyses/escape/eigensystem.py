"""The Hessian's non-zero eigenpairs at a checkpoint (dense, or the certified subspace run's Ritz pairs) and the
fraction of a displacement each eigenspace holds.

Eigenpairs. Up to `dense_max_params` parameters: the dense Hessian (P HVPs) and LAPACK's eigh. Above: the
certified subspace run (analyzer/linalg/subspace.py) on the live block (dead ReLU units removed: their rows
and columns of H are exactly zero) or on the whole operator; its basis Q spans an invariant subspace, so
the Ritz pairs (theta_i, Q w_i) of S = Q^T H Q are eigenpairs of H to the certified error, and every other
eigenvalue is zero within it. An uncertified run fails the analysis (AnalysisFailed): no overlap is reported
on a subspace that might miss part of the spectrum.

A linearised twin's Hessian is (2 / (N o)) J_0^T J_0 at every checkpoint: its eigenpairs come from J_0's Gram matrix
once per run (twin_eigensystem, method "twin-gram"), whatever P.

Overlaps of a displacement d (fractions of ||d||^2):
  overlap_negative = ||P_neg d||^2 / ||d||^2, P_neg the projector on the eigenvectors with eigenvalue below
      t = -index_tol x max |eigenvalue| (n_negative of them);
  overlap_top = the same for the n_negative largest eigenvalues;
  overlap_random = n_negative / rank x ||P_range d||^2 / ||d||^2: the expected overlap with a uniformly random
      (Haar) n_negative-dimensional subspace of H's range (rank = eigenvalues with |lambda| > zero_tol, the
      Hessian analysis' zero rule) -- the null "d has no preference among curvature directions";
  range_fraction = ||P_range d||^2 / ||d||^2;
  overlap_negative_norm = overlap_negative / (n_negative / rank), overlap_top_norm likewise: the overlap in units
      of what a uniformly random direction in H's range would have (n_negative / rank), so that displacements
      measured against Hessians with different numbers of negative eigenvalues compare (1: no preference; NaN
      when n_negative = 0). d's part outside the range is not divided out: motion along H's null space counts
      as motion off the negative eigenspace.
Eigenspaces are projected with their whole orthonormal bases, so a repeated eigenvalue inside a set changes
nothing; the top set is ambiguous only if the n_negative-th and next largest eigenvalues coincide.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzer.errors import AnalysisFailed


@dataclass
class Eigensystem:
    """Eigenvalues (ascending) and unit eigenvectors (columns, full parameter coordinates) spanning H's range
    and its negative part; every eigenvalue not listed is zero within `error`."""

    values: np.ndarray
    vectors: np.ndarray  # (n_params, m)
    n_params: int
    error: float  # certified |listed - true| for every eigenvalue (and bound on the unlisted ones)
    method: str  # "dense", "exhaustive" or "twin-gram" (a linearised twin's, twin_eigensystem)
    n_hvp: int

    @property
    def scale(self) -> float:
        return float(np.max(np.abs(self.values))) if len(self.values) else 0.0

    @property
    def zero_tol(self) -> float:
        from analyzer.linalg.index import ZERO_TOL  # torch: imported when a Hessian is computed

        return max(ZERO_TOL * self.scale, self.error)

    def all_eigenvalues(self) -> np.ndarray:
        return np.sort(np.concatenate([self.values, np.zeros(self.n_params - len(self.values))]))


def eigensystem(run, theta, params) -> Eigensystem:
    """The eigenpairs of the training loss' Hessian at `theta` (module docstring)."""
    from analyzer.core import progress
    from analyzer.curvature.live import live_subnetwork
    from analyzer.io.model import loss_closure
    from analyzer.linalg.eigenpairs import UNIT_ROUNDOFF
    from analyzer.linalg.operators.hessian import HessianOperator
    from analyzer.linalg.solvers import dense_hessian

    if run.linearized is not None:
        return twin_eigensystem(run, params)
    op = HessianOperator(loss_closure(run, params.dtype), theta, on_product=progress.tick)
    if op.n <= params.dense_max_params:
        values, vectors = np.linalg.eigh(dense_hessian(op).numpy())
        error = op.n * UNIT_ROUNDOFF * float(np.max(np.abs(values)))
        return Eigensystem(values, vectors, op.n, error, "dense", op.n_products)
    live = live_subnetwork(run, theta)
    on_live = live is not None and live.n_full == op.n
    block, keep = (live.operator(on_product=progress.tick), live.keep) if on_live else (op, None)
    values, vectors, error, n_hvp = _certified_pairs(block, params)
    if keep is not None:
        full = np.zeros((op.n, vectors.shape[1]))
        full[keep] = vectors
        vectors = full
    return Eigensystem(values, vectors, op.n, error, "exhaustive", n_hvp)


def twin_eigensystem(run, params) -> Eigensystem:
    """A linearised twin's Hessian eigenpairs, the same at every checkpoint: from J_0 and its Gram matrix
    (analyzer/linalg/gram.py, the Hessian analysis' twin route), no HVP. The error is the larger of the spectrum's
    certified bound and the Ritz pairs' recomputed residuals."""
    from analyzer.curvature.twin import twin_jacobian
    from analyzer.linalg.gram import GRAM_METHOD, gram_spectrum, range_pairs
    from analyzer.linalg.index import ZERO_TOL

    jacobian, c = twin_jacobian(run)  # the Hessian analysis' default memory cap (curvature/cost.py: MAX_DENSE_GB)
    spectrum = gram_spectrum(jacobian, c, with_vectors=True)
    zero_tol = max(ZERO_TOL * spectrum.scale, spectrum.error)  # the unlisted ones are zero within it
    values, vectors, residual = range_pairs(spectrum, jacobian, c, zero_tol)
    return Eigensystem(values, vectors, int(run.n_params), max(spectrum.error, residual), GRAM_METHOD, 0)


def _certified_pairs(op, params) -> tuple[np.ndarray, np.ndarray, float, int]:
    from analyzer.linalg.subspace import subspace_run

    run = subspace_run(op, params.krylov_steps, seed=params.seed)
    if not run.certified:
        raise AnalysisFailed(f"the certified subspace run did not close within {params.krylov_steps} dimensions "
                             "(raise --krylov-steps); no overlap is reported on an uncertified subspace")
    values, weights = np.linalg.eigh((run.rayleigh + run.rayleigh.T) / 2)
    return values, run.basis.T @ weights, run.error, run.n_hvp


def overlaps(system: Eigensystem, displacement: np.ndarray, index_tol: float) -> dict:
    """n_negative, rank and the overlap fractions of `displacement` (module docstring)."""
    d = np.asarray(displacement, dtype=np.float64)
    total = float(d @ d)
    values, coords = system.values, system.vectors.T @ d  # coordinates of d on each eigenvector
    negative = values < -index_tol * system.scale
    n_negative = int(negative.sum())
    in_range = np.abs(values) > system.zero_tol
    top = np.zeros(len(values), dtype=bool)
    if n_negative:
        top[np.argsort(values)[::-1][:n_negative]] = True
    share = (lambda mask: float(np.sum(coords[mask] ** 2)) / total) if total > 0 else (lambda mask: np.nan)  # noqa: E731
    rank = int(in_range.sum())
    range_fraction = share(in_range)
    chance = n_negative / rank if rank and n_negative else np.nan  # a random direction in the range
    overlap_negative, overlap_top = share(negative), share(top)
    return {"n_negative": n_negative, "rank": rank, "overlap_negative": overlap_negative, "overlap_top": overlap_top,
            "overlap_random": n_negative / rank * range_fraction if rank else np.nan,
            "range_fraction": range_fraction, "step_norm": float(np.sqrt(total)),
            "overlap_negative_norm": overlap_negative / chance, "overlap_top_norm": overlap_top / chance}


def most_negative(system: Eigensystem, count: int, index_tol: float) -> tuple[np.ndarray, np.ndarray]:
    """Up to `count` most negative eigenvalues below the tolerance and their eigenvectors (columns)."""
    order = np.argsort(system.values)[:count]
    order = order[system.values[order] < -index_tol * system.scale]
    return system.values[order], system.vectors[:, order]
