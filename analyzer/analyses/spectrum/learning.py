"""When each target mode (frequency, or spherical-harmonic degree) is learned (learned step, first step below)
and its jumps on a log-step axis (the rules are in the docstring of analyzer/analyses/spectrum/compute.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyzer.analyses.spectrum.params import SpectrumParams
from analyzer.errors import BadInputError

MIN_BIN_COVERAGE = 0.5  # refuse jump detection when fewer log-step bins than this hold a prediction


def learned_steps(steps: np.ndarray, rel_error: np.ndarray, threshold: float, spike_window: int = 1) -> np.ndarray:
    """(K,) learned step of each column of rel_error (T, K); NaN if it never stays below threshold.

    spike_window <= 1: the first step after which rel_error stays below threshold for good. Otherwise the first
    step below threshold at or after the first step from which the running median over `spike_window` (odd)
    steps, mirrored at the ends, stays below threshold (see the module docstring).
    """
    below = np.asarray(rel_error) < threshold
    smoothed = below if spike_window <= 1 else _median_below(below, spike_window)
    stays = np.logical_and.accumulate(smoothed[::-1], axis=0)[::-1]
    start = np.argmax(stays, axis=0)
    # snap forward to a step whose own error is below: the median may turn below inside a short spike
    later_below = below & (np.arange(len(below))[:, None] >= start[None, :])
    first = np.where(later_below.any(axis=0), np.argmax(later_below, axis=0), start)
    return np.where(stays[-1], np.asarray(steps, dtype=np.float64)[first], np.nan)


def _median_below(below: np.ndarray, window: int) -> np.ndarray:
    """Whether the running median over an odd `window` (mirrored at the ends) is below the threshold.

    That is whether at least window // 2 + 1 of the window's values are below: a running count, O(T).
    """
    half = window // 2
    n_rows = below.shape[0]
    if n_rows < 2:
        return below
    # numpy's "reflect" (d c b | a b c d) is scipy.ndimage's "mirror"; wrap the reflection for short runs
    index = np.abs(np.arange(-half, n_rows + half))
    period = 2 * (n_rows - 1)
    index = index % period
    index = np.where(index >= n_rows, period - index, index)
    counts = np.cumsum(np.r_[np.zeros((1, below.shape[1]), dtype=np.int64), below[index].astype(np.int64)], axis=0)
    return counts[window:] - counts[:-window] >= half + 1


def first_below_steps(steps: np.ndarray, rel_error: np.ndarray, threshold: float) -> np.ndarray:
    """(K,) first step with rel_error below threshold, relapses allowed (Adam spikes); NaN if never."""
    below = np.asarray(rel_error) < threshold
    return np.where(below.any(axis=0), np.asarray(steps, dtype=np.float64)[np.argmax(below, axis=0)], np.nan)


def recrossings(rel_error: np.ndarray, threshold: float) -> np.ndarray:
    """(K,) how often each column went back above the threshold after first falling below it (0: never)."""
    below = np.asarray(rel_error) < threshold
    return np.sum(below[:-1] & ~below[1:], axis=0).astype(np.int64)


def jump_grid(steps: np.ndarray, params: SpectrumParams) -> int:
    """Points per decade of the jump grid: the requested ones, or as many as the stored prediction steps fill.

    Sparse checkpoints (an imported run saved every 20 steps) cannot fill 20 bins per decade; the grid is
    coarsened, down to the fewest points the jump window still spans twice, until at least MIN_BIN_COVERAGE of
    the bins hold a prediction. Below that the predictions are refused as too sparse.
    """
    steps = np.asarray(steps)
    coarsest = max(2, int(np.ceil(2.0 / params.window_decades)))
    for points in range(params.points_per_decade, min(coarsest, params.points_per_decade) - 1, -1):
        if len(steps) >= 3 and _bin_coverage(steps, points) >= MIN_BIN_COVERAGE:
            return points
    return params.points_per_decade  # log_step_curves refuses it with the numbers


def _bin_coverage(steps: np.ndarray, points_per_decade: int) -> float:
    stored_u = np.log10(np.asarray(steps, dtype=np.float64) + 1.0)
    filled = len(np.unique(np.rint((stored_u - stored_u[0]) * points_per_decade)))
    return filled / _reachable_bins(int(steps[0]), int(steps[-1]), points_per_decade)


def learning_tables(steps: np.ndarray, rel_error: np.ndarray, labels: np.ndarray, params: SpectrumParams,
                    mode_name: str = "freq_hz") -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-mode learning table and the table of all jumps; the modes' `labels` go in column `mode_name`.

    The jumps are found on the grid `jump_grid` picks (params.points_per_decade, coarser for sparse steps)."""
    learned = learned_steps(steps, rel_error, params.threshold, params.spike_window)
    points = jump_grid(steps, params)
    if points != params.points_per_decade:
        import dataclasses

        params = dataclasses.replace(params, points_per_decade=points)
    jumps = detect_jumps(steps, rel_error, labels, params, mode_name)
    main_jump = [jumps.loc[jumps[mode_name] == f].sort_values("drop").step.iloc[-1] if (jumps[mode_name] == f).any()
                 else np.nan for f in labels]
    learning = pd.DataFrame({mode_name: mode_column(labels, mode_name), "learned_step": learned,
                             "jump_step": np.asarray(main_jump, dtype=np.float64),
                             "final_rel_error": np.asarray(rel_error, dtype=np.float64)[-1],
                             "first_below_step": first_below_steps(steps, rel_error, params.threshold),
                             "recrossings": recrossings(rel_error, params.threshold)})
    return learning, jumps


