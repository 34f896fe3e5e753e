"""Loss plateaus: change points of log10(loss) on a log-step axis, and the seed's slope-threshold method.

Time axis. Both methods work on u = log10(step + 1). A power-law decay, loss ~ step^-a, has the constant
slope -a there, so "flat relative to its neighbours" is scale-free; on a linear axis a smooth decay is cut
into a staircase (Pelt with a piecewise-constant cost gave 9-59 change points per preset). Slopes are in
decades of loss per decade of steps. Edges are still reported in steps, refined at full resolution.

Pipeline (linear in the number of steps, nothing n x n):
1. despike: a running median of `window` steps removes Adam's isolated spikes (up to ~25 steps wide at
   lr 0.01) and, unlike a mean, leaves monotone trends and step edges where they are;
2. bin: medians of the despiked curve in bins of 1/points_per_decade decade (empty bins dropped), a few
   hundred points even for 100k steps; early on a bin is one step, so the initial transient keeps its
   full resolution;
3. change points: ruptures Pelt (exact penalized optimum, jump=1) with a piecewise-linear least-squares
   cost in O(1) per segment from prefix sums; the penalty is `penalty` x 3 sigma^2 log(n), sigma a robust
   noise estimate (MAD of second differences: first differences contain the slope, which is the signal);
4. refine: each change point moves to the best split at full step resolution within +-2 bins of its
   grid position (exact optimum given its neighbours), so binning does not move edges by a bin; then each
   plateau end, and the start of the plateau that follows, moves to the 10/90 % points of a logistic fitted
   to the loss drop between them (analyzer/transitions.py): the corners of a line fit bend over a smooth
   drop early, by ~5 % of the plateau length on the known-answer runs (bench/RESULTS.md);
5. gradient method (the seed's): slope of a local line fit over `slope_window` decades; a plateau is a
   run of |slope| <= slope_threshold lasting at least `min_duration` decades.
A segment is flat when |slope| <= slope_threshold, or, between two steeper segments, when |slope| is at
most `relative_slope` times the gentler neighbour's (a late plateau between escapes spans a few tenths of a
decade, so the tail of the previous escape alone gives it slopes of -0.2 to -0.5, against -3 to -40 for
the escapes). A maximal run of flat segments lasting at least `min_duration` decades is a plateau.
Plateau edges are the interior boundaries of maximal plateau runs: a start is the first plateau step, an
end the first step after it; the run's own first and last steps are never edges.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analyzer.errors import BadInputError
from analyzer.loss_curve import MIN_GRID_POINTS, Curve, LineSums, local_slopes, prepare
from analyzer.registry import register
from analyzer.transitions import logistic_edges, split_cliffs, transitions_frame

SEGMENT_COLUMNS = ["method", "start_step", "end_step", "duration", "mean_log10_loss", "slope", "is_plateau"]
EDGE_COLUMNS = ["method", "step", "kind"]
REFINE_BINS = 2  # refinement searches this many grid bins either side of a coarse change point
MIN_PLATEAU_STEPS = 10  # the first steps span whole decades of log-step; a 3-step 'plateau' is no plateau
EDGE_MODES = ("logistic", "corner")


@dataclass(frozen=True)
class PlateauParams:
    """Options of `analyze plateaus`.

    Args:
        penalty: multiplier on the noise-scaled Pelt penalty 3 sigma^2 log(n); larger, fewer change points.
        min_duration: shortest plateau in decades of steps (0.1: a factor 1.26 in step).
        slope_threshold: largest |d log10 loss / d log10 step| of a plateau.
        window: running-median window in steps (odd) that removes loss spikes; 1 disables it.
        slope_window: width in decades of the local line fit of the gradient method.
        points_per_decade: resolution of the log-step grid.
        noise_floor: smallest noise sigma in decades of loss, so a noiseless curve is not cut everywhere.
        tolerance: two edges of the two methods agree when within this many decades of steps.
        relative_slope: a segment is also flat when its |slope| is at most this fraction of both neighbours'.
        edges: "logistic" (default) puts the edges of the change-point plateaus at the 10/90 % points of a
            logistic fitted to each loss drop (analyzer/transitions.py); "corner" keeps the corners of the
            piecewise-linear fit, which sit early on a smooth drop (~5 % of the plateau length).
    """

    penalty: float = 1.0
    min_duration: float = 0.1
    slope_threshold: float = 0.1
    window: int = 51
    slope_window: float = 0.2
    points_per_decade: int = 50
    noise_floor: float = 0.01
    tolerance: float = 0.1
    relative_slope: float = 0.25
    edges: str = "logistic"

    def __post_init__(self):
        for name in ("penalty", "min_duration", "slope_threshold", "slope_window", "noise_floor", "tolerance",
                     "relative_slope"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and np.isfinite(value) and value > 0):
                raise BadInputError(f"{name.replace('_', '-')} must be a positive number, got {value}")
        if not (isinstance(self.window, (int, np.integer)) and self.window >= 1 and self.window % 2 == 1):
            raise BadInputError(f"window must be an odd number of steps >= 1, got {self.window}")
        if self.edges not in EDGE_MODES:
            raise BadInputError(f"edges must be one of {', '.join(EDGE_MODES)}, got {self.edges!r}")
        if not (isinstance(self.points_per_decade, (int, np.integer)) and 5 <= self.points_per_decade <= 1000):
            raise BadInputError(f"points-per-decade must be an integer in 5..1000, got {self.points_per_decade}")


@dataclass(frozen=True)
class PlateauResult:
    """Segments and plateau edges of log10(loss) from the change-point and the gradient method."""

    segments: pd.DataFrame  # SEGMENT_COLUMNS; duration in steps, slope in decades of loss per decade of steps
    edges: pd.DataFrame  # EDGE_COLUMNS; kind "start" (first plateau step) or "end" (first step after it)
    change_points: np.ndarray  # steps where a change-point segment starts (interior boundaries)
    agreement: dict = field(default_factory=dict)  # matched edges, distances, F1 within tolerance
    # change-point method, edges="logistic": one row per plateau that ends inside the run (TRANSITION_COLUMNS):
    # the drop after it, its midpoint and 10-90 % width in steps, and the start of the next plateau (NaN if none)
    transitions: pd.DataFrame = field(default_factory=transitions_frame)
    noise_sigma: float = 0.0  # robust noise of the binned log10 loss, decades
    n_steps_used: int = 0  # finite prefix of the loss that was analysed
    note: str = ""  # why part of the run was not analysed, if any

    def plateaus(self, method: str = "changepoint") -> pd.DataFrame:
        _check_method(method)
        frame = self.segments
        return frame[(frame.method == method) & frame.is_plateau.astype(bool)].reset_index(drop=True)

    def edge_steps(self, method: str = "changepoint") -> np.ndarray:
        _check_method(method)
        return np.unique(self.edges.loc[self.edges.method == method, "step"].to_numpy(dtype=np.int64))

    def escape_steps(self) -> np.ndarray:
        """Midpoints of the loss drops that end the change-point plateaus (edges="logistic" only; a plateau
        the loss leaves upwards has none)."""
        mids = self.transitions.mid_step.to_numpy(dtype=np.float64)
        return mids[np.isfinite(mids)]

    def headline(self) -> str:
        counts = {m: len(self.plateaus(m)) for m in ("changepoint", "gradient")}
        n_edges = {m: len(self.edge_steps(m)) for m in ("changepoint", "gradient")}
        if n_edges["changepoint"] == 0 and n_edges["gradient"] == 0:
            flat = " (the whole analysed run is one flat plateau)" if counts["changepoint"] else ""
            text = f"no plateau edges found{flat}"
        else:
            text = (f"{counts['changepoint']} plateau{'s' * (counts['changepoint'] != 1)} by change points "
                    f"({n_edges['changepoint']} edges), "
                    f"{counts['gradient']} by the gradient method ({n_edges['gradient']} edges); "
                    f"{self.agreement.get('matched', 0)} edges agree within {self.agreement.get('tolerance_decades')}"
                    " decades")
        return text + (f"; {self.note}" if self.note else "")

    def tables(self) -> dict[str, pd.DataFrame]:
        agreement = pd.DataFrame([{k: v for k, v in self.agreement.items()}]) if self.agreement else pd.DataFrame()
        return {"segments": self.segments, "plateau edges": self.edges, "loss drops": self.transitions,
                "agreement": agreement}


def _check_method(method: str) -> None:
    if method not in ("changepoint", "gradient"):
        raise BadInputError(f"method must be 'changepoint' or 'gradient', got {method!r}")


@register("plateaus", params=PlateauParams, result=PlateauResult, version="3",
          summary="plateaus and change points of log10(loss) on a log-step axis")
def compute(run, params: PlateauParams) -> PlateauResult:
    """Plateaus of a run's training loss."""
    return detect_plateaus(run.steps, run.loss, params)


