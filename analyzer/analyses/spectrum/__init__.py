"""Per-step DFT of the stored predictions and when each target frequency is learned (frequency principle); on
harmonics runs the same per spherical-harmonic degree."""

from analyzer.analyses.spectrum.compare import figures, tables
from analyzer.analyses.spectrum.compute import compute, harmonics_spectrum, spectrum_from_predictions
from analyzer.analyses.spectrum.dft import amplitude_spectrum, dft_of_predictions
from analyzer.analyses.spectrum.learning import detect_jumps, first_below_steps, learned_steps, log_step_curves
from analyzer.analyses.spectrum.modes import mode_amplitudes
from analyzer.analyses.spectrum.params import SpectrumParams
from analyzer.analyses.spectrum.result import AmplitudeSpectrum, SpectrumResult
from analyzer.analyses.spectrum.section import section
from analyzer.core.registry import Analysis, Compare, Hooks, Tags

ANALYSIS = Analysis(
    name="spectrum", params=SpectrumParams, result=SpectrumResult, compute=compute, version="9",
    summary="per-step DFT of the predictions (spherical-harmonic degrees on harmonics runs); learned step and "
            "jumps of each target frequency or degree",
    section=section, tags=Tags(reads="log"),
    hooks=Hooks(in_report=True, report_aliases=(("threshold", "threshold"),),
                compare=Compare(tables=tables, figures=figures, order=1)),
)

__all__ = ["ANALYSIS", "AmplitudeSpectrum", "SpectrumParams", "SpectrumResult", "amplitude_spectrum", "detect_jumps",
           "dft_of_predictions", "first_below_steps", "harmonics_spectrum", "learned_steps", "log_step_curves",
           "mode_amplitudes", "spectrum_from_predictions"]
