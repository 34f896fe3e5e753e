"""Spherical harmonics on S^(d-1) for any d >= 2, built from zonal (Gegenbauer) polynomials.

Inner products are under the uniform probability measure on the sphere, E_x[f(x) g(x)]. The space H_l
of degree-l harmonics has dimension N(d, l) and reproducing kernel Z_l(<x, y>) = N(d, l) P_l(<x, y>),
where P_l is the degree-l Legendre polynomial of dimension d normalised to P_l(1) = 1 (Chebyshev T_l
for d = 2, C_l^((d-2)/2)(t) / C_l^((d-2)/2)(1) above). So for centres z_j, f = sum_j w_j Z_l(<., z_j>)
lies in H_l and ||f||^2 = w^T Z_l(<z_j, z_k>) w exactly (the reproducing property): unit-norm random
components and exactly orthonormal bases need no quadrature, whatever d is.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy.special import comb, eval_chebyt, eval_gegenbauer

MAX_CENTRES = 64  # a random component mixes at most this many zonal functions (keeps the run file's JSON small)
MIN_GRAM_RATIO = 1e-9  # an orthonormal basis needs its Gram matrix's N-th eigenvalue above this x the largest


def dimension(input_dim: int, degree: int) -> int:
    """N(d, l): the dimension of the space of degree-l spherical harmonics on S^(d-1)."""
    if degree == 0:
        return 1
    if input_dim == 2:
        return 2
    return int(round((2 * degree + input_dim - 2) / (degree + input_dim - 2) * comb(degree + input_dim - 2, degree,
                                                                                       exact=True)))


def legendre(input_dim: int, degree: int, t: np.ndarray) -> np.ndarray:
    """P_l(t) of dimension d, normalised to P_l(1) = 1 (the zonal polynomial up to N(d, l))."""
    t = np.clip(np.asarray(t, dtype=np.float64), -1.0, 1.0)
    if input_dim == 2:
        return eval_chebyt(degree, t)
    alpha = (input_dim - 2) / 2.0
    return eval_gegenbauer(degree, alpha, t) / eval_gegenbauer(degree, alpha, 1.0)


def zonal(input_dim: int, degree: int, t: np.ndarray) -> np.ndarray:
    """Z_l(t) = N(d, l) P_l(t): sum_i Y_i(x) Y_i(y) over any orthonormal basis of H_l, at t = <x, y>."""
    return dimension(input_dim, degree) * legendre(input_dim, degree, t)


def sample_sphere(n_points: int, input_dim: int, rng: np.random.Generator) -> np.ndarray:
    """n_points drawn uniformly on S^(d-1) (normalised Gaussian vectors), shape (n, d), float64."""
    points = rng.standard_normal((n_points, input_dim))
    return points / np.linalg.norm(points, axis=1, keepdims=True)


@dataclass(frozen=True)
class ZonalCombination:
    """f(x) = sum_j weights_j Z_l(<x, centres_j>), an element of H_l."""

    input_dim: int
    degree: int
    centres: np.ndarray  # (M, d) unit vectors
    weights: np.ndarray  # (M,)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Values at the rows of x (n, d), which must be unit vectors: shape (n,)."""
        cosines = np.asarray(x, dtype=np.float64) @ self.centres.T
        return zonal(self.input_dim, self.degree, cosines) @ self.weights

    def norm(self) -> float:
        """||f|| under the uniform probability measure, exactly: sqrt(w^T Z_l(<z_j, z_k>) w)."""
        gram = zonal(self.input_dim, self.degree, self.centres @ self.centres.T)
        return math.sqrt(max(float(self.weights @ gram @ self.weights), 0.0))

    def to_dict(self) -> dict:
        return {"degree": int(self.degree), "centres": self.centres.tolist(), "weights": self.weights.tolist()}

    @classmethod
    def from_dict(cls, input_dim: int, raw: dict) -> "ZonalCombination":
        return cls(input_dim, int(raw["degree"]), np.asarray(raw["centres"], dtype=np.float64).reshape(-1, input_dim),
                   np.asarray(raw["weights"], dtype=np.float64))


def random_component(input_dim: int, degree: int, rng: np.random.Generator) -> ZonalCombination:
    """A random unit-norm element of H_l: Gaussian weights on zonal functions at uniform random centres.

    With min(N(d, l), MAX_CENTRES) centres; its law is rotation invariant (the centres are uniform).
    """
    n_centres = min(dimension(input_dim, degree), MAX_CENTRES)
    centres = sample_sphere(n_centres, input_dim, rng)
    raw = ZonalCombination(input_dim, degree, centres, rng.standard_normal(n_centres))
    return ZonalCombination(input_dim, degree, centres, raw.weights / raw.norm())


@dataclass(frozen=True)
class HarmonicSpace:
    """An orthonormal basis Y_1..Y_N of H_l: Y(x) = Z_l(<x, centres>) @ mixing."""

    input_dim: int
    degree: int
    centres: np.ndarray  # (M, d)
    mixing: np.ndarray  # (M, N)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Basis values at the rows of x (n, d): shape (n, N(d, l))."""
        return zonal(self.input_dim, self.degree, np.asarray(x, dtype=np.float64) @ self.centres.T) @ self.mixing


def orthonormal_basis(input_dim: int, degree: int, seed: int = 0) -> HarmonicSpace:
    """An orthonormal basis of H_l (exactly, under the uniform measure), from 2 N(d, l) random zonal functions.

    The Gram matrix G_jk = Z_l(<z_j, z_k>) of the zonal functions is their exact inner products; its top
    N(d, l) eigenpairs (V, lambda) give the orthonormal functions Z_l(<., z>) V lambda^(-1/2).
    """
    size = dimension(input_dim, degree)
    rng = np.random.default_rng([seed, input_dim, degree])
    centres = sample_sphere(2 * size, input_dim, rng)
    eigenvalues, vectors = np.linalg.eigh(zonal(input_dim, degree, centres @ centres.T))
    eigenvalues, vectors = eigenvalues[::-1][:size], vectors[:, ::-1][:, :size]
    if not eigenvalues[-1] > MIN_GRAM_RATIO * eigenvalues[0]:
        raise ValueError(f"zonal functions of degree {degree} on S^{input_dim - 1} do not span H_l (ill-conditioned)")
    return HarmonicSpace(input_dim, degree, centres, vectors / np.sqrt(eigenvalues))
