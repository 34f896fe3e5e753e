"""Synthetic regression targets: sums of sines on uniform grids of [0, 1)."""

from __future__ import annotations

import numpy as np

from trainer.config import TargetSpec


def uniform_grid(n_points: int) -> np.ndarray:
    """n_points uniformly spaced on [0, 1), endpoint excluded, so the DFT bins are integer Hz."""
    return (np.arange(n_points, dtype=np.float64) / n_points)[:, None]


def evaluate(target: TargetSpec, x: np.ndarray) -> np.ndarray:
    """The target y(x) = sum_k a_k sin(2 pi f_k x + phi_k), shape (len(x), 1), float64."""
    x = np.asarray(x, dtype=np.float64).reshape(-1)
    y = np.zeros_like(x)
    for freq, amp, phase in zip(target.freqs_hz, target.amps, target.phase_values):
        y += amp * np.sin(2.0 * np.pi * freq * x + phase)
    return y[:, None]


def make_data(target: TargetSpec) -> dict[str, np.ndarray]:
    """Training and evaluation sets, float64 (the loop casts to the training dtype)."""
    x_train = uniform_grid(target.n_train)
    x_eval = uniform_grid(target.eval_points)
    return {
        "x_train": x_train,
        "y_train": evaluate(target, x_train),
        "x_eval": x_eval,
        "y_eval": evaluate(target, x_eval),
    }
