"""Certified full spectrum of a numerically low-rank Hessian: block Lanczos to an invariant subspace.

The seed MLPs' Hessians have an exact null space (ReLU units and 1-D inputs: on deep, P = 10,351, only
~2,150 eigenvalues are above 1e-16 x lambda_max). Block Lanczos with full reorthogonalisation and
deflation builds an orthonormal Q (P x m) until H Q lies in span(Q); the Rayleigh-Ritz matrix
S = Q^T H Q then holds every non-zero eigenvalue, and the other P - m are zero, up to a certified error.

Certificate. Write H in the basis [Q, Q_perp]: H = [[S, W^T], [W, T]], W = Q_perp^T H Q, T = Q_perp^T H Q_perp.
  (1) ||W||_2 <= `offdiag_bound`, deterministic: the columns of H Q_j that left the Krylov space were
      dropped at deflation (singular values below `drop_tol` x scale); W is made of them (and, when
      the cap stops the run, of the last residual block), so ||W||_F^2 <= sum of their squares, plus
      a rounding allowance m x u x scale.
  (2) ||T||_2 <= ||H (I - Q Q^T)||_2 <= `complement_bound`, probabilistic: for s standard Gaussian probes
      w_i, ||B|| <= 10 sqrt(2/pi) max_i ||B w_i|| fails with probability at most 10^-s (Halko, Martinsson,
      Tropp 2011, Lemma 4.1, after Dixon 1983); s = 10 here, so at most 1e-10 per certification.
  By Weyl's inequality the sorted eigenvalues of H lie within ||W|| of the sorted union of eig(S) and P - m
  values in [-||T||, ||T||]. So each Ritz value is within `offdiag_bound` of its eigenvalue, the P - m
  unresolved ones are within `error` = offdiag + complement of zero, and the count of eigenvalues below
  t < -error is bracketed by the Ritz values below t -/+ offdiag (exact when none is that close to t).
Breakdown of the Krylov recurrence alone proves nothing (a repeated eigenvalue has more copies than the
block size reaches), hence the probes; when they fail they become the next block and the run goes on.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from analyzer.linalg.eigenpairs import UNIT_ROUNDOFF, EigenPairs

if TYPE_CHECKING:  # scipy's sparse linalg stays unimported here (the report's plan reads PROBES)
    from analyzer.linalg.operators.base import CurvatureOperator

DROP_TOL = 1e-11  # a deflated column is below this x scale; sets offdiag_bound (~sqrt(dropped) x this)
PROBES = 10  # Gaussian probes per certification: failure probability <= 10^-PROBES
PROBE_FACTOR = 10 * math.sqrt(2 / math.pi)  # Lemma 4.1 of Halko-Martinsson-Tropp with alpha = 10
CERTIFY_TOL = 1e-8  # certified when the error bound is below this x scale (seen: 5e-11..7e-10 x scale)
REORTH_RATIO = 1e-4  # kept singular values below this x ||H V|| get one more orthogonalisation pass
PREALLOCATE_BYTES = 2**30  # a basis up to this size is allocated at its largest at once, instead of grown


@dataclass
class SubspaceRun:
    """Rayleigh-Ritz on the subspace found, and the certified distance to the spectrum of H."""

    ritz: np.ndarray  # ascending eigenvalues of S = Q^T H Q
    n: int
    offdiag_bound: float  # >= ||(I - QQ^T) H Q||_2: each Ritz value is this close to an eigenvalue
    complement_bound: float  # >= ||H (I - QQ^T)||_2 with probability >= 1 - failure_probability
    certified: bool  # complement_bound + offdiag_bound <= CERTIFY_TOL x scale: the zeros are certified
    failure_probability: float
    n_hvp: int
    basis: np.ndarray | None = field(repr=False)  # (m, n) orthonormal rows: Q^T (None: run on a live block)
    rayleigh: np.ndarray | None = field(default=None, repr=False)  # (m, m) S = Q^T H Q: Ritz vectors Q W (escape)

    @property
    def dim(self) -> int:
        return len(self.ritz)

    @property
    def scale(self) -> float:
        return float(np.max(np.abs(self.ritz))) if self.dim else 0.0

    @property
    def error(self) -> float:
        """Certified bound on |eigenvalue - reported value| for every entry of `all_eigenvalues`."""
        return self.offdiag_bound + self.complement_bound

    def all_eigenvalues(self) -> np.ndarray:
        """All n eigenvalues, ascending: the Ritz values and n - m zeros (the certified null space)."""
        return np.sort(np.concatenate([self.ritz, np.zeros(self.n - self.dim)]))

    def index_bounds(self, threshold: float) -> tuple[int, int]:
        """Certified (low, high) count of eigenvalues below `threshold` < 0 (see the module docstring)."""
        low = int(np.sum(self.ritz < threshold - self.offdiag_bound))
        high = int(np.sum(self.ritz < threshold + self.offdiag_bound))
        if self.error >= -threshold or not self.certified:  # the unresolved values could sit below t
            high += self.n - self.dim
        return low, high


def subspace_run(op: CurvatureOperator, max_dim: int, block: int = 32, seed: int = 0, drop_tol: float = DROP_TOL,
                 certify_tol: float = CERTIFY_TOL, probes: int = PROBES) -> SubspaceRun:
    """Block Lanczos with full reorthogonalisation and deflation until certified or `max_dim` columns."""
    rng = np.random.default_rng(seed)
    cap = min(max_dim, op.n)
    lanczos = _BlockLanczos(op, drop_tol, room=cap + max(block, probes))
    new = _orthonormal_rows(rng.standard_normal((min(block, cap), op.n)), lanczos.basis[:0])
    complement, certified, attempts = math.inf, False, 0
    while True:
        new = lanczos.extend(new)
        if len(new) and lanczos.m < cap:
            continue
        attempts += 1  # the Krylov space is invariant (or the cap is reached): how big is the rest?
        complement, probe_rows = _probe_complement(op, lanczos.basis[:lanczos.m], rng, probes)
        lanczos.n_hvp += probes
        certified = not len(new) and lanczos.offdiag_bound() + complement <= certify_tol * lanczos.scale
        if certified or lanczos.m >= cap:
            break
        new = _orthonormal_rows(probe_rows, lanczos.basis[:lanczos.m])  # the probes saw more of H
    m = lanczos.m
    import torch  # its LAPACK call: 2x numpy's here; the module itself is torch-free

    ritz = torch.linalg.eigvalsh(torch.from_numpy(lanczos.s_matrix[:m, :m])).numpy()  # 2x numpy's LAPACK here
    return SubspaceRun(ritz=ritz, n=op.n,
                       offdiag_bound=lanczos.offdiag_bound(), complement_bound=complement, certified=certified,
                       failure_probability=attempts * 10.0 ** -probes, n_hvp=lanczos.n_hvp,
                       basis=lanczos.basis[:m], rayleigh=lanczos.s_matrix[:m, :m].copy())


class _BlockLanczos:
    """Orthonormal rows Q^T, the Rayleigh-Ritz matrix S = Q^T H Q and the norm dropped at deflation."""

    def __init__(self, op: CurvatureOperator, drop_tol: float, room: int):
        self.op, self.drop_tol, self.room = op, drop_tol, room
        self.basis, self.s_matrix = np.empty((0, op.n)), np.zeros((0, 0))  # grown block by block
        self.m, self.previous, self.n_hvp, self.dropped_sq, self.scale = 0, 0, 0, 0.0, 0.0
        self.pending_sq = 0.0  # the part of H Q not yet in span(Q): zero once the space is invariant

    def offdiag_bound(self) -> float:
        """>= ||(I - QQ^T) H Q||_2: the dropped and pending columns, plus a rounding allowance m u scale."""
        return math.sqrt(self.dropped_sq + self.pending_sq) + self.m * UNIT_ROUNDOFF * self.scale

    def extend(self, new: np.ndarray) -> np.ndarray:
        """Append the orthonormal rows `new`, apply H; return the next block (empty when invariant)."""
        images = np.stack([self.op.matvec(v) for v in new])
        self.n_hvp, m, b = self.n_hvp + len(new), self.m, len(new)
        self._grow(m + b)
        self.basis[m:m + b] = new
        # the block three-term recurrence first (H Q_j lies in span(Q_j-1, Q_j, Q_j+1) in exact arithmetic),
        # then one pass against all of Q removes what rounding left: 2 instead of 4 products with all of Q
        local = self.basis[self.previous:m + b]
        local_coef = local @ images.T
        residual = images - local_coef.T @ local
        residual, coef = _project_out_once(residual, self.basis[:m + b])
        coef[self.previous:] += local_coef
        self.s_matrix[:m, m:m + b] = coef[:m]
        self.s_matrix[m:m + b, :m] = coef[:m].T
        self.s_matrix[m:m + b, m:m + b] = (coef[m:] + coef[m:].T) / 2
        self.m, self.previous = m + b, m
        image_norm = float(np.max(np.linalg.norm(images, axis=1)))  # ||H q|| <= ||H||: a lower bound
        self.scale = max(self.scale, float(np.max(np.abs(coef[m:]))), image_norm)
        u, sigma, _ = np.linalg.svd(residual.T, full_matrices=False)
        keep = sigma > self.drop_tol * self.scale
        self.dropped_sq += float(np.sum(sigma[~keep] ** 2))
        self.pending_sq = float(np.sum(sigma[keep] ** 2))
        if keep.any() and sigma[keep].min() < REORTH_RATIO * image_norm:
            # dividing by a small singular value magnifies the rounding left in the residual's
            # projection on Q (~ u |H V| / sigma): one more pass keeps Q orthonormal
            rows = _orthonormal_rows(u[:, keep].T, self.basis[:self.m])
            lost = int(keep.sum()) - len(rows)  # (never seen) directions QR found dependent: count them
            self.dropped_sq += float(np.sum(sigma[keep][:lost] ** 2))
            self.pending_sq -= float(np.sum(sigma[keep][:lost] ** 2))
            return rows
        return u[:, keep].T.copy()

    def _grow(self, needed: int) -> None:
        """Room for `needed` basis rows: the cap at once when small enough, else growing by half (the final
        size is not known in advance)."""
        if needed <= len(self.basis):
            return
        if self.room * self.op.n * 8 <= PREALLOCATE_BYTES:  # all at once: no copies (pages are touched lazily)
            size = max(needed, self.room)
        else:
            size = max(needed, min(max(int(1.5 * len(self.basis)), 256), self.room))
        basis, s_matrix = np.empty((size, self.op.n)), np.zeros((size, size))
        basis[:self.m] = self.basis[:self.m]
        s_matrix[:self.m, :self.m] = self.s_matrix[:self.m, :self.m]
        self.basis, self.s_matrix = basis, s_matrix


def _project_out_once(rows: np.ndarray, basis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """rows minus their projection on span(basis) (classical Gram-Schmidt), and the coefficients."""
    coef = basis @ rows.T  # numpy's BLAS: ~2x torch's on these tall-by-32 products here (bench/RESULTS.md)
    return rows - coef.T @ basis, coef


def _project_out(rows: np.ndarray, basis: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Twice is enough (Kahan-Parlett): orthogonal to span(basis) to rounding even after cancellation."""
    residual, coef = _project_out_once(rows, basis)
    residual, again = _project_out_once(residual, basis)
    return residual, coef + again


