"""The spectrum analysis' result (per-frequency learning) and the full DFT computed on demand."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


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
