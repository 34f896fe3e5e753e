"""The change-point method: Pelt with a piecewise-linear cost on the log-step grid, boundaries refined at full
resolution, cliffs carved out, flat runs labelled, and (edges="logistic") edges moved to the logistic drops."""

from __future__ import annotations

import numpy as np

from analyzer.analyses.plateaus.detection import Detection, Detector
from analyzer.analyses.plateaus.loss_curve import (MIN_GRID_POINTS, Curve, LineSums, local_slopes, long_flat_runs,
                                                   segment_frame)
from analyzer.analyses.plateaus.params import PlateauParams
from analyzer.analyses.plateaus.loss_drops import logistic_edges, split_cliffs, loss_drops_frame

NAME = "changepoint"
REFINE_BINS = 2  # refinement searches this many grid bins either side of a coarse change point


def _line_cost(x: np.ndarray, y: np.ndarray):
    """A ruptures cost: squared residuals of a free line per segment, O(1) per segment."""
    import ruptures as rpt

    class LineCost(rpt.base.BaseCost):
        model = "line"
        min_size = MIN_GRID_POINTS

        def fit(self, signal):
            self.signal = signal
            self.sums = LineSums(x, y)
            return self

        def error(self, start, end):
            return float(self.sums.fit(start, end)[0])

    return LineCost()


def changepoint_segments(curve: Curve, params: PlateauParams) -> Detection:
    """Pelt on the log-step grid, change points refined at full resolution, one row per segment, loss_drops."""
    import ruptures as rpt

    m = len(curve.grid_y)
    bounds = [0, len(curve.y)]
    if m >= 2 * MIN_GRID_POINTS:
        penalty = params.penalty * 3.0 * curve.sigma ** 2 * np.log(m)
        algo = rpt.Pelt(custom_cost=_line_cost(curve.grid_u, curve.grid_y), min_size=MIN_GRID_POINTS, jump=1)
        grid_bkps = algo.fit(curve.grid_y.reshape(-1, 1)).predict(pen=penalty)[:-1]
        coarse = [int(curve.grid_first[b]) for b in grid_bkps]
        bounds = [0, *_refine(curve, coarse), len(curve.y)]
    frame = segment_frame(curve, bounds, NAME, params)
    split = split_cliffs(curve, bounds, flat_segments(frame.slope.to_numpy(), params), MIN_GRID_POINTS)
    if len(split) != len(bounds):
        bounds, frame = split, segment_frame(curve, split, NAME, params)
    start_u = np.log10(frame.start_step.to_numpy() + 1.0)
    end_u = np.log10(frame.end_step.to_numpy() + 2.0)  # a segment lasts until the next step begins
    flags = long_flat_runs(flat_segments(frame.slope.to_numpy(), params),
                            start_u, end_u, frame.duration.to_numpy(), params)
    loss_drops = loss_drops_frame()
    if params.edges == "logistic":
        bounds, flags, loss_drops = logistic_edges(curve, bounds, flags, local_slopes(curve, params.slope_window),
                                                    MIN_GRID_POINTS)
    change_points = curve.steps[np.asarray(bounds[1:-1], dtype=np.int64)]
    merged, flags = merge_plateau_runs(bounds, flags)
    if len(merged) != len(bounds) or params.edges == "logistic":
        frame = segment_frame(curve, merged, NAME, params)
    frame["is_plateau"] = flags
    return Detection(frame, change_points, loss_drops)


MAX_RELATIVE_SLOPE = 1.0  # the relative test never makes a segment falling or rising faster than this flat


def flat_segments(slopes: np.ndarray, params: PlateauParams) -> np.ndarray:
    """Flat: |slope| <= slope_threshold, or <= relative_slope x the gentler of two steeper falling neighbours
    and <= MAX_RELATIVE_SLOPE.

    A late plateau spans a few tenths of a decade of steps, so the tail of the previous escape alone gives
    it a log-log slope of -0.2 to -0.5; between escapes of slope -3 to -20 it is still flat. The relative
    test needs a neighbour on both sides, both falling (escapes): the run's first and last segments only pass
    the absolute test (a decay that merely slows down at the end of a run is no plateau until the loss drops
    again), and a segment beside a rise of the loss (a noisy minibatch curve) is judged absolutely. Whatever
    its neighbours, a plateau's |slope| stays <= MAX_RELATIVE_SLOPE: a fall of 5 decades per decade is a drop.
    """
    signed = np.asarray(slopes, dtype=np.float64)
    steep = np.abs(signed)
    flat = steep <= params.slope_threshold
    if len(steep) >= 3:
        neighbours = np.minimum(steep[:-2], steep[2:])
        falling = (signed[:-2] < 0) & (signed[2:] < 0)
        flat[1:-1] |= (steep[1:-1] <= params.relative_slope * neighbours) & falling & (
            steep[1:-1] <= MAX_RELATIVE_SLOPE)
    return flat


def merge_plateau_runs(bounds: list[int], flags: np.ndarray) -> tuple[list[int], np.ndarray]:
    """Adjacent plateau segments (a plateau Pelt cut in two: steps 0-8 and 9-58) become one segment."""
    flags = np.asarray(flags, dtype=bool)
    keep = [0] + [i for i in range(1, len(flags)) if not (flags[i] and flags[i - 1])]
    return [bounds[i] for i in keep] + [bounds[-1]], flags[keep]


def _refine(curve: Curve, coarse: list[int]) -> list[int]:
    """Move each boundary to the best full-resolution split within +-REFINE_BINS bins, given its neighbours."""
    refined = []
    bin_of = np.searchsorted(curve.grid_first, coarse, side="right") - 1
    for i, (b, k) in enumerate(zip(coarse, bin_of)):
        left = refined[-1] if refined else 0
        right = coarse[i + 1] if i + 1 < len(coarse) else len(curve.y)
        lo = max(int(curve.grid_first[max(k - REFINE_BINS, 0)]), left + MIN_GRID_POINTS)
        hi = min(int(curve.grid_first[min(k + REFINE_BINS + 1, len(curve.grid_first) - 1)]), right - MIN_GRID_POINTS)
        if hi <= lo:
            refined.append(b)
            continue
        sums = LineSums(curve.u[left:right], curve.y[left:right])
        split = np.arange(lo, hi + 1) - left
        cost = sums.fit(0, split)[0] + sums.fit(split, right - left)[0]
        refined.append(int(left + split[np.argmin(cost)]))
    return refined


DETECTOR = Detector(name=NAME, by="change points", title="change points", detect=changepoint_segments)
