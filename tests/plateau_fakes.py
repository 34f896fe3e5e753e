"""Planted loss curves with known plateaus, shared by the plateau tests."""

from __future__ import annotations

import numpy as np


def planted_run(seed=0, noise=0.01, spikes=True):
    """Steps 0..9999 with two plateaus: steps 9-99 and 315-1994 (edges 9, 99, 315, 1994)."""
    rng = np.random.default_rng(seed)
    steps = np.arange(N_STEPS)
    knots = [0, 9, 99, 315, 1994, N_STEPS - 1]
    y = piecewise_log_loss(steps, knots, slopes=[-0.5, 0.0, -1.5, 0.0, -0.8])
    y = y + rng.normal(0.0, noise, size=N_STEPS)
    if spikes:
        y = add_adam_spikes(y, rng)
    return steps, 10.0 ** y, np.array([9, 99, 315, 1994])


N_STEPS = 10_000


def piecewise_log_loss(steps, knots_step, slopes, start=0.0):
    """Continuous piecewise-linear log10 loss in u = log10(step + 1), slope k between knots k and k+1."""
    u = log_step(steps)
    knots_u = log_step(np.asarray(knots_step, dtype=np.float64))
    y = np.full_like(u, start)
    for a, b, slope in zip(knots_u[:-1], knots_u[1:], slopes):
        y += slope * (np.clip(u, a, b) - a)
    return y


def add_adam_spikes(log_loss, rng, first_step=200, every=80, height_decades=1.0, decay_steps=4.0):
    """Isolated upward spikes up to 10x the loss that relax within ~10 steps, like Adam at lr 0.01."""
    out = log_loss.copy()
    for t in range(first_step, len(out) - 20 - every, every):
        t0 = t + int(rng.integers(0, every // 2))
        height = rng.uniform(0.3, 1.0) * height_decades
        lag = np.arange(20)
        out[t0:t0 + 20] += height * np.exp(-lag / decay_steps)
    return out


def log_step(steps):
    return np.log10(steps + 1.0)