def detect_plateaus(steps: np.ndarray, loss: np.ndarray, params: PlateauParams | None = None) -> PlateauResult:
    """Plateaus of `loss` (one value per step) by change points and by the slope threshold."""
    params = params if params is not None else PlateauParams()
    curve, note = prepare(np.asarray(steps), np.asarray(loss), params)
    cp_frame, change_points, transitions = changepoint_segments(curve, params)
    grad_frame = gradient_segments(curve, params)
    segments = pd.concat([cp_frame, grad_frame], ignore_index=True)[SEGMENT_COLUMNS]
    last_step = int(curve.steps[-1])
    edges = pd.concat([plateau_edges(cp_frame, "changepoint", last_step),
                       plateau_edges(grad_frame, "gradient", last_step)], ignore_index=True)
    agreement = edge_agreement(_steps_of(edges, "changepoint"), _steps_of(edges, "gradient"), params.tolerance)
    return PlateauResult(segments=segments, edges=edges, change_points=change_points, agreement=agreement,
                         transitions=transitions, noise_sigma=float(curve.sigma), n_steps_used=int(len(curve.steps)),
                         note=note)


def _steps_of(edges: pd.DataFrame, method: str) -> np.ndarray:
    return np.unique(edges.loc[edges.method == method, "step"].to_numpy(dtype=np.int64))