def _orthonormal_rows(rows: np.ndarray, basis: np.ndarray) -> np.ndarray:
    """Orthonormal rows spanning `rows` minus their part in span(basis) (rows already nearly orthogonal)."""
    residual, _ = _project_out(rows, basis) if len(basis) else (rows, None)
    q, r = np.linalg.qr(residual.T)
    strong = np.abs(np.diag(r)) > 1e-3 * max(float(np.max(np.abs(np.diag(r)))), 1e-300)
    return q[:, strong].T.copy()


def _probe_complement(op: CurvatureOperator, basis: np.ndarray, rng: np.random.Generator,
                      probes: int) -> tuple[float, np.ndarray]:
    """Bound on ||H (I - QQ^T)||_2 from Gaussian probes (module docstring, (2)); the projected probes."""
    gaussian = rng.standard_normal((probes, op.n))
    projected, _ = _project_out(gaussian, basis)
    largest = max(float(np.linalg.norm(op.matvec(z))) for z in projected)
    return PROBE_FACTOR * largest, projected


def eigenpairs_from_subspace(subspace: SubspaceRun, k: int, seconds: float = 0.0) -> EigenPairs:
    """Top-k and bottom-k of the full certified spectrum: Ritz values and the null space's zeros, in order.

    The residual fields hold each value's certified error: offdiag_bound for a Ritz value outside
    [-complement, complement] (the unresolved values cannot change its rank in the sorted list),
    offdiag + complement for the zeros and the Ritz values among them (module docstring).
    """
    values = subspace.all_eigenvalues()
    errors = np.where(np.abs(values) <= subspace.complement_bound, subspace.error, subspace.offdiag_bound)
    k = min(k, subspace.n)
    return EigenPairs(top=values[::-1][:k].copy(), bottom=values[:k].copy(), top_residual=errors[::-1][:k].copy(),
                    bottom_residual=errors[:k].copy(), scale=subspace.scale, method="exhaustive", n_hvp=subspace.n_hvp,
                    seconds=seconds, all_eigenvalues=values, error=subspace.error, subspace=subspace)
