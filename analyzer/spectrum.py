"""Per-step DFT of the stored predictions and when each target frequency is learned (frequency principle).

The eval grid is uniform, x_i = x_0 + i*dx (i < G), so DFT bin k is the frequency k / (G*dx) Hz. For each
target frequency and stored prediction step the analysis keeps the relative error |h_k - y_k| / |y_k| of the
complex coefficients and the prediction's amplitude, and finds the step after which the error stays below
`threshold` (learned step) and its jumps. The DFT of every bin (`amplitude_spectrum`) is computed on demand,
never cached: it is as large as the predictions themselves. Predictions that turn NaN or infinite end the
analysis at the first such step, the way a non-finite loss ends the plateau analysis.

Learned step: Adam at lr 0.01 makes isolated loss spikes of a few to a few tens of steps that push every
frequency above the threshold for a moment (on the `deep` preset one spike near step 8,550 made 1, 3 and
7 Hz all "learned at ~8,550" although 1 Hz is below 0.1 from step 11 on). So "stays below" is judged on
the running median of the relative error over a centred window of `spike_window` (odd W = 2h + 1)
prediction steps, mirrored at both ends of the run: the learned step is the first stored step whose own
error is below the threshold, at or after the first step from which the running median stays below it.
An isolated excursion above the threshold of at most h steps is ignored; one of h + 1 steps or more (a
relapse) still moves the learned step to the first step after it, exactly as the strict rule does, and
so does a cluster of spikes that is above the threshold for most of a window. At the end of the run the
mirror doubles a trailing stretch, so a final spike shorter than about h/2 steps does not unlearn, and a
frequency that first drops below in the last ~h/2 steps does not yet count as learned. spike_window 0 or
1 is the strict rule: the first step after which every stored error is below the threshold.
The median is computed as a running count of below-threshold steps (the median of an odd window is below
the threshold iff at least h + 1 of its values are): linear in the run length. `first_below_step` keeps
the first step below the threshold, relapses allowed.

Jumps are found on a log-step axis, u = log10(step + 1), because learning proceeds in stages that are
evenly spread in log-step. log10 of the relative error is median-binned on a uniform u grid (robust to
Adam's spikes) and turned into the learned fraction q = 1 - min(r, 1), which for a logistic escape is the
logistic itself (r = 1 - w/a in the diag-linear model). The rise of q across a window, D(u) = q(u + h) -
q(u - h), uses windows clipped at the ends of the grid (never padded values); a jump is a peak of D of at
least `min_drop` whose window starts above `threshold` (a frequency that is still unlearned). It is located
at full resolution: the first stored step where q (5-point running median) reaches the middle of the rise,
which is the half-learned step of a logistic. Locating it on log10(r) instead put it 1.2-2.7 sigmoid widths
late: after an escape log10(r) keeps falling with the exponential convergence, not with the sigmoid.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analyzer.errors import BadInputError
from analyzer.registry import register

BLOCK_ROWS = 1024  # rfft this many prediction rows at a time: bounded memory on long runs
MIN_BIN_COVERAGE = 0.5  # refuse jump detection when fewer log-step bins than this hold a prediction
MIN_PRED_STEPS = 3  # the log-step curves of jump detection need three stored predictions


@dataclass(frozen=True)
class SpectrumParams:
    """Options of `analyze spectrum`.

    Args:
        threshold: a frequency is learned once its relative error stays below this (0 < threshold).
        points_per_decade: resolution of the log-step grid used for jump detection.
        window_decades: full width of the drop window D in decades of steps.
        min_drop: smallest rise of the learned fraction 1 - min(r, 1) across the window that counts as a jump.
        min_log_drop: smallest fall of log10(r), in decades across the window and through the threshold, that
            counts as a (log-scale) jump away from any linear one; 0 turns log-scale jumps off.
        spike_window: odd width W = 2h + 1, in prediction steps, of the running median on which "stays below
            the threshold" is judged: excursions above it of at most h steps are ignored (Adam spikes), longer
            ones reset the learned step. 0 or 1: strict, every step after the learned step is below. Default
            51 (h = 25): the longest isolated spikes on the Adam presets last 22-25 steps, relapses 74+ steps,
            and the learned steps of all four presets are stable for W from 41 to 81.
    """

    threshold: float = 0.1
    points_per_decade: int = 20
    window_decades: float = 0.5
    min_drop: float = 0.3
    spike_window: int = 51
    min_log_drop: float = 0.5

    def __post_init__(self):
        if not self.threshold > 0:
            raise ValueError(f"threshold must be positive, got {self.threshold}")
        if not self.points_per_decade >= 2:
            raise ValueError(f"points_per_decade must be at least 2, got {self.points_per_decade}")
        if not self.window_decades * self.points_per_decade >= 2:
            raise ValueError(f"window_decades must span at least 2 grid points, got {self.window_decades}")
        if not self.min_drop > 0:
            raise ValueError(f"min_drop must be positive, got {self.min_drop}")
        if not self.min_log_drop >= 0:
            raise ValueError(f"min_log_drop must be zero or positive, got {self.min_log_drop}")
        if not (self.spike_window in (0, 1) or (self.spike_window >= 3 and self.spike_window % 2 == 1)):
            raise ValueError(f"spike_window must be 0, 1 or an odd number of at least 3, got {self.spike_window}")


@dataclass(frozen=True)
class SpectrumResult:
    """Per-frequency learning over training. The full DFT (every bin, amplitude and phase) is not part of
    it: it is as large as the predictions and recomputes in well under a second (`amplitude_spectrum`).

    Predictions that turn NaN or infinite end the analysis: only the prediction steps before the first
    non-finite one are analysed (`first_nonfinite_step`, `note`), as the plateaus do with the loss.
    """

    steps: np.ndarray  # (T,) prediction steps analysed
    freqs_hz: np.ndarray  # (F,) DFT bin frequencies 0..Nyquist
    target_freqs_hz: np.ndarray  # (K,)
    target_amplitude: np.ndarray  # (F,) single-sided amplitude of y_eval: a*sin(2 pi f x) gives a at f
    pred_amplitude: np.ndarray  # (T, K) single-sided amplitude of the prediction at each target frequency
    rel_error: np.ndarray  # (T, K) |h_k - y_k| / |y_k|
    learning: pd.DataFrame  # freq_hz, target_amplitude, learned_step, jump_step, final_rel_error, first_below_step
    jumps: pd.DataFrame  # freq_hz, step, drop (rise of the learned fraction 1 - min(r, 1) across the window)
    threshold: float
    first_nonfinite_step: int | None = None  # first stored prediction step with a NaN or infinite value
    note: str = ""  # why part of the run was not analysed, if any

    def headline(self) -> str:
        learned = self.learning.dropna(subset=["learned_step"])
        parts = [f"{_hz(r.freq_hz)} at step {int(r.learned_step)} (first below at {int(r.first_below_step)})"
                 for r in learned.itertuples()]
        never = [_hz(f) for f in self.learning.freq_hz if f not in set(learned.freq_hz)]
        text = "learned " + ", ".join(parts) if parts else "no target frequency learned"
        if never and parts:
            text += f"; {', '.join(never)} never stay below relative error {self.threshold:g}"
        elif never:
            text += f" (relative error never stays below {self.threshold:g})"
        return text + f"; {len(self.jumps)} jumps" + (f"; {self.note}" if self.note else "")

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"learning per target frequency": self.learning, "frequency jumps": self.jumps}


@dataclass(frozen=True)
class AmplitudeSpectrum:
    """The DFT of every stored prediction: single-sided amplitude and phase of each bin up to `max_hz`."""

    steps: np.ndarray  # (T,)
    freqs_hz: np.ndarray  # (F,)
    amplitude: np.ndarray  # (T, F): a*sin(2 pi f x) gives a at f
    phase: np.ndarray  # (T, F) phase of the DFT coefficient, radians


def _hz(freq: float) -> str:
    return f"{freq:g} Hz"


def spectrum_from_predictions(steps, pred, y_eval, target_freqs_hz, params: SpectrumParams = SpectrumParams(),
                              *, length: float = 1.0) -> SpectrumResult:
    """The spectrum analysis on arrays.

    Args:
        steps: (T,) increasing prediction steps.
        pred: (T, G) or (T, G, 1) predictions on a uniform grid of `length`; anything row-sliceable
            (an h5py dataset is read block by block).
        y_eval: (G,) target on the same grid.
        target_freqs_hz: frequencies to track; each must fall on a DFT bin below Nyquist.
    """
    steps = np.asarray(steps, dtype=np.int64)
    y_eval = np.asarray(y_eval, dtype=np.float64).reshape(-1)
    n_grid = y_eval.shape[0]
    if len(steps) != pred.shape[0] or pred.shape[1] != n_grid:
        raise BadInputError(f"predictions of shape {tuple(pred.shape)} do not match {len(steps)} steps x {n_grid} points")
    freqs_hz = np.arange(n_grid // 2 + 1) / length
    bins = _target_bins(np.asarray(target_freqs_hz, dtype=np.float64), n_grid, length)
    target_coef = np.fft.rfft(y_eval)
    if np.any(np.abs(target_coef[bins]) <= 1e-12 * max(1.0, np.abs(target_coef).max())):
        raise BadInputError("a target frequency has no amplitude in y_eval; its relative error is undefined")
    coef = _target_coefficients(pred, n_grid, bins)
    first_bad, note = _finite_prefix(steps, len(coef))
    steps = steps[: len(coef)]
    rel_error = np.abs(coef - target_coef[bins]) / np.abs(target_coef[bins])
    scale = _single_sided_scale(n_grid)
    learning, jumps = learning_tables(steps, rel_error, freqs_hz[bins], params)
    learning.insert(1, "target_amplitude", np.abs(target_coef[bins]) * scale[bins])
    return SpectrumResult(steps=steps, freqs_hz=freqs_hz, target_freqs_hz=freqs_hz[bins],
                          target_amplitude=np.abs(target_coef) * scale, pred_amplitude=np.abs(coef) * scale[bins],
                          rel_error=rel_error, learning=learning, jumps=jumps, threshold=float(params.threshold),
                          first_nonfinite_step=first_bad, note=note)


def _finite_prefix(steps: np.ndarray, n_finite: int) -> tuple[int | None, str]:
    """The first non-finite prediction step and the note saying so; refuses too few finite steps."""
    if n_finite == len(steps):
        if n_finite < MIN_PRED_STEPS:
            raise BadInputError(f"nothing to analyze: {n_finite} stored prediction step(s); the spectrum needs at "
                                f"least {MIN_PRED_STEPS}")
        return None, ""
    first_bad = int(steps[n_finite])
    if n_finite == 0:
        raise BadInputError(f"the predictions are NaN or infinite from the first stored step ({first_bad}); "
                            "nothing to analyze")
    note = (f"predictions not finite from step {first_bad}; analysed the {n_finite} prediction steps before it "
            "only")
    if n_finite < MIN_PRED_STEPS:
        raise BadInputError(f"{note}, fewer than {MIN_PRED_STEPS}")
    return first_bad, note


def _target_bins(target_freqs_hz: np.ndarray, n_grid: int, length: float) -> np.ndarray:
    bins_float = target_freqs_hz * length
    bins = np.rint(bins_float).astype(np.int64)
    for freq, exact, k in zip(target_freqs_hz, bins_float, bins):
        if abs(exact - k) > 1e-9 * max(1.0, abs(exact)):
            raise BadInputError(f"target frequency {freq:g} Hz falls between DFT bins (spacing {1 / length:g} Hz) "
                                f"of the {n_grid}-point eval grid; spectrum needs frequencies on the bins")
        if not 0 < k < n_grid / 2:
            raise BadInputError(f"target frequency {freq:g} Hz is outside (0, Nyquist={n_grid / 2 / length:g} Hz) "
                                f"of the {n_grid}-point eval grid")
    return bins


def _single_sided_scale(n_grid: int) -> np.ndarray:
    """|X_k| * scale is the amplitude of a real sinusoid: 2/G inside, 1/G at DC and at an even Nyquist."""
    scale = np.full(n_grid // 2 + 1, 2.0 / n_grid)
    scale[0] = 1.0 / n_grid
    if n_grid % 2 == 0:
        scale[-1] = 1.0 / n_grid
    return scale


def _target_coefficients(pred, n_grid: int, bins: np.ndarray) -> np.ndarray:
    """Complex DFT coefficients (T', K) at the target bins of the rows before the first non-finite row."""
    coef = np.empty((pred.shape[0], len(bins)), dtype=np.complex128)
    for start in range(0, pred.shape[0], BLOCK_ROWS):
        block = np.asarray(pred[start:start + BLOCK_ROWS], dtype=np.float64).reshape(-1, n_grid)
        finite = np.isfinite(block).all(axis=1)
        coef[start:start + len(block)] = np.fft.rfft(block, axis=1)[:, bins]
        if not finite.all():
            return coef[: start + int(np.argmin(finite))]
    return coef


def dft_of_predictions(steps, pred, *, length: float = 1.0, max_hz: float | None = None,
                       dtype=np.float32) -> AmplitudeSpectrum:
    """Amplitude and phase of every DFT bin up to `max_hz` (default Nyquist) of each prediction row.

    Args:
        pred: (T, G) or (T, G, 1) predictions on a uniform grid of `length`; anything row-sliceable.
        dtype: dtype of the amplitude and phase arrays (float64 for exact comparisons).
    """
    steps = np.asarray(steps, dtype=np.int64)
    n_rows, n_grid = pred.shape[0], pred.shape[1]
    if len(steps) != n_rows:
        raise BadInputError(f"predictions have {n_rows} rows for {len(steps)} steps")
    freqs_hz = np.arange(n_grid // 2 + 1) / length
    n_freqs = len(freqs_hz) if max_hz is None else int(np.searchsorted(freqs_hz, max_hz, side="right"))
    amplitude = np.empty((n_rows, n_freqs), dtype=dtype)
    phase = np.empty((n_rows, n_freqs), dtype=dtype)
    scale = _single_sided_scale(n_grid)[:n_freqs]
    for start in range(0, n_rows, BLOCK_ROWS):
        block = np.asarray(pred[start:start + BLOCK_ROWS], dtype=np.float64).reshape(-1, n_grid)
        spectrum = np.fft.rfft(block, axis=1)[:, :n_freqs]
        amplitude[start:start + len(block)] = np.abs(spectrum) * scale
        phase[start:start + len(block)] = np.angle(spectrum)
    return AmplitudeSpectrum(steps, freqs_hz[:n_freqs], amplitude, phase)


def amplitude_spectrum(run, *, max_hz: float | None = None, n_rows: int | None = None,
                       dtype=np.float32) -> AmplitudeSpectrum:
    """The DFT of a run's stored predictions (the first `n_rows`, default all), read block by block."""
    length = _eval_grid_length(run)
    n_rows = len(run.pred_steps) if n_rows is None else min(n_rows, len(run.pred_steps))
    return dft_of_predictions(run.pred_steps[:n_rows], _RowView(run.pred_dataset, n_rows), length=length,
                              max_hz=max_hz, dtype=dtype)


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


def learning_tables(steps: np.ndarray, rel_error: np.ndarray, freqs_hz: np.ndarray,
                    params: SpectrumParams) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The per-frequency learning table and the table of all jumps."""
    learned = learned_steps(steps, rel_error, params.threshold, params.spike_window)
    jumps = detect_jumps(steps, rel_error, freqs_hz, params)
    main_jump = [jumps.loc[jumps.freq_hz == f].sort_values("drop").step.iloc[-1] if (jumps.freq_hz == f).any()
                 else np.nan for f in freqs_hz]
    learning = pd.DataFrame({"freq_hz": np.asarray(freqs_hz, dtype=np.float64), "learned_step": learned,
                             "jump_step": np.asarray(main_jump, dtype=np.float64),
                             "final_rel_error": np.asarray(rel_error, dtype=np.float64)[-1],
                             "first_below_step": first_below_steps(steps, rel_error, params.threshold)})
    return learning, jumps


def detect_jumps(steps: np.ndarray, rel_error: np.ndarray, freqs_hz: np.ndarray,
                 params: SpectrumParams) -> pd.DataFrame:
    """Rises of the learned fraction 1 - min(r, 1) across a log-step window, each located at its midpoint."""
    from scipy.signal import find_peaks

    grid_u, curves = log_step_curves(steps, rel_error, params.points_per_decade)
    half = int(round(params.window_decades * params.points_per_decade / 2))
    learned = 1.0 - np.minimum(10.0 ** curves, 1.0)  # (n_grid, K) median-binned learned fraction
    n = len(grid_u)
    left, right = np.clip(np.arange(n) - half, 0, n - 1), np.clip(np.arange(n) + half, 0, n - 1)
    stored_u = np.log10(np.asarray(steps, dtype=np.float64) + 1.0)
    rows = []
    for k, freq in enumerate(freqs_hz):
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
            return _first_step_below(steps[lo:hi], rel_error[lo:hi, k], r_middle)

        for peak in peaks:  # the middle of the learned fraction's rise
            r_middle = 1.0 - 0.5 * (learned[left[peak], k] + learned[right[peak], k])
            rows.append((float(freq), located(peak, r_middle), float(rise[peak]), "linear"))
        for peak in _log_scale_peaks(curves[:, k], left, right, peaks, half, params):  # the middle of log10 r's fall
            r_middle = 10.0 ** (0.5 * (curves[left[peak], k] + curves[right[peak], k]))
            rows.append((float(freq), located(peak, r_middle), float(rise[peak]), "log"))
    frame = pd.DataFrame(rows, columns=["freq_hz", "step", "drop", "scale"]).sort_values(["freq_hz", "step"])
    return frame.reset_index(drop=True).astype({"freq_hz": np.float64, "step": np.int64, "drop": np.float64})


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
                            f"{len(binned)} of the {reachable} log-step bins ({points_per_decade} per decade) that "
                            f"predictions at every step would fill; store predictions more often (pred_every)")
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


@register("spectrum", params=SpectrumParams, result=SpectrumResult, version="6",
          summary="per-step DFT of the predictions; learned step and jumps of each target frequency")
def compute(run, params: SpectrumParams) -> SpectrumResult:
    """The spectrum analysis of a run (predictions read block by block)."""
    length = _eval_grid_length(run)
    freqs = run.target.get("freqs_hz") or []
    if len(freqs) == 0:
        raise BadInputError(f"{run.path}: the run stores no target frequencies")
    n_pred = len(run.pred_steps)
    if n_pred < MIN_PRED_STEPS:
        raise BadInputError(f"{run.path}: nothing to analyze: {n_pred} committed prediction step(s) "
                            f"({run.n_steps} committed steps); the spectrum needs at least {MIN_PRED_STEPS}")
    rows = _RowView(run.pred_dataset, n_pred)
    try:
        return spectrum_from_predictions(run.pred_steps, rows, run.data("y_eval"), freqs, params, length=length)
    except BadInputError as err:
        raise BadInputError(f"{run.path}: {err}") from None


def _eval_grid_length(run) -> float:
    """G * dx of the run's uniform 1-D eval grid; refuses grids and outputs the DFT cannot use."""
    x_stored = run.data("x_eval")
    x_eval = np.asarray(x_stored, dtype=np.float64)
    if x_eval.ndim != 2 or x_eval.shape[1] != 1:
        raise BadInputError(f"spectrum needs 1-D inputs; x_eval has shape {x_eval.shape}")
    if run.pred_dataset.ndim != 3 or run.pred_dataset.shape[-1] != 1:
        raise BadInputError(f"spectrum needs one output; predictions have shape {run.pred_dataset.shape}")
    if not np.issubdtype(x_stored.dtype, np.floating):
        raise BadInputError(f"x_eval must be floating point, got {x_stored.dtype}")
    return _uniform_grid_length(x_eval[:, 0], np.finfo(x_stored.dtype).eps)


def _uniform_grid_length(x: np.ndarray, eps: float) -> float:
    """G * dx of a uniform grid, to the precision the grid was stored in (float32 grids: 6 digits)."""
    if len(x) < 4:
        raise BadInputError(f"the eval grid has {len(x)} points; the spectrum needs at least 4")
    dx = (x[-1] - x[0]) / (len(x) - 1)
    tolerance = 1e-3 * dx + 8 * eps * np.max(np.abs(x))
    if not dx > 0 or np.max(np.abs(np.diff(x) - dx)) > tolerance:
        raise BadInputError("the eval grid is not uniform; the DFT spectrum needs a uniform grid")
    digits = max(1, int(-np.log10(eps)) - 1)
    return float(f"{dx * len(x):.{digits}g}")


class _RowView:
    """The committed rows of an h5py dataset, sliceable by row blocks without reading everything."""

    def __init__(self, dataset, n_rows: int):
        self.dataset, self.shape = dataset, (n_rows,) + tuple(dataset.shape[1:])

    def __getitem__(self, rows: slice) -> np.ndarray:
        start, stop, _ = rows.indices(self.shape[0])
        return self.dataset[start:stop]
