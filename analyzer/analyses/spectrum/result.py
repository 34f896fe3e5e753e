"""The spectrum analysis' result (per-mode learning: target frequencies, or spherical-harmonic degrees) and the
full spectrum of every mode computed on demand."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

# The words for a basis's modes, by the label column of the learning table (bases.Basis.label_name):
# (noun, plural, key of the arrays in --json: modes, target modes, target size, prediction size)
MODE_WORDS = {
    "freq_hz": ("frequency", "frequencies", ("freqs_hz", "target_freqs_hz", "target_amplitude", "pred_amplitude")),
    "degree": ("degree", "degrees", ("degrees", "target_degrees", "target_norm", "pred_norm")),
}


@dataclass(frozen=True)
class SpectrumResult:
    """Per-mode learning over training. The full spectrum (every mode; for Fourier modes amplitude and phase) is
    not part of it: it is as large as the predictions and recomputes in well under a second (`amplitude_spectrum`,
    `mode_amplitudes`).

    Modes are Fourier frequencies on a 1-D sine run and spherical-harmonic degrees on a harmonics run; the
    learning table's first column says which (`freq_hz` or `degree`, `mode_name`). The array fields keep the
    names of the Fourier case, the contract of cached results and of `--json` on sine runs: on a harmonics run
    `freqs_hz` holds the basis's degrees 0 .. max, `target_freqs_hz` the target degrees, `target_amplitude`
    and `pred_amplitude` the norms ||P_l y|| and ||P_l f_t|| (RMS under the uniform measure on the sphere), and
    `--json` names them `degrees`, `target_degrees`, `target_norm`, `pred_norm` (`json_fields`).

    Predictions that turn NaN or infinite end the analysis: only the prediction steps before the first
    non-finite one are analysed (`first_nonfinite_step`, `note`), as the plateaus do with the loss.
    """

    steps: np.ndarray  # (T,) prediction steps analysed
    freqs_hz: np.ndarray  # (F,) DFT bin frequencies 0..Nyquist (harmonics: degrees 0..max of the basis)
    target_freqs_hz: np.ndarray  # (K,) (harmonics: target degrees)
    target_amplitude: np.ndarray  # (F,) single-sided amplitude of y_eval: a*sin(2 pi f x) gives a at f
    pred_amplitude: np.ndarray  # (T, K) single-sided amplitude of the prediction at each target frequency
    rel_error: np.ndarray  # (T, K) |h_k - y_k| / |y_k| (harmonics: ||P_l (f_t - y)|| / ||P_l y||)
    learning: pd.DataFrame  # freq_hz, target_amplitude, learned_step, jump_step, final_rel_error, first_below_step
    jumps: pd.DataFrame  # freq_hz, step, drop (rise of the learned fraction 1 - min(r, 1) across the window)
    threshold: float
    first_nonfinite_step: int | None = None  # first stored prediction step with a NaN or infinite value
    note: str = ""  # why part of the run was not analysed, if any

    @property
    def mode_name(self) -> str:
        """The label of the modes: "freq_hz" (Fourier, 1-D sine runs) or "degree" (spherical harmonics)."""
        return str(self.learning.columns[0])

    @property
    def mode_noun(self) -> str:
        return MODE_WORDS[self.mode_name][0]

    def mode_text(self, label: float) -> str:
        """'3 Hz' or 'degree 2'."""
        return f"{label:g} Hz" if self.mode_name == "freq_hz" else f"{self.mode_noun} {label:g}"

    def json_fields(self) -> dict:
        """The fields as `--json` names them: the field names on sine runs, the degree names on harmonics runs."""
        names = dict(zip(MODE_WORDS["freq_hz"][2], MODE_WORDS[self.mode_name][2]))
        return {names.get(f.name, f.name): getattr(self, f.name) for f in fields(self)}

    def headline(self) -> str:
        noun, plural = MODE_WORDS[self.mode_name][:2]
        mode = self.mode_name
        learned = self.learning.dropna(subset=["learned_step"])
        parts = [f"{self.mode_text(getattr(r, mode))} at step {int(r.learned_step)} (first below at "
                 f"{int(r.first_below_step)})" for r in learned.itertuples()]
        never = [self.mode_text(f) for f in self.learning[mode] if f not in set(learned[mode])]
        text = "learned " + ", ".join(parts) if parts else f"no target {noun} learned"
        if never and parts:
            text += f"; {', '.join(never)} never stay below relative error {self.threshold:g}"
        elif never:
            text += f" (relative error never stays below {self.threshold:g})"
        return text + f"; {len(self.jumps)} jumps" + (f"; {self.note}" if self.note else "")

    def tables(self) -> dict[str, pd.DataFrame]:
        noun = self.mode_noun
        return {f"learning per target {noun}": self.learning, f"{noun} jumps": self.jumps}


@dataclass(frozen=True)
class AmplitudeSpectrum:
    """The spectrum of every stored prediction up to a highest mode: for Fourier modes the single-sided amplitude
    and phase of each DFT bin; on another basis the norm of each mode's component (no phase)."""

    steps: np.ndarray  # (T,)
    freqs_hz: np.ndarray  # (F,) mode labels (harmonics: degrees)
    amplitude: np.ndarray  # (T, F): a*sin(2 pi f x) gives a at f (harmonics: ||P_l f_t||)
    phase: np.ndarray | None  # (T, F) phase of the DFT coefficient, radians; None on a basis without phases