def mode_column(labels, mode_name: str) -> np.ndarray:
    """Mode labels as a table column: frequencies in Hz as floats, degrees as integers."""
    return np.asarray(labels, dtype=np.int64 if mode_name == "degree" else np.float64)


def detect_jumps(steps: np.ndarray, rel_error: np.ndarray, labels: np.ndarray, params: SpectrumParams,
                 mode_name: str = "freq_hz") -> pd.DataFrame:
    """Rises of the learned fraction 1 - min(r, 1) across a log-step window, each located at its midpoint."""
    from scipy.signal import find_peaks

    grid_u, curves = log_step_curves(steps, rel_error, params.points_per_decade)
    half = int(round(params.window_decades * params.points_per_decade / 2))
    learned = 1.0 - np.minimum(10.0 ** curves, 1.0)  # (n_grid, K) median-binned learned fraction
    n = len(grid_u)
    left, right = np.clip(np.arange(n) - half, 0, n - 1), np.clip(np.arange(n) + half, 0, n - 1)
    stored_u = np.log10(np.asarray(steps, dtype=np.float64) + 1.0)
    rows = []
    for k, label in enumerate(labels):
        rise = learned[right, k] - learned[left, k]
        unlearned = curves[left, k] >= np.log10(params.threshold)
        # a flat-topped rise (a transition sharper than the window) peaks in its middle; pad so that
        # find_peaks also sees a maximum that touches either end of the grid
        padded = np.r_[-np.inf, np.where(unlearned, rise, -np.inf), -np.inf]
        peaks, _ = find_peaks(padded, height=params.min_drop, distance=2 * half + 1)
        peaks = peaks - 1
        bin_half = 0.5 / params.points_per_decade

        def located(peak: int, r_middle: float) -> int:  # at full resolution within grid bins left..right
            lo = np.searchsorted(stored_u, grid_u[left[peak]] - bin_half)
            hi = np.searchsorted(stored_u, grid_u[right[peak]] + bin_half)
            if hi <= lo:  # a coarse grid over sparse steps: bins between two stored steps are interpolated
                lo, hi = min(lo, len(steps) - 1), min(lo, len(steps) - 1) + 1
            return _first_step_below(steps[lo:hi], rel_error[lo:hi, k], r_middle)

        for peak in peaks:  # the middle of the learned fraction's rise
            r_middle = 1.0 - 0.5 * (learned[left[peak], k] + learned[right[peak], k])
            rows.append((label, located(peak, r_middle), float(rise[peak]), "linear"))
        for peak in _log_scale_peaks(curves[:, k], left, right, peaks, half, params):  # the middle of log10 r's fall
            r_middle = 10.0 ** (0.5 * (curves[left[peak], k] + curves[right[peak], k]))
            rows.append((label, located(peak, r_middle), float(rise[peak]), "log"))
    frame = pd.DataFrame(rows, columns=[mode_name, "step", "drop", "scale"]).sort_values([mode_name, "step"])
    label_type = mode_column([], mode_name).dtype
    return frame.reset_index(drop=True).astype({mode_name: label_type, "step": np.int64, "drop": np.float64})


