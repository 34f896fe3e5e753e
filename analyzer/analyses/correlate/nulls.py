"""The nulls of the jump-to-reference test, as `analyze correlate` names them: a thin view of analyzer/stats/nulls.

Every null is a named class there (swap, clock-swap, interval-jitter, shift, and the log-uniform and uniform
diagnostics), chosen through `analyzer.stats.nulls.get_null`; the default is the one bench/null_calibration.py
chose. This module keeps the names the rest of the tree imported from here.
"""

from __future__ import annotations

import numpy as np

from analyzer.stats.distances import nearest_distance, scale_steps
from analyzer.stats.nulls import DEFAULT_NULL, NULLS as REGISTRY, NullDraws, diagnostic_nulls, get_null, permutation_draws

NULLS = tuple(REGISTRY)
DIAGNOSTIC_NULLS = diagnostic_nulls()


def draw_null(jumps, references, spans, groups, null: str, n_draws: int, rng: np.random.Generator, names=None,
              strict: bool = True, labels=None) -> NullDraws:
    """The observed and null distances of every run with jumps and reference points, under `null` (a registered
    name; analyzer.stats.nulls.Null.draw documents the arguments)."""
    return get_null(null).draw(jumps, references, spans, groups, n_draws, rng, names, strict, labels)


__all__ = ["DEFAULT_NULL", "DIAGNOSTIC_NULLS", "NULLS", "NullDraws", "draw_null", "nearest_distance",
           "permutation_draws", "scale_steps"]
