"""Event times on the tests' axis (decades of log10(step + 1), or steps) and nearest-reference distances."""

from __future__ import annotations

import numpy as np


def log_steps(steps) -> np.ndarray:
    """u = log10(step + 1): learning proceeds in stages evenly spread in log-step, and so do plateau edges."""
    return np.log10(np.asarray(steps, dtype=np.float64) + 1.0)


def scale_steps(steps, null: str) -> np.ndarray:
    """Steps on the axis of `null`: plain steps for the "uniform" diagnostic, log-steps for every other null."""
    steps = np.asarray(steps, dtype=np.float64)
    return steps if null == "uniform" else log_steps(steps)


def nearest_distance(points, reference) -> np.ndarray:
    """Distance from each point (any shape) to the nearest of the reference points (1-D, any order)."""
    distance, _ = nearest(np.asarray(points, dtype=np.float64), np.sort(np.asarray(reference, dtype=np.float64)))
    return distance


def nearest(points: np.ndarray, sorted_reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each point to the nearest reference point, and that point's index; any shape of points."""
    if len(sorted_reference) > 1:
        right = np.clip(np.searchsorted(sorted_reference, points), 1, len(sorted_reference) - 1)
    else:
        right = np.zeros(np.shape(points), dtype=np.int64)
    left = np.maximum(right - 1, 0)
    d_left, d_right = np.abs(points - sorted_reference[left]), np.abs(points - sorted_reference[right])
    return np.minimum(d_left, d_right), np.where(d_left <= d_right, left, right)

