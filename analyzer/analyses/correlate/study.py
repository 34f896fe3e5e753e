"""The study's events, from each run's plateaus and spectrum: what every test of `analyze study` is built on."""

from __future__ import annotations

import numpy as np

JOBS = (("plateaus", {}), ("spectrum", {}))


def jobs(options) -> list:
    return [(name, overrides, None) for name, overrides in JOBS]


def collect(run, context) -> dict:
    """RunSummary's event fields: modes with their learned and first-reached steps, jumps, escapes, edges, plateaus."""
    from analyzer.analyses.correlate.compute import events_from
    from analyzer.analyses.correlate.params import CorrelateParams

    plateaus, spectrum = context.result("plateaus"), context.result("spectrum")
    escape_events = events_from(run.path.stem, spectrum, plateaus, CorrelateParams(reference="escapes"))
    edge_events = events_from(run.path.stem, spectrum, plateaus, CorrelateParams(reference="edges"))
    found = plateaus.plateaus("changepoint")
    # a harmonics run's modes are its degrees: pooled per degree, in a group of its own (RunSummary.preset)
    learning = spectrum.learning.sort_values(spectrum.mode_name)
    return {"freqs_hz": learning[spectrum.mode_name].to_numpy(np.float64),
            "learned_steps": learning.learned_step.to_numpy(np.float64),
            "jump_steps": escape_events.jump_steps, "jump_freqs_hz": escape_events.jump_modes,
            "escape_steps": escape_events.reference_steps, "edge_steps": edge_events.reference_steps,
            "first_pred_step": escape_events.first_step, "last_pred_step": escape_events.last_step,
            "plateaus": found[["start_step", "end_step", "duration"]].astype(np.float64).reset_index(drop=True),
            "first_below_steps": learning.first_below_step.to_numpy(np.float64)}
