"""The spectrum analysis' result (per-mode learning: target frequencies, or spherical-harmonic degrees) and the
full spectrum of every mode computed on demand."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

# The words for a basis's modes, by the label column of the learning table (bases.Basis.label_name):
# (noun, plural, key of the arrays in --json: modes, target modes, target size, prediction size, unit of a mode)
MODE_WORDS = {
    "freq_hz": ("frequency", "frequencies", ("freqs_hz", "target_freqs_hz", "target_amplitude", "pred_amplitude"),
                "Hz"),
    "degree": ("degree", "degrees", ("degrees", "target_degrees", "target_norm", "pred_norm"), "degree"),
}
# The result's fields that --json names by the basis (MODE_WORDS[...][2], in the same order).
MODE_FIELDS = ("modes", "target_modes", "target_amplitude", "pred_amplitude")


@dataclass(frozen=True)
class SpectrumResult:
    """Per-mode learning over training. The full spectrum (every mode; for Fourier modes amplitude and phase) is
    not part of it: it is as large as the predictions and recomputes in well under a second (`amplitude_spectrum`,
    `mode_amplitudes`).

    Modes are Fourier frequencies on a 1-D sine run and spherical-harmonic degrees on a harmonics run; the
    learning table's first column says which (`freq_hz` or `degree`, `mode_name`; `mode_unit` "Hz" or "degree").
    `modes` holds every mode label of the basis (DFT bin frequencies 0 .. Nyquist, or degrees 0 .. max),
    `target_modes` the target's; on a harmonics run `target_amplitude` and `pred_amplitude` are the norms
    ||P_l y|| and ||P_l f_t|| (RMS under the uniform measure on the sphere). `--json` names the arrays by the
    basis (`json_fields`): `freqs_hz`, `target_freqs_hz`, `target_amplitude`, `pred_amplitude` on sine runs,
    `degrees`, `target_degrees`, `target_norm`, `pred_norm` on harmonics runs, and adds `mode_unit`.

    Predictions that turn NaN or infinite end the analysis: only the prediction steps before the first
    non-finite one are analysed (`first_nonfinite_step`, `note`), as the plateaus do with the loss.
    """

    steps: np.ndarray  # (T,) prediction steps analysed
    modes: np.ndarray  # (F,) mode labels: DFT bin frequencies 0..Nyquist in Hz (harmonics: degrees 0..max)
    target_modes: np.ndarray  # (K,) the target's modes (Hz, or degrees)
    target_amplitude: np.ndarray  # (F,) single-sided amplitude of y_eval: a*sin(2 pi f x) gives a at f
    pred_amplitude: np.ndarray  # (T, K) single-sided amplitude of the prediction at each target frequency
    rel_error: np.ndarray  # (T, K) |h_k - y_k| / |y_k| (harmonics: ||P_l (f_t - y)|| / ||P_l y||)
    # freq_hz, target_amplitude, learned_step, jump_step, final_rel_error, first_below_step, recrossings
    learning: pd.DataFrame
    jumps: pd.DataFrame  # freq_hz, step, drop (rise of the learned fraction 1 - min(r, 1) across the window)
    threshold: float
    first_nonfinite_step: int | None = None  # first stored prediction step with a NaN or infinite value
    note: str = ""  # why part of the run was not analysed, if any
    resolution: str = ""  # the prediction spacing and the jump grid's points per decade (coarser when sparse)
    targets_found: str = ""  # how the target frequencies were found ("detected on coords: every DFT bin ...")

    @property
    def mode_name(self) -> str:
        """The label of the modes: "freq_hz" (Fourier, 1-D sine runs) or "degree" (spherical harmonics)."""
        return str(self.learning.columns[0])

    @property
    def mode_noun(self) -> str:
        return MODE_WORDS[self.mode_name][0]

    @property
    def mode_plural(self) -> str:
        return MODE_WORDS[self.mode_name][1]

    @property
    def mode_unit(self) -> str:
        """The unit of a mode label: "Hz" (Fourier) or "degree" (spherical harmonics)."""
        return MODE_WORDS[self.mode_name][3]

    def mode_text(self, label: float) -> str:
        """'3 Hz' or 'degree 2'."""
        return f"{label:g} Hz" if self.mode_name == "freq_hz" else f"{self.mode_noun} {label:g}"

    def json_fields(self) -> dict:
        """The fields as `--json` names them: the mode arrays by the basis (frequencies in Hz on sine runs, degrees
        on harmonics runs), then the unit of a mode."""
        names = dict(zip(MODE_FIELDS, MODE_WORDS[self.mode_name][2]))
        named = {names.get(f.name, f.name): getattr(self, f.name) for f in fields(self)}
        return named | {"mode_unit": self.mode_unit}

    def headline(self) -> str:
        """When each mode was learned: the first step its error fell below the threshold (the step the study
        uses), how often it went back above, and whether the modes were learned in ascending order."""
        noun, plural = MODE_WORDS[self.mode_name][:2]
        learning = self.learning.sort_values(self.mode_name)
        reached = learning.dropna(subset=["first_below_step"])
        parts = [f"{self.mode_text(getattr(r, self.mode_name))} at step {int(r.first_below_step)}"
                 + _relapse_text(r, self.threshold) for r in reached.itertuples()]
        never = [self.mode_text(f) for f in learning[self.mode_name] if f not in set(reached[self.mode_name])]
        if parts:
            text = "learned " + ", ".join(parts) + f" (learned: relative error first below {self.threshold:g})"
            if len(parts) > 1:
                text += (f"; order by the first step below {self.threshold:g}: " + self.order_text(reached)
                         + (" (of those reached)" if never else "") + self._for_good_order_text(reached))
            if never:
                text += f"; {', '.join(never)} never below {self.threshold:g}"
        else:
            text = f"no target {noun} learned (relative error never below {self.threshold:g})"
        jumps = f"; {len(self.jumps)} jumps" + (f" ({self.resolution})" if self.resolution else "")
        return text + jumps + (f"; {self.note}" if self.note else "")

    def order_text(self, reached: pd.DataFrame, column: str = "first_below_step") -> str:
        """'in order, low to high' or which pair is learned out of order, by `column` (the first step below the
        threshold, or the step below it for good)."""
        steps = reached[column].to_numpy(np.float64)
        labels = reached[self.mode_name].to_numpy()
        out_of_order = [(labels[i], labels[i + 1]) for i in range(len(steps) - 1) if steps[i + 1] < steps[i]]
        if not out_of_order:
            return "in order, low to high"
        low, high = out_of_order[0]
        return f"not in order: {self.mode_text(high)} before {self.mode_text(low)}"

    def _for_good_order_text(self, reached: pd.DataFrame) -> str:
        """'; by the step below for good: not in order: 3 Hz before 1 Hz', said only where a mode went back above
        the threshold (otherwise both orders are the same): the relapses' order is a different question."""
        if "recrossings" not in reached or not (reached.recrossings.fillna(0) > 0).any():
            return ""
        settled = reached.dropna(subset=["learned_step"])
        if len(settled) < 2:
            return ""
        return "; by the step below for good: " + self.order_text(settled, "learned_step")

    def learning_display(self) -> pd.DataFrame:
        """The learning table as shown: the mode, the step it was first learned, its relapses, then the rest."""
        first = [self.mode_name, "first_below_step", "recrossings", "learned_step"]
        present = [c for c in first if c in self.learning.columns]
        return self.learning[present + [c for c in self.learning.columns if c not in present]]

    def tables(self) -> dict[str, pd.DataFrame]:
        noun = self.mode_noun
        return {f"learning per target {noun}": self.learning_display(), f"{noun} jumps": self.jumps}


def _relapse_text(row, threshold: float) -> str:
    """' (back above 14 times, below for good from step 3970)' for a mode whose error re-crossed the threshold."""
    count = int(getattr(row, "recrossings", 0) or 0)
    if count == 0:
        return ""
    if np.isfinite(row.learned_step):
        final = f", below for good from step {int(row.learned_step)}"
    else:
        final = ", above it at the end" if not row.final_rel_error < threshold else ", not yet for good"
    return f" (back above {count} time{'s' * (count != 1)}{final})"


@dataclass(frozen=True)
class AmplitudeSpectrum:
    """The spectrum of every stored prediction up to a highest mode: for Fourier modes the single-sided amplitude
    and phase of each DFT bin; on another basis the norm of each mode's component (no phase)."""

    steps: np.ndarray  # (T,)
    modes: np.ndarray  # (F,) mode labels (Hz; harmonics: degrees)
    amplitude: np.ndarray  # (T, F): a*sin(2 pi f x) gives a at f (harmonics: ||P_l f_t||)
    phase: np.ndarray | None  # (T, F) phase of the DFT coefficient, radians; None on a basis without phases
