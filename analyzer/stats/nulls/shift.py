"""The shift null: each run's references shifted circularly in log-step by one uniform offset."""

from __future__ import annotations

import numpy as np

from analyzer.stats.nulls.base import PerRunNull


class Shift(PerRunNull):
    """Each run's reference points shifted circularly in u by one uniform offset within the run's prediction range
    (wrapping at its ends): the spacing of the references is kept, their placement relative to the run's own clock
    is not (early transients shared by jumps and plateaus are lost, so it is blind to small couplings)."""

    name = "shift"
    keeps = "each run's jumps and the spacing of its references; not where the references sit in the run"
    calibrated_for = ("independent", "independent-edges", "clock-0.1", "clock-0.2", "clock-0.3", "parseval",
                      "parseval-clock-0.2")

    def null_distances(self, jumps, references, span, n_draws, rng) -> np.ndarray:
        low, high = span
        width = max(high - low, 1e-12)
        shifted = low + np.mod(references[None, :] - low + rng.uniform(0, width, (n_draws, 1)), width)
        return np.abs(jumps[None, :, None] - shifted[:, None, :]).min(axis=2)


NULL = Shift
