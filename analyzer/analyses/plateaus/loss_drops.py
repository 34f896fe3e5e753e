"""Loss drops between plateaus: a logistic fitted to each drop gives its midpoint, width and the plateau edges.

Model. A plateau is a saddle; leaving it, the escaping direction grows exponentially and then saturates. For
the MSE the loss during one drop from level L0 (plateau before) to level L1 (plateau after, or the end of the
run) is
    L(t) = L1 + (L0 - L1) (1 - s(t))^2,    s(t) = 1 / (1 + exp(-kappa (t - t_mid))),
s the learned fraction of the escaping residual (exact for a diagonal linear network under gradient flow,
analyzer/analyses/score/known.py). Hence A(t) = sqrt((L - L1) / (L0 - L1)) = 1 - s(t), and
logit A = -kappa (t - t_mid) is a line in steps.

Fit. L0 and L1 are the loss where the plateau segments next to the drop are flattest (the least slope of
the local line fits), L1 after the last plateau the run's last loss; a least-squares line through logit A
over the steps with 0.2 < A < 0.8, where errors in the levels barely move it. The plateau before then
ends where s = 0.1 (t_mid - ln 9 / kappa) and the one after starts where s = 0.9 (t_mid + ln 9 / kappa):
the usual 10-90 % points of the drop, width 2 ln 9 / kappa.

Drops that are no logistic (a power law in step, or several escapes merged into one drop) are fitted better
by the change-point lines; they keep the corners as edges, and their midpoint is the first step where
A <= 0.5, the same point the fit estimates. After the last plateau L1 is only where training stopped, so
that midpoint depends on the run's length.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyzer.analyses.plateaus.loss_curve import LineSums

LOSS_DROP_COLUMNS = ["end_step", "mid_step", "start_step", "width_steps", "level_before", "level_after", "fitted"]
LOSS_DROP_DTYPES = {**{name: np.float64 for name in LOSS_DROP_COLUMNS}, "fitted": bool}
CLIFF_MIN_DECADES, CLIFF_SIGMAS = 0.05, 5.0  # a level shift between flat neighbours below both is no cliff
CLIFF_WINDOW_BINS = 3  # a cliff is looked for this many grid bins either side of the change point
FIT_RANGE = (0.2, 0.8)  # the part of A fitted: its middle, insensitive to the levels
EDGE_LOGIT = np.log(9.0)  # s = 0.1 and s = 0.9 lie ln 9 / kappa either side of the midpoint


def fit_logistic_drop(steps: np.ndarray, loss: np.ndarray, level_before: float, level_after: float):
    """(t_mid, kappa) of the logistic drop of `loss` between two levels, or None where it is undefined.

    Args:
        steps, loss: the stretch of the curve that holds the drop (from the flattest point of the plateau
            before to the flattest point of the one after).
        level_before, level_after: L0 > L1.
    """
    if not level_before > level_after:
        return None
    remaining = np.sqrt(np.clip((loss - level_after) / (level_before - level_after), 0.0, None))
    inside = (remaining > FIT_RANGE[0]) & (remaining < FIT_RANGE[1])
    if inside.sum() < 2 or np.ptp(steps[inside]) == 0:
        return None
    a = remaining[inside]
    slope, intercept = np.polyfit(steps[inside].astype(np.float64), np.log(a / (1.0 - a)), 1)
    if not slope < 0:
        return None
    kappa = -slope
    return intercept / kappa, kappa


def _log_drop(steps: np.ndarray, mid: float, kappa: float, level_before: float, level_after: float) -> np.ndarray:
    """log10 of the logistic drop L1 + (L0 - L1)(1 - s)^2 at `steps`."""
    from scipy.special import expit

    return np.log10(level_after + (level_before - level_after) * expit(-kappa * (steps - mid)) ** 2)


def refine_logistic_drop(steps: np.ndarray, log_loss: np.ndarray, fit, level_before: float, level_after: float):
    """(t_mid, kappa) refined by least squares on log10 loss over the whole drop (Nelder-Mead from the logit fit).

    The logit line uses only the points with 0.2 < A < 0.8; on a noisy minibatch loss those few points scatter
    (A is a square root of a noisy difference), while log10 loss over the whole drop averages the noise out.
    The refined fit is kept only where it fits better than the start.
    """
    from scipy.optimize import minimize

    steps = np.asarray(steps, dtype=np.float64)

    def sse(theta: np.ndarray) -> float:
        residual = log_loss - _log_drop(steps, theta[0], np.exp(theta[1]), level_before, level_after)
        return float(residual @ residual)

    start = np.array([fit[0], np.log(fit[1])])
    best = minimize(sse, start, method="Nelder-Mead", options={"xatol": 1e-3, "fatol": 1e-12, "maxiter": 400})
    if not (best.success or best.nit >= 400) or not best.fun < sse(start) or not np.isfinite(best.x).all():
        return fit
    return float(best.x[0]), float(np.exp(best.x[1]))


def split_cliffs(curve, bounds: list[int], flat: np.ndarray, min_points: int) -> list[int]:
    """Carve a transition segment out of each cliff between two flat segments.

    A drop narrower than the 3 grid bins Pelt needs for a segment (a 3-decade fall within 40 steps at step
    2,000 is 0.01 decades) is a level shift between two flat lines: unsplit, both would merge into one
    plateau with no edge. Where the lines of two flat neighbours differ at their boundary by more than
    max(CLIFF_SIGMAS x noise, CLIFF_MIN_DECADES), the steps from where 10 % of the shift is done to where 90 %
    is become a segment of their own.
    """
    sums = LineSums(curve.u, curve.y)
    threshold = max(CLIFF_SIGMAS * curve.sigma, CLIFF_MIN_DECADES)
    out = [bounds[0]]
    for i in range(1, len(bounds) - 1):
        carved = _carve(curve, sums, (out[-1], bounds[i], bounds[i + 1]), threshold, min_points) \
            if flat[i - 1] and flat[i] else None
        out.extend(carved or [bounds[i]])
    return out + [bounds[-1]]


def _carve(curve, sums, segments: tuple[int, int, int], threshold: float, min_points: int):
    """[first step of the cliff, first step after it] around boundary b of [a, b) and [b, c), or None."""
    a, b, c = segments
    left = _line_value(curve, sums, a, b, b - 1)
    shift = _line_value(curve, sums, b, c, b) - left
    if abs(shift) < threshold:
        return None
    k = int(np.searchsorted(curve.grid_first, b, side="right")) - 1
    lo = max(a + min_points, int(curve.grid_first[max(k - CLIFF_WINDOW_BINS, 0)]))
    hi = min(c - min_points, int(curve.grid_first[min(k + CLIFF_WINDOW_BINS + 1, len(curve.grid_first) - 1)]))
    done = (curve.y[lo:hi] - left) / shift  # 0 at the level before, 1 at the level after
    before = np.flatnonzero(done < 0.1)
    if hi <= lo or len(before) == 0:
        return None
    first = lo + int(before[-1]) + 1
    after = np.flatnonzero(done[first - lo:] >= 0.9)
    if len(after) == 0:
        return None
    stop = max(first + int(after[0]), first + 1)
    return [first, stop] if first - a >= min_points and c - stop >= min_points else None


def _line_value(curve, sums, first: int, stop: int, at: int) -> float:
    """The least-squares line of y on u over [first, stop), evaluated at index `at`."""
    _, slope, mean = sums.fit(first, stop)
    return float(mean + slope * (curve.u[at] - curve.u[first:stop].mean()))


def true_runs(flags: np.ndarray) -> list[tuple[int, int]]:
    """(first, one past last) index of each maximal run of True."""
    padded = np.r_[False, np.asarray(flags, dtype=bool), False].astype(np.int8)
    change = np.flatnonzero(np.diff(padded))
    return list(zip(change[::2], change[1::2]))


def logistic_edges(curve, bounds: list[int], flags: np.ndarray, bin_slopes: np.ndarray, min_points: int):
    """Move every plateau end, and the start of the plateau that follows, to the 10/90 % points of the drop.

    Args:
        curve: the prepared curve (steps, y = despiked log10 loss, grid_first) of loss_curve.prepare.
        bounds, flags: full-resolution segment boundaries and plateau flags of the change-point method.
        bin_slopes: local log-log slope of each grid bin, to find where a plateau is flattest.
        min_points: shortest segment kept, in steps.
    Returns:
        (bounds, flags, loss_drops): the steep segments between two plateaus merged into one transition
        segment, and one LOSS_DROP_COLUMNS row per plateau that ends inside the run.
    """
    flags = np.asarray(flags, dtype=bool)
    runs = true_runs(flags)
    loss = 10.0 ** curve.y
    edits, rows, moved_start = {}, [], 0  # moved_start: where the previous drop moved this plateau's start
    for k, (plateau_first, steep_first) in enumerate(runs):
        if steep_first == len(flags):
            break  # the plateau lasts until the run ends
        follows = k + 1 < len(runs)
        next_first = runs[k + 1][0] if follows else len(flags)
        first = max(bounds[steep_first - 1], moved_start)
        # levels from the plateau's last segment and the next plateau's first: a plateau of several segments
        # can hold a small level shift, and its flattest bin may lie on the far side of it
        lo = _flattest(curve, bin_slopes, first, bounds[steep_first])
        hi = _flattest(curve, bin_slopes, bounds[next_first], bounds[next_first + 1]) if follows else len(loss)
        level_before, level_after = float(loss[lo]), float(loss[hi] if follows else loss[-1])
        fit = fit_logistic_drop(curve.steps[lo:hi], loss[lo:hi], level_before, level_after)
        if fit is not None:
            fit = refine_logistic_drop(curve.steps[lo:hi], curve.y[lo:hi], fit, level_before, level_after)
        if fit is not None and not _logistic_fits_better(curve, bounds, lo, hi, fit, level_before, level_after):
            fit = None
        half = _half_gone(loss[lo:hi], level_before, level_after)
        end, start, mid, width = _edge_indices(curve, bounds, (first, steep_first), next_first, fit, min_points,
                                               None if half is None else lo + half)
        edits[steep_first], moved_start = (end, start, next_first), start
        if not level_before > level_after:
            mid = np.nan  # the loss rises or stays: the plateau ends, but into no drop
        rows.append({"end_step": int(curve.steps[end - 1]) + 1, "mid_step": mid,
                     "start_step": float(curve.steps[start]) if follows else np.nan, "width_steps": width,
                     "level_before": level_before, "level_after": level_after, "fitted": fit is not None})
    return (*_rebuild(bounds, flags, edits), loss_drops_frame(rows))


def loss_drops_frame(rows: list[dict] | None = None) -> pd.DataFrame:
    """The LOSS_DROP_COLUMNS table of these rows (none: empty), with the same dtypes either way."""
    return pd.DataFrame(rows or [], columns=LOSS_DROP_COLUMNS).astype(LOSS_DROP_DTYPES)


def _flattest(curve, bin_slopes: np.ndarray, first: int, stop: int) -> int:
    """Full-resolution index in [first, stop) at the middle of the grid bin with the least |slope|."""
    bins = np.arange(np.searchsorted(curve.grid_first, first, side="right") - 1,
                     np.searchsorted(curve.grid_first, stop, side="left"))
    bins = bins[(bins >= 0) & (bins < len(bin_slopes))]
    if len(bins) == 0:
        return (first + stop - 1) // 2
    k = int(bins[np.argmin(np.abs(bin_slopes[bins]))])
    return int(np.clip((curve.grid_first[k] + curve.grid_first[k + 1] - 1) // 2, first, stop - 1))


def _logistic_fits_better(curve, bounds, lo: int, hi: int, fit, level_before: float, level_after: float) -> bool:
    """Whether the logistic drop fits log10 loss over [lo, hi) better than the change-point lines do.

    A drop that is a power law in step (a straight line in log-log, as in the planted tests) keeps its
    corners. Only points where the drop is not yet 99.99 % done count: beyond, a loss near its floor is noise.
    """
    from scipy.special import expit

    mid, kappa = fit
    steps = curve.steps[lo:hi].astype(np.float64)
    unlearned = expit(-kappa * (steps - mid))  # 1 - s, without overflow on a fast drop after a long plateau
    model = np.log10(level_after + (level_before - level_after) * unlearned ** 2)
    keep = 10.0 ** curve.y[lo:hi] - level_after > 1e-4 * (level_before - level_after)
    stop = lo + (int(np.flatnonzero(keep)[-1]) + 1 if keep.any() else 0)
    if stop - lo < 4:
        return False
    sse_logistic = float(np.sum((curve.y[lo:stop] - model[:stop - lo]) ** 2))
    cuts = [lo, *[b for b in bounds if lo < b < stop], stop]
    sums = LineSums(curve.u[lo:stop], curve.y[lo:stop])
    sse_lines = sum(float(sums.fit(a - lo, b - lo)[0]) for a, b in zip(cuts[:-1], cuts[1:]) if b - a >= 3)
    if sse_logistic < sse_lines:
        return True
    # On a noisy loss Pelt cuts the drop into more lines, which then fit the noise: compare by BIC on the log-step
    # grid (its bins are the independent points Pelt saw), 2 parameters for the logistic (its levels are read
    # off the plateaus), a slope, an intercept and a cut per line.
    n_bins = int(np.diff(np.searchsorted(curve.grid_first, [lo, stop])).item())
    n_lines = len(cuts) - 1
    if n_bins <= 3 * n_lines or sse_lines <= 0:
        return False
    bic_logistic = n_bins * np.log(sse_logistic / (stop - lo)) + 2 * np.log(n_bins)
    bic_lines = n_bins * np.log(sse_lines / (stop - lo)) + (3 * n_lines - 1) * np.log(n_bins)
    return bool(bic_logistic < bic_lines)


def _half_gone(loss: np.ndarray, level_before: float, level_after: float) -> int | None:
    """First index where the escaping residual sqrt((L - L1) / (L0 - L1)) is down to half, or None."""
    below = np.flatnonzero(loss <= level_after + 0.25 * (level_before - level_after))
    return int(below[0]) if level_before > level_after and len(below) else None


def _edge_indices(curve, bounds, before, next_first, fit, min_points, half: int | None):
    """(end, start, mid_step, width_steps): full-resolution indices of the moved edges, clipped to the segments.

    Args:
        before: (first index of the plateau's last segment, index of the first steep segment after it).
        next_first: index of the next plateau's first segment, or the number of segments if none follows.
        half: full-resolution index where the drop is half done (A = 0.5), the midpoint when no fit.
    """
    first, steep_first = before
    follows = next_first < len(bounds) - 1
    if fit is None:  # keep the corners; the midpoint is where the residual is half gone, as for a fit
        end, start = bounds[steep_first], bounds[next_first] if follows else len(curve.steps)
        mid = float(curve.steps[half]) if half is not None else \
            float(np.sqrt((curve.steps[end] + 1.0) * (curve.steps[start - 1] + 1.0)) - 1.0)
        width = float(curve.steps[start] - curve.steps[end]) if follows else np.nan  # open-ended
    else:
        mid, kappa = fit
        to_index = lambda step: int(np.searchsorted(curve.steps, np.ceil(step)))  # noqa: E731
        end = int(np.clip(to_index(mid - EDGE_LOGIT / kappa), first + min_points,
                          bounds[next_first + 1] - 2 * min_points if follows else bounds[steep_first + 1] - min_points))
        start = int(np.clip(to_index(mid + EDGE_LOGIT / kappa), end + 1,
                            bounds[next_first + 1] - min_points)) if follows else len(curve.steps)
        width = float(2.0 * EDGE_LOGIT / kappa)
    # the midpoint lies in the drop: an extrapolated fit or an early half-way point is clipped to it
    mid = float(np.clip(mid, curve.steps[end - 1] + 1, curve.steps[min(start, len(curve.steps) - 1)]))
    return end, start, mid, width


def _rebuild(bounds: list[int], flags: np.ndarray, edits: dict) -> tuple[list[int], np.ndarray]:
    """Apply {first steep segment: (new plateau end, new next start, index of the next plateau)} to the segments."""
    out_bounds, out_flags, i = [0], [], 0
    while i < len(flags):
        if i in edits:
            end, start, next_first = edits[i]
            out_bounds[-1] = end
            if next_first < len(flags):  # the steep segments between two plateaus become one transition segment
                out_bounds.append(start)
                out_flags.append(False)
                i = next_first
        out_bounds.append(bounds[i + 1])
        out_flags.append(bool(flags[i]))
        i += 1
    return out_bounds, np.asarray(out_flags, dtype=bool)

