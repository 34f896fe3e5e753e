"""Options of the spectrum analysis (`analyze spectrum`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from analyzer.core.params import fail, param, validate


@dataclass(frozen=True)
class SpectrumParams:
    """Options of `analyze spectrum`; each field's help is its documentation (see analyzer/core/params.py).

    spike_window default 51 (h = 25): the longest isolated spikes on the Adam presets last 22-25 steps, relapses
    74+ steps, and the learned steps of all four presets are stable for W from 41 to 81.
    """

    analysis: ClassVar[str] = "spectrum"

    threshold: float = param(0.1, "Relative error below which a frequency counts as learned.", above=0)
    points_per_decade: int = param(20, "Resolution of the log-step grid of jump detection.", minimum=2)
    window_decades: float = param(0.5, "Full width of the jump window in decades of steps (at least 2 grid points).",
                                  above=0)
    min_drop: float = param(0.3, "Smallest rise of the learned fraction 1 - min(rel. error, 1) across the window "
                                 "that is a jump.", above=0)
    spike_window: int = param(51, "Odd running-median window, in prediction steps, on which 'stays below the "
                                  "threshold' is judged: spikes up to half the window are ignored; 0 or 1 = strict.",
                              minimum=0, odd=True)
    min_log_drop: float = param(0.5, "Smallest fall of log10(rel. error) through the threshold, in decades across "
                                     "the window, that is a log-scale jump (late refinements); 0 = off.", minimum=0)

    def __post_init__(self):
        validate(self)
        if not self.window_decades * self.points_per_decade >= 2:
            fail(self, "window_decades", "wide enough to span at least 2 grid points", self.window_decades)