def _log_scale_peaks(curve: np.ndarray, left: np.ndarray, right: np.ndarray, linear_peaks: np.ndarray, half: int,
                     params: SpectrumParams) -> np.ndarray:
    """Windows where log10 r falls by min_log_drop decades through the threshold, away from linear jumps.

    A late refinement (r from 0.15 to 0.01) barely moves the learned fraction but is the moment the
    frequency gets learned; the linear detector alone misses it. Windows overlapping a linear jump are
    left to it, so an escape is never counted twice.
    """
    from scipy.signal import find_peaks

    if params.min_log_drop <= 0:
        return np.zeros(0, dtype=np.int64)
    log_threshold = np.log10(params.threshold)
    drop = curve[left] - curve[right]
    crossing = (curve[left] >= log_threshold) & (curve[right] < log_threshold)
    padded = np.r_[-np.inf, np.where(crossing, drop, -np.inf), -np.inf]
    peaks, _ = find_peaks(padded, height=params.min_log_drop, distance=2 * half + 1)
    peaks = peaks - 1
    if len(linear_peaks):
        distance = np.abs(peaks[:, None] - np.asarray(linear_peaks)[None, :]).min(axis=1)
        peaks = peaks[distance > 2 * half]
    return peaks


def _first_step_below(steps: np.ndarray, rel_error: np.ndarray, r_middle: float) -> int:
    """First stored step where the relative error reaches `r_middle`, the middle of a jump.

    Read at full resolution (a log-step bin is ~100 steps wide at step 1000) after a 5-point running median
    that ignores single-step spikes; for a logistic escape on the learned fraction this is its half-learned
    step, for a fall of log10 r its geometric middle.
    """
    from scipy.ndimage import median_filter

    smoothed = median_filter(np.asarray(rel_error, dtype=np.float64), size=5, mode="nearest")
    reached = np.flatnonzero(smoothed <= r_middle)
    return int(steps[reached[0]]) if len(reached) else int(steps[len(steps) // 2])


def log_step_curves(steps: np.ndarray, rel_error: np.ndarray, points_per_decade: int) -> tuple[np.ndarray, np.ndarray]:
    """log10(rel_error) median-binned on a uniform grid of u = log10(step + 1); empty bins interpolated.

    Raises BadInputError when predictions are stored too sparsely for the grid to mean anything.
    """
    stored_u = np.log10(np.asarray(steps, dtype=np.float64) + 1.0)
    index = np.rint((stored_u - stored_u[0]) * points_per_decade).astype(np.int64)
    n_grid = int(index[-1]) + 1
    log_error = np.log10(np.maximum(np.asarray(rel_error, dtype=np.float64), 1e-300))
    binned = pd.DataFrame(log_error).groupby(index).median()
    reachable = _reachable_bins(int(steps[0]), int(steps[-1]), points_per_decade)
    if len(steps) < 3 or len(binned) < MIN_BIN_COVERAGE * reachable:
        raise BadInputError(f"predictions stored too sparsely for jump detection: {len(steps)} prediction steps fill "
                            f"{len(binned)} of the {reachable} log-step bins ({points_per_decade} per decade, the "
                            f"coarsest grid the jump window allows) that predictions at every step would fill; "
                            f"store predictions more often (pred_every, or more checkpoints for an imported run)")
    grid_u = stored_u[0] + np.arange(n_grid) / points_per_decade
    filled = binned.index.to_numpy()
    curves = np.column_stack([np.interp(np.arange(n_grid), filled, column) for column in binned.to_numpy().T])
    return grid_u, curves


def _reachable_bins(first_step: int, last_step: int, points_per_decade: int) -> int:
    """How many log-step bins predictions stored at every step would fill (early bins hold no integer step)."""
    dense_until = min(last_step, first_step + 100_000)  # beyond this every bin holds many integer steps
    dense = np.unique(np.rint(np.log10(np.arange(first_step, dense_until + 1) + 1.0) * points_per_decade))
    last_bin = np.rint(np.log10(last_step + 1.0) * points_per_decade)
    return int(len(dense) + max(0.0, last_bin - dense[-1]))
