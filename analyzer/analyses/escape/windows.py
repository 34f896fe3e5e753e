"""Which displacements the escape analysis measures: each escape from a plateau (its control: control.py).

Escape: for each change-point plateau followed by a loss drop (the plateaus analysis' `loss_drops`),
plateau_step = the stored checkpoint nearest the plateau's middle (inside it), after_step = the first stored
checkpoint at or after the drop's end (its 90 % point, mid + width / 2; the next plateau's start when the
width is unknown).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Window:
    plateau_start: float
    plateau_end: float
    drop_mid: float
    plateau_step: int
    after_step: int


def escape_windows(plateaus, stored: np.ndarray) -> list[Window]:
    """One Window per plateau that a loss drop ends, where both checkpoints exist (module docstring)."""
    stored = np.asarray(stored, dtype=np.int64)
    found = plateaus.plateaus()
    spans = [(float(r.start_step), float(r.end_step)) for r in found.itertuples()]
    windows = []
    for drop in plateaus.loss_drops.itertuples():
        if not np.isfinite(drop.mid_step) or not spans:
            continue
        start, end = min(spans, key=lambda span: abs(span[1] - drop.end_step))
        inside = stored[(stored >= start) & (stored <= end)]
        drop_end = drop.mid_step + drop.width_steps / 2 if np.isfinite(drop.width_steps) else drop.start_step
        later = stored[stored >= drop_end] if np.isfinite(drop_end) else stored[:0]
        if len(inside) == 0 or len(later) == 0:
            continue
        plateau_step = int(inside[np.argmin(np.abs(inside - (start + end) / 2))])
        windows.append(Window(start, end, float(drop.mid_step), plateau_step, int(later[0])))
    return windows


def jump_near(spectrum, low: float, high: float, mid: float) -> float:
    """The mode (frequency or degree) whose jump lies in [low, high] nearest to `mid`; NaN when none does."""
    jumps = spectrum.jumps
    if jumps.empty:
        return float("nan")
    steps = jumps.step.to_numpy(dtype=np.float64)
    inside = np.flatnonzero((steps >= low) & (steps <= high))
    if len(inside) == 0:
        return float("nan")
    best = inside[np.argmin(np.abs(steps[inside] - mid))]
    return float(jumps[spectrum.mode_name].to_numpy(dtype=np.float64)[best])
