"""Options of the plateaus analysis (`analyze plateaus`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from analyzer.core.params import param, validate

EDGE_RULES = ("logistic", "corner")  # how change-point edges are placed (`edges`)


@dataclass(frozen=True)
class PlateauParams:
    """Options of `analyze plateaus`; each field's help is its documentation (see analyzer/core/params.py)."""

    analysis: ClassVar[str] = "plateaus"

    penalty: float = param(1.0, "Multiplier on the noise-scaled change-point (Pelt) penalty 3 sigma^2 log(n); "
                                "larger, fewer cuts.", above=0)
    min_duration: float = param(0.1, "Shortest plateau in decades of steps (0.1: a factor 1.26 in step).", above=0)
    slope_threshold: float = param(0.1, "Largest |d log10 loss / d log10 step| of a plateau.", above=0)
    window: int = param(51, "Running-median window in steps (odd) that removes loss spikes; 1 disables it.",
                        minimum=1, odd=True)
    slope_window: float = param(0.2, "Width in decades of the gradient method's local slope fit.", above=0)
    points_per_decade: int = param(50, "Resolution of the log-step grid.", minimum=5, maximum=1000)
    noise_floor: float = param(0.01, "Smallest noise sigma in decades of loss, so a noiseless curve is not cut "
                                     "everywhere.", above=0)
    tolerance: float = param(0.1, "Edges of the two methods agree within this many decades of steps.", above=0)
    relative_slope: float = param(0.25, "A segment is also flat when its |slope| is at most this fraction of both "
                                        "neighbours'.", above=0)
    edges: str = param("logistic", "Change-point edges: logistic (10/90 % points of a logistic fitted to each loss "
                                   "drop, where it fits better than lines) or corner (corners of the piecewise-linear "
                                   "fit, early on a smooth drop by ~5 % of the plateau length).", choices=EDGE_RULES)

    def __post_init__(self):
        validate(self)
