"""Which checkpoints the Hessian analysis visits: given steps, every N steps, a log-spaced grid, or the plateaus'
starts, middles and ends."""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from analyzer.analyses.hessian.params import HessianParams
from analyzer.errors import BadInputError

FALLBACK_POINTS = 10  # checkpoints analysed when no plateau is found


def select_checkpoints(run, params: HessianParams, plateaus: Callable[[], Any]) -> tuple[list[tuple[int, str]], str]:
    """(step, role) pairs to analyse and a phrase saying how they were chosen.

    Args:
        plateaus: gives the run's plateaus result (called only for at="plateaus").
    """
    stored = np.asarray(run.ckpt_steps)
    if len(stored) == 0:
        raise BadInputError(f"{run.path}: the run has no stored checkpoints")
    if params.at == "steps":
        for step in params.steps:
            run.params_at(step)  # raises BadInputError naming the stored steps
        return [(s, "step") for s in params.steps], "given steps"
    if params.at == "every":
        wanted = np.arange(0, int(stored[-1]) + 1, params.every)
        return _snap(stored, [(int(w), "every") for w in wanted]), f"every {params.every} steps"
    if params.at == "grid":
        return _snap(stored, [(step, "grid") for step in grid_steps(int(stored[-1]), params.per_decade)]), \
            f"{params.per_decade} per decade of steps"
    wanted = _plateau_points(plateaus())
    if wanted:
        return _snap(stored, wanted), "plateau starts, middles and ends"
    spaced = np.linspace(stored[0], stored[-1], FALLBACK_POINTS)
    return _snap(stored, [(int(w), "spaced") for w in spaced]), \
        f"no plateau found, so {FALLBACK_POINTS} evenly spaced checkpoints"


def grid_steps(last: int, per_decade: int) -> list[int]:
    """0 and round(10^(i / per_decade)) for i = 0, 1, ... up to `last`, and `last` itself."""
    if last < 1:
        return [0]
    exponents = np.arange(0, int(np.floor(per_decade * np.log10(last) + 1e-9)) + 1) / per_decade
    return sorted({0, last, *(int(round(10.0 ** e)) for e in exponents)})


def _plateau_points(plateaus) -> list[tuple[int, str]]:
    """Start, middle and end of each plateau of the default detector (plateaus/detectors.py)."""
    found = plateaus.plateaus()
    points = []
    for _, row in found.iterrows():
        start, end = int(row["start_step"]), int(row["end_step"])
        points += [(start, "start"), ((start + end) // 2, "middle"), (end, "end")]
    return points


def _snap(stored: np.ndarray, wanted: list[tuple[int, str]]) -> list[tuple[int, str]]:
    """Nearest stored checkpoint for each wanted step; the first role wins for duplicates."""
    chosen: dict[int, str] = {}
    for step, role in wanted:
        nearest = int(stored[np.argmin(np.abs(stored - step))])
        chosen.setdefault(nearest, role)
    return sorted(chosen.items())
