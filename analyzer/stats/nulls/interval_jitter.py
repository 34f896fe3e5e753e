"""The interval-jitter null (dithering): each reference redrawn uniformly within a window of its own position.

Each reference point of a run is moved to a uniform position in a window of 2w decades of log-step that holds
it; every other event of the run stays where it is. The run keeps its clock, its jumps, its number of references
and where they sit to within w: only the alignment of references with jumps finer than the window is broken. It
needs no other run, so it applies to a group of one run.

Windows. By default (`centred=False`) the windows are a fixed grid of width 2w in u, its phase drawn once per run
from the seed, and a reference is redrawn in the grid cell that holds it. Under "no coupling" a reference's
position inside its cell is then uniform given the cell, and the observed references are one more draw of the
null: the test is exact up to the density of references changing within a cell. Windows centred on each
reference (`centred=True`, reference + U(-w, w)) are not: the observed reference is always the centre of its own
draws, so for a jump farther than w from it the observed distance is the median of the null's and p-values pile
up near 1/2 (no false positives, and no power: 0.000 on planted coupling), while jumps within w of a reference are
always farther from the redrawn one (|x + U| >= |x|), which rejects 0.147 of Parseval studies without coupling.
The centred form is kept for that comparison (bench/null_calibration.py).

Window. The events are located to about 0.05 decades: jumps are found on a grid of 20 points per decade and
placed at full resolution at the half-rise (analyzer/analyses/spectrum), loss-drop midpoints by a logistic fit,
and the two plateau detectors agree on edges to 0.1 decades (analyzer/analyses/plateaus). A window at or below
that resolution moves a reference by less than its own uncertainty (no power: a coupled jump is as close to the
redrawn reference as to the real one); a window of many resolutions smears the clustering of references
(the early transient) that the null must keep. The default w = WINDOW_DECADES = 0.1 decades, a cell of 0.2
decades: four jump-grid points, twice the detectors' agreement, about 4 times the detection noise of a jump
(0.05 decades), well inside the 0.1-0.3 decades by which a preset's events vary between seeds.

Calibration (bench/null_calibration.py, 1,000 studies a model): it holds its level where references and jumps
sit at different typical times (0.037-0.051 under independent events and a shared clock of SD 0.1-0.3, against
escapes), not where a preset's jumps and references share a typical time within a window (the early transient's
plateau edges: 0.095; the Parseval model's decoupled escapes: 0.080): there a reference's density peaks inside
its cell, where the jumps also are, which no cell width cures (w = 0.05: 0.074; w = 0.2: 0.171). Its power at a
planted coupling of 20 % of the jumps is 0.20 (clock-swap: 0.86): most jumps are far from every reference and only
add the window's noise.
"""

from __future__ import annotations

import numpy as np

from analyzer.errors import BadInputError
from analyzer.stats.nulls.base import PerRunNull

WINDOW_DECADES = 0.1


class IntervalJitter(PerRunNull):
    """Each reference redrawn uniformly in its window of 2w decades (module docstring)."""

    name = "interval-jitter"
    keeps = "each run's clock, jumps and references to within the window; breaks alignment finer than the window"
    calibrated_for = ("independent", "clock-0.1", "clock-0.2", "clock-0.3")

    def __init__(self, window: float = WINDOW_DECADES, centred: bool = False):
        if not window > 0:
            raise BadInputError(f"the interval-jitter window must be positive, got {window!r}")
        self.window = float(window)
        self.centred = bool(centred)

    def null_distances(self, jumps, references, span, n_draws, rng) -> np.ndarray:
        low, high = self.windows(references, span, rng)
        moved = low[None, :] + (high - low)[None, :] * rng.random((n_draws, len(references)))
        return np.abs(jumps[None, :, None] - moved[:, None, :]).min(axis=2)

    def windows(self, references: np.ndarray, span, rng) -> tuple[np.ndarray, np.ndarray]:
        """Per reference, the (low, high) of the window it is redrawn in, inside the run's range."""
        if self.centred:
            low, high = references - self.window, references + self.window
        else:
            cell = 2 * self.window
            phase = rng.uniform(0, cell)
            low = phase + cell * np.floor((references - phase) / cell)
            high = low + cell
        first, last = span
        return np.maximum(low, min(first, references.min())), np.minimum(high, max(last, references.max()))


NULL = IntervalJitter
