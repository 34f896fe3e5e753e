"""The DFT of stored predictions on the run's uniform eval grid, read block by block (bounded memory); the FFT
itself is the Fourier basis' (analyzer.bases.FourierBasis.dft)."""

from __future__ import annotations

import numpy as np

from analyzer.analyses.spectrum.result import AmplitudeSpectrum
from analyzer.errors import BadInputError

BLOCK_ROWS = 1024  # rfft this many prediction rows at a time: bounded memory on long runs


def target_bins(target_freqs_hz: np.ndarray, n_grid: int, length: float) -> np.ndarray:
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


def single_sided_scale(n_grid: int) -> np.ndarray:
    """|X_k| * scale is the amplitude of a real sinusoid: 2/G inside, 1/G at DC and at an even Nyquist."""
    scale = np.full(n_grid // 2 + 1, 2.0 / n_grid)
    scale[0] = 1.0 / n_grid
    if n_grid % 2 == 0:
        scale[-1] = 1.0 / n_grid
    return scale


def target_coefficients(pred, n_grid: int, bins: np.ndarray) -> np.ndarray:
    """Complex DFT coefficients (T', K) at the target bins of the rows before the first non-finite row."""
    from analyzer.bases.fourier import FourierBasis  # on use: analyzer.bases imports scipy.special

    fourier = FourierBasis(n_points=n_grid)
    coef = np.empty((pred.shape[0], len(bins)), dtype=np.complex128)
    for start in range(0, pred.shape[0], BLOCK_ROWS):
        block = np.asarray(pred[start:start + BLOCK_ROWS], dtype=np.float64).reshape(-1, n_grid)
        finite = np.isfinite(block).all(axis=1)
        coef[start:start + len(block)] = fourier.dft(block)[:, bins]
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
    from analyzer.bases.fourier import FourierBasis  # on use: analyzer.bases imports scipy.special

    steps = np.asarray(steps, dtype=np.int64)
    n_rows, n_grid = pred.shape[0], pred.shape[1]
    fourier = FourierBasis(n_points=n_grid, length=length)
    if len(steps) != n_rows:
        raise BadInputError(f"predictions have {n_rows} rows for {len(steps)} steps")
    freqs_hz = fourier.labels
    n_freqs = len(freqs_hz) if max_hz is None else int(np.searchsorted(freqs_hz, max_hz, side="right"))
    amplitude = np.empty((n_rows, n_freqs), dtype=dtype)
    phase = np.empty((n_rows, n_freqs), dtype=dtype)
    scale = single_sided_scale(n_grid)[:n_freqs]
    for start in range(0, n_rows, BLOCK_ROWS):
        block = np.asarray(pred[start:start + BLOCK_ROWS], dtype=np.float64).reshape(-1, n_grid)
        coefficients = fourier.dft(block)[:, :n_freqs]
        amplitude[start:start + len(block)] = np.abs(coefficients) * scale
        phase[start:start + len(block)] = np.angle(coefficients)
    return AmplitudeSpectrum(steps, freqs_hz[:n_freqs], amplitude, phase)


def amplitude_spectrum(run, *, max_hz: float | None = None, n_rows: int | None = None,
                       dtype=np.float32) -> AmplitudeSpectrum:
    """The DFT of a run's stored predictions (the first `n_rows`, default all), read block by block."""
    from analyzer.bases.for_run import committed_predictions, eval_grid_length  # on use: scipy.special

    length = eval_grid_length(run)
    n_rows = len(run.pred_steps) if n_rows is None else min(n_rows, len(run.pred_steps))
    return dft_of_predictions(run.pred_steps[:n_rows], committed_predictions(run, n_rows), length=length,
                              max_hz=max_hz, dtype=dtype)
