"""The log-uniform null (diagnostic): each jump redrawn uniformly in log-step over its run's range."""

from __future__ import annotations

import numpy as np

from analyzer.stats.distances import nearest_distance
from analyzer.stats.nulls.base import PerRunNull


class LogUniform(PerRunNull):
    """Jumps redrawn uniformly in u = log10(step + 1) over the run's prediction range, references fixed. It keeps
    nothing of the jumps' clustering: jumps and references both crowd into the early transient, so it rejects
    without any coupling (a diagnostic, not a test of coupling)."""

    name = "log-uniform"
    keeps = "each run's references and its number of jumps; nothing of where its jumps cluster"
    diagnostic = True
    calibrated_for = ("independent", "clock-0.1", "clock-0.2", "clock-0.3", "parseval", "parseval-clock-0.2")

    def null_distances(self, jumps, references, span, n_draws, rng) -> np.ndarray:
        low, high = span
        return nearest_distance(rng.uniform(low, high, (n_draws, len(jumps))), references)


NULL = LogUniform