def plateau_edges(segments: pd.DataFrame, method: str, last_step: int) -> pd.DataFrame:
    """Starts and ends of maximal runs of plateau segments, excluding the run's own first and last step."""
    rows = []
    flags = segments.is_plateau.to_numpy(dtype=bool)
    for i, row in enumerate(segments.itertuples(index=False)):
        if not flags[i]:
            continue
        if i > 0 and not flags[i - 1]:
            rows.append((method, int(row.start_step), "start"))
        if i + 1 < len(flags) and not flags[i + 1] and row.end_step < last_step:
            rows.append((method, int(row.end_step) + 1, "end"))
    frame = pd.DataFrame(rows, columns=EDGE_COLUMNS)
    return frame.astype({"step": np.int64})


# ---- change-point method --------------------------------------------------------------------------


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


def changepoint_segments(curve: Curve, params: PlateauParams) -> tuple[pd.DataFrame, np.ndarray, pd.DataFrame]:
    """Pelt on the log-step grid, change points refined at full resolution, one row per segment, transitions."""
    import ruptures as rpt

    m = len(curve.grid_y)
    bounds = [0, len(curve.y)]
    if m >= 2 * MIN_GRID_POINTS:
        penalty = params.penalty * 3.0 * curve.sigma ** 2 * np.log(m)
        algo = rpt.Pelt(custom_cost=_line_cost(curve.grid_u, curve.grid_y), min_size=MIN_GRID_POINTS, jump=1)
        grid_bkps = algo.fit(curve.grid_y.reshape(-1, 1)).predict(pen=penalty)[:-1]
        coarse = [int(curve.grid_first[b]) for b in grid_bkps]
        bounds = [0, *_refine(curve, coarse), len(curve.y)]
    frame = _segment_frame(curve, bounds, "changepoint", params)
    split = split_cliffs(curve, bounds, flat_segments(frame.slope.to_numpy(), params), MIN_GRID_POINTS)
    if len(split) != len(bounds):
        bounds, frame = split, _segment_frame(curve, split, "changepoint", params)
    start_u = np.log10(frame.start_step.to_numpy() + 1.0)
    end_u = np.log10(frame.end_step.to_numpy() + 2.0)  # a segment lasts until the next step begins
    flags = _long_flat_runs(flat_segments(frame.slope.to_numpy(), params),
                            start_u, end_u, frame.duration.to_numpy(), params)
    transitions = transitions_frame()
    if params.edges == "logistic":
        bounds, flags, transitions = logistic_edges(curve, bounds, flags, local_slopes(curve, params.slope_window),
                                                    MIN_GRID_POINTS)
        frame = _segment_frame(curve, bounds, "changepoint", params)
    frame["is_plateau"] = flags
    return frame, curve.steps[np.asarray(bounds[1:-1], dtype=np.int64)], transitions


