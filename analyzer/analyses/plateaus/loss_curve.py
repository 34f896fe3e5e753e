"""The loss curve the plateau detectors work on: finite prefix, despiked, binned on log-step, with line fits,
and the segments of it both methods report.

u = log10(step + 1) throughout; y is the running median of log10 loss. LineSums gives the least-squares line
of any index range in O(1), which makes the change-point cost and the local slopes linear in the run length.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analyzer.errors import BadInputError

MIN_GRID_POINTS = 3  # shortest segment on the log-step grid (a line needs 3 points to have a residual)
MIN_PLATEAU_STEPS = 10  # the first steps span whole decades of log-step; a 3-step 'plateau' is no plateau


@dataclass(frozen=True)
class Curve:
    """The despiked log10 loss at full resolution and its median-binned log-step grid."""

    steps: np.ndarray  # (n,) steps of the finite prefix
    u: np.ndarray  # (n,) log10(step + 1)
    y: np.ndarray  # (n,) running median of log10 loss
    grid_u: np.ndarray  # (m,) mean u of each non-empty bin
    grid_y: np.ndarray  # (m,) median y of each bin
    grid_first: np.ndarray  # (m + 1,) full-resolution index where each bin starts, then n
    sigma: float  # robust noise of grid_y, floored


def prepare(steps: np.ndarray, loss: np.ndarray, params) -> tuple[Curve, str]:
    """Validate, keep the finite positive prefix of the loss, despike it and bin it on log-step.

    Args:
        params: anything with window, points_per_decade and noise_floor (PlateauParams).
    """
    if steps.shape != loss.shape or steps.ndim != 1:
        raise BadInputError(f"steps and loss must be 1-D of equal length, got {steps.shape} and {loss.shape}")
    if len(loss) < 2:
        raise BadInputError(f"the run has {len(loss)} logged step(s); plateaus need at least 2")
    bad = ~(np.isfinite(loss) & (loss > 0))
    if bad[0]:
        raise BadInputError("the loss is NaN, infinite or non-positive from the first step; nothing to analyse")
    note = ""
    if bad.any():
        first_bad = int(np.argmax(bad))
        note = f"loss not finite from step {int(steps[first_bad])}; analysed steps before it only"
        steps, loss = steps[:first_bad], loss[:first_bad]
        if len(loss) < 2:
            raise BadInputError(f"{note}, fewer than 2 steps")
    if np.any(np.diff(steps) <= 0) or steps[0] < 0:
        raise BadInputError("steps must be non-negative and strictly increasing")
    log_loss = np.log10(loss.astype(np.float64))
    y = despike(log_loss, min(params.window, _odd_below(len(log_loss))))
    u = np.log10(steps.astype(np.float64) + 1.0)
    grid_u, grid_y, grid_first = _log_grid(u, y, params.points_per_decade)
    sigma = max(_robust_sigma(grid_y), params.noise_floor)
    return Curve(steps, u, y, grid_u, grid_y, grid_first, sigma), note


def despike(log_loss: np.ndarray, window: int, z: float = 3.0) -> np.ndarray:
    """Running median after replacing upward outliers (> z robust sigmas above a first running median).

    Adam's spikes are one-sided and, in the wide preset, one every ~35 steps; a plain running median of
    such a series is biased upward by the fraction of spiky steps, which jumps where the spikes begin and
    would read as a change point. Clipping the spikes first removes that bias.
    """
    from scipy.ndimage import median_filter

    first = median_filter(log_loss, size=window, mode="nearest")
    excess = log_loss - first
    scale = 1.4826 * np.median(np.abs(excess - np.median(excess)))
    cleaned = np.where(excess > z * scale, first, log_loss)
    return median_filter(cleaned, size=window, mode="nearest")


def _odd_below(n: int) -> int:
    return n if n % 2 == 1 else n - 1


def _log_grid(u: np.ndarray, y: np.ndarray, points_per_decade: int):
    """Median of y in bins of 1/points_per_decade decade; bins are contiguous index ranges since u rises."""
    bin_id = np.floor(u * points_per_decade).astype(np.int64)
    first = np.flatnonzero(np.r_[True, bin_id[1:] != bin_id[:-1]])
    bounds = np.r_[first, len(u)]
    grid_u = np.add.reduceat(u, first) / np.diff(bounds)
    grid_y = np.array([np.median(y[a:b]) for a, b in zip(bounds[:-1], bounds[1:])])
    return grid_u, grid_y, bounds


def _robust_sigma(values: np.ndarray) -> float:
    """Noise sigma from the MAD of second differences (var of a 2nd difference of white noise is 6 sigma^2)."""
    if len(values) < 3:
        return 0.0
    second = np.diff(values, 2)
    mad = np.median(np.abs(second - np.median(second)))
    return float(mad / 0.6745 / np.sqrt(6.0))


class LineSums:
    """Prefix sums that give the least-squares line fit of y on x over any index range in O(1)."""

    def __init__(self, x: np.ndarray, y: np.ndarray):
        # centring keeps the one-pass sums from cancelling catastrophically on long runs
        self.y_offset = float(y.mean())
        x = x - x.mean()
        y = y - self.y_offset
        self.sums = [np.r_[0.0, np.cumsum(v)] for v in (np.ones_like(x), x, y, x * x, x * y, y * y)]

    def fit(self, start, end):
        """(sse, slope, mean_y) of the fit on [start, end); arrays broadcast."""
        n, sx, sy, sxx, sxy, syy = (s[end] - s[start] for s in self.sums)
        vxx = sxx - sx * sx / n
        vxy = sxy - sx * sy / n
        safe = np.where(vxx > 0, vxx, 1.0)
        slope = np.where(vxx > 0, vxy / safe, 0.0)
        sse = np.maximum(syy - sy * sy / n - slope * vxy, 0.0)
        return sse, slope, sy / n + self.y_offset


def local_slopes(curve: Curve, slope_window: float) -> np.ndarray:
    """Slope of a line fitted to the grid over `slope_window` decades around each bin."""
    gu, gy = curve.grid_u, curve.grid_y
    half = slope_window / 2
    index = np.arange(len(gu))
    # a line needs 3 points: widen the window where early bins are sparse in log-step
    lo = np.clip(np.minimum(np.searchsorted(gu, gu - half, side="left"), index - 1), 0, None)
    hi = np.clip(np.maximum(np.searchsorted(gu, gu + half, side="right"), index + 2), None, len(gu))
    lo = np.clip(np.minimum(lo, hi - MIN_GRID_POINTS), 0, None)
    return LineSums(gu, gy).fit(lo, hi)[1]


def segment_frame(curve: Curve, bounds: list[int], method: str, params) -> pd.DataFrame:
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


def long_flat_runs(flat: np.ndarray, start_u: np.ndarray, end_u: np.ndarray, n_steps: np.ndarray,
                   params) -> np.ndarray:
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
