"""The target degrees of a run we did not make whose target lives on the sphere: coords of shape (G, d), d >= 2, unit
vectors (the model may see them through any encoding). The spectrum then reads the residual on spherical-harmonic
degrees, as on a `train run --target harmonics` run.

Detection fits y_eval by least squares on the harmonics of every degree 0 .. L at once (L the highest degree whose
functions number at most half the points, at most DETECT_MAX_DEGREE) and keeps every degree >= 1 whose component's
norm is at least DETECT_FRACTION of the largest such (degree 0, the constant, is left out as the DFT's DC is).
"""

from __future__ import annotations

import numpy as np

from trainer import harmonics
from trainer.runfile.frequencies import DETECT_FRACTION, DETECT_RTOL

DETECT_MAX_DEGREE = 8
SPHERE_ATOL = 1e-3  # coords this close to unit norm are points on the sphere (stored values are rounded)


def on_sphere(coords: np.ndarray) -> bool:
    return coords.ndim == 2 and coords.shape[1] >= 2 and bool(
        np.allclose(np.linalg.norm(coords, axis=1), 1.0, atol=SPHERE_ATOL))


def highest_degree(input_dim: int, n_points: int, wanted: int = DETECT_MAX_DEGREE) -> int:
    """The highest degree <= wanted whose basis (all degrees up to it) has at most half as many functions as points."""
    total, best = 0, -1
    for degree in range(wanted + 1):
        total += harmonics.dimension(input_dim, degree)
        if 2 * total > n_points:
            break
        best = degree
    return best


def degree_norms(points: np.ndarray, y: np.ndarray, max_degree: int) -> np.ndarray:
    """(max_degree + 1,) the norm of y's component on each degree, fitted on all degrees together."""
    points = points / np.linalg.norm(points, axis=1, keepdims=True)
    blocks = [harmonics.orthonormal_basis(points.shape[1], degree)(points) for degree in range(max_degree + 1)]
    coefficients = np.linalg.lstsq(np.hstack(blocks), y.reshape(-1), rcond=None)[0]
    edges = np.cumsum([0] + [block.shape[1] for block in blocks])
    return np.array([np.linalg.norm(coefficients[a:b]) for a, b in zip(edges[:-1], edges[1:])])


def detect_degrees(points: np.ndarray, y_eval: np.ndarray) -> tuple[list[int], dict]:
    """(degrees, the record of how they were found) of y_eval on points of the sphere."""
    max_degree = highest_degree(points.shape[1], len(points))
    record = {"method": "harmonic_degrees_above_fraction", "min_fraction": DETECT_FRACTION, "max_degree": max_degree}
    if max_degree < 1 or y_eval.shape[1] != 1:
        return [], record
    norms = degree_norms(points, y_eval, max_degree)[1:]
    if not norms.max() > 1e-9 * max(np.abs(y_eval).max(), 1e-300):
        return [], record
    degrees = 1 + np.flatnonzero(norms >= DETECT_FRACTION * norms.max() * (1 - DETECT_RTOL))
    return [int(d) for d in degrees], record