def flat_segments(slopes: np.ndarray, params: PlateauParams) -> np.ndarray:
    """Flat: |slope| <= slope_threshold, or <= relative_slope x the gentler of two steeper neighbours.

    A late plateau spans a few tenths of a decade of steps, so the tail of the previous escape alone gives
    it a log-log slope of -0.2 to -0.5; between escapes of slope -3 to -20 it is still flat. The relative
    test needs a neighbour on both sides: the run's first and last segments only pass the absolute test
    (a decay that merely slows down at the end of a run is no plateau until the loss drops again).
    """
    steep = np.abs(np.asarray(slopes, dtype=np.float64))
    flat = steep <= params.slope_threshold
    if len(steep) >= 3:
        neighbours = np.minimum(steep[:-2], steep[2:])
        flat[1:-1] |= steep[1:-1] <= params.relative_slope * neighbours
    return flat


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


def _segment_frame(curve: Curve, bounds: list[int], method: str, params: PlateauParams) -> pd.DataFrame:
    """One row per [bounds[i], bounds[i+1]) of the full-resolution curve; slope per decade of steps."""
    start = np.asarray(bounds[:-1], dtype=np.int64)
    end = np.asarray(bounds[1:], dtype=np.int64)
    _, slope, _ = LineSums(curve.u, curve.y).fit(start, end)
    mean = np.array([curve.y[a:b].mean() for a, b in zip(start, end)])
    return pd.DataFrame({
        "method": method, "start_step": curve.steps[start], "end_step": curve.steps[end - 1],
        "duration": curve.steps[end - 1] - curve.steps[start] + 1, "mean_log10_loss": mean,
        "slope": slope, "is_plateau": np.zeros(len(start), dtype=bool),
    })


def _long_flat_runs(flat: np.ndarray, start_u: np.ndarray, end_u: np.ndarray, n_steps: np.ndarray,
                    params: PlateauParams) -> np.ndarray:
    """Keep only maximal runs of flat items lasting >= min_duration decades and >= MIN_PLATEAU_STEPS steps.

    The duration is judged on the run, not on each item, so a slowly bending plateau that Pelt cut into
    pieces still counts as one.
    """
    flat = flat.copy()
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    for a, b in zip(np.r_[0, change], np.r_[change, len(flat)]):
        if end_u[b - 1] - start_u[a] < params.min_duration or n_steps[a:b].sum() < MIN_PLATEAU_STEPS:
            flat[a:b] = False
    return flat


# ---- gradient method ------------------------------------------------------------------------------


def gradient_segments(curve: Curve, params: PlateauParams) -> pd.DataFrame:
    """Runs of |local slope| <= slope_threshold lasting >= min_duration decades are plateaus; the rest not."""
    first = curve.grid_first
    local_slope = local_slopes(curve, params.slope_window)
    start_u = curve.u[first[:-1]]
    end_u = np.log10(curve.steps[first[1:] - 1] + 2.0)
    flat = _long_flat_runs(np.abs(local_slope) <= params.slope_threshold, start_u, end_u, np.diff(first), params)
    change = np.flatnonzero(flat[1:] != flat[:-1]) + 1
    bounds = [int(first[c]) for c in np.r_[0, change]] + [len(curve.y)]
    frame = _segment_frame(curve, bounds, "gradient", params)
    # the label comes from the local slope, not from one line refit over the whole run of bins
    frame["is_plateau"] = flat[np.r_[0, change]]
    return frame


# ---- agreement between the two methods -------------------------------------------------------------


def edge_agreement(reference: np.ndarray, other: np.ndarray, tolerance_decades: float) -> dict:
    """One-to-one matching of edge steps within a log-step tolerance (greedy by distance)."""
    ref_u = np.log10(np.asarray(reference, dtype=np.float64) + 1.0)
    oth_u = np.log10(np.asarray(other, dtype=np.float64) + 1.0)
    pairs = sorted((abs(a - b), i, j) for i, a in enumerate(ref_u) for j, b in enumerate(oth_u)
                   if abs(a - b) <= tolerance_decades)
    used_i, used_j, distances = set(), set(), []
    for dist, i, j in pairs:
        if i not in used_i and j not in used_j:
            used_i.add(i)
            used_j.add(j)
            distances.append(abs(int(reference[i]) - int(other[j])))
    matched = len(distances)
    total = len(ref_u) + len(oth_u)
    return {
        "changepoint_edges": len(ref_u), "gradient_edges": len(oth_u), "matched": matched,
        "f1": 2.0 * matched / total if total else 1.0,
        "median_distance_steps": float(np.median(distances)) if distances else float("nan"),
        "tolerance_decades": tolerance_decades,
    }
