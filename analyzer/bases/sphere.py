"""Spherical-harmonic degrees on S^(d-1): the basis of harmonics runs (trainer/harmonics.py builds the functions).

Mode l holds an orthonormal basis of the degree-l harmonics (N(d, l) functions, orthonormal under the
uniform measure on the sphere). On a run's eval points, a finite sample of the sphere, the coefficients
are a least-squares fit over all degrees 0 .. max_degree together (`SampledBasis`), so a function of
degree at most max_degree is attributed to its degrees exactly; the rest is the fit's remainder.
"""

from __future__ import annotations

import numpy as np

from analyzer.bases.base import SampledBasis
from analyzer.errors import BadInputError
from trainer import harmonics


def harmonic_basis(points: np.ndarray, max_degree: int, seed: int = 0) -> SampledBasis:
    """Degrees 0 .. max_degree sampled at `points` (G, d), unit vectors (renormalised: stored points are rounded)."""
    points = np.asarray(points, dtype=np.float64)
    if points.ndim != 2 or points.shape[1] < 2:
        raise BadInputError(f"spherical harmonics need points of shape (G, d) with d >= 2, got {points.shape}")
    norms = np.linalg.norm(points, axis=1, keepdims=True)
    if not np.allclose(norms, 1.0, atol=1e-3):
        raise BadInputError("the eval points are not on the unit sphere; a harmonics basis needs them there")
    points = points / norms
    input_dim = points.shape[1]
    blocks = [harmonics.orthonormal_basis(input_dim, degree, seed)(points) for degree in range(max_degree + 1)]
    column_modes = np.concatenate([np.full(block.shape[1], degree) for degree, block in enumerate(blocks)])
    return SampledBasis(kind="harmonics", label_name="degree", labels=np.arange(max_degree + 1, dtype=np.float64),
                        design=np.hstack(blocks), column_modes=column_modes)


def max_degree_for(input_dim: int, n_points: int, wanted: int) -> int:
    """The highest degree <= wanted whose basis (all degrees up to it) has at most half as many functions as points."""
    from trainer.runfile.degrees import highest_degree

    return highest_degree(input_dim, n_points, wanted)
