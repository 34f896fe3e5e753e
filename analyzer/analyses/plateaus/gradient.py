"""The gradient method (Alvarez & Choe's): a plateau is a run of small local log-log slope for min_duration decades."""

from __future__ import annotations

import numpy as np

from analyzer.analyses.plateaus.detection import Detection, Detector
from analyzer.analyses.plateaus.loss_curve import Curve, local_slopes, long_flat_runs, segment_frame
from analyzer.analyses.plateaus.params import PlateauParams

NAME = "gradient"


def gradient_segments(curve: Curve, params: PlateauParams) -> Detection:
    """Runs of |local slope| <= slope_threshold lasting >= min_duration decades are plateaus; the rest not."""
    first = curve.grid_first
    local_slope = local_slopes(curve, params.slope_window)
    start_u = curve.u[first[:-1]]
    end_u = np.log10(curve.steps[first[1:] - 1] + 2.0)
    flat = long_flat_runs(np.abs(local_slope) <= params.slope_threshold, start_u, end_u, np.diff(first), params)
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = [int(first[c]) for c in np.r_[0, change]] + [len(curve.y)]
    frame = segment_frame(curve, bounds, NAME, params)
    # the label comes from the local slope, not from one line refit over the whole run of bins
    frame["is_plateau"] = flat[np.r_[0, change]]
    return Detection(frame)


DETECTOR = Detector(name=NAME, by="the gradient method", title="gradient", detect=gradient_segments)
