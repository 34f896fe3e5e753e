"""The events of one run that most claims read (modes and their learned steps, jumps, escapes, plateau edges and
plateaus), computed once per run on the worker from its cached plateaus and spectrum."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

EVENTS_JOBS = (("plateaus", {}), ("spectrum", {}))


@dataclass(frozen=True)
class RunEvents:
    """A run's events, in steps. Modes are target frequencies (Hz) on sine runs, degrees on harmonics runs."""

    modes: np.ndarray  # (K,) target modes, ascending
    mode_unit: str  # "Hz" or "degree"
    amplitudes: np.ndarray  # (K,) target amplitude (harmonics: norm) of each mode
    learned_steps: np.ndarray  # (K,) first step after which the error stays below the threshold; NaN: never
    first_below_steps: np.ndarray  # (K,) first step below the threshold; NaN: never
    jump_steps: np.ndarray  # every mode jump
    jump_modes: np.ndarray
    escape_steps: np.ndarray  # midpoints of the loss drops that end plateaus
    edge_steps: np.ndarray  # change-point plateau edges
    first_pred_step: int
    last_pred_step: int
    plateaus: pd.DataFrame  # start_step, end_step, duration (change-point plateaus)

    @property
    def span(self) -> tuple[int, int]:
        return self.first_pred_step, self.last_pred_step


def run_events(context) -> RunEvents:
    """The run's events through the context's memo (computed once however many claims read them)."""
    return context.memo("events", lambda: _events(context))


def _events(context) -> RunEvents:
    from analyzer.analyses.correlate.compute import events_from
    from analyzer.analyses.correlate.params import CorrelateParams
    from analyzer.analyses.spectrum.result import MODE_WORDS

    plateaus, spectrum = context.result("plateaus"), context.result("spectrum")
    name = context.run.path.stem
    escapes = events_from(name, spectrum, plateaus, CorrelateParams(reference="escapes"))
    edges = events_from(name, spectrum, plateaus, CorrelateParams(reference="edges"))
    learning = spectrum.learning.sort_values(spectrum.mode_name)
    found = plateaus.plateaus()
    return RunEvents(
        modes=learning[spectrum.mode_name].to_numpy(np.float64), mode_unit=spectrum.mode_unit,
        amplitudes=learning[MODE_WORDS[spectrum.mode_name][2][2]].to_numpy(np.float64),
        learned_steps=learning.learned_step.to_numpy(np.float64),
        first_below_steps=learning.first_below_step.to_numpy(np.float64),
        jump_steps=escapes.jump_steps, jump_modes=np.asarray(escapes.jump_modes, np.float64),
        escape_steps=escapes.reference_steps, edge_steps=edges.reference_steps,
        first_pred_step=escapes.first_step, last_pred_step=escapes.last_step,
        plateaus=found[["start_step", "end_step", "duration"]].astype(np.float64).reset_index(drop=True))
