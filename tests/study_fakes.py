"""Run summaries made by hand for the study's tests: every claim's extract from a few arrays (no run files)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyzer.study.claims.decoupled import DecoupledEvents
from analyzer.study.claims.jump_tests import JumpEvents
from analyzer.study.claims.jumps_near_escapes import PrimaryEvents
from analyzer.study.claims.plateaus_appear import Plateaus
from analyzer.study.claims.saddles import Curvature
from analyzer.study.claims.spectral_bias import LearnedSteps
from analyzer.study.claims.stall import StallEvents
from analyzer.study.collect import RunSummary

N_STEPS = 10_000
SPAN = (0, N_STEPS - 1)


def summary(name: str, jumps, escapes, preset: str = "p", seed: int = 0, *, modes=(1.0, 3.0), learned=(10.0, 100.0),
            amps=None, plateaus=None, jump_modes=None, decoupled=None, curvature=None, escape_table=None,
            config=None, edges=None) -> RunSummary:
    """A network run's summary: jumps (all of mode 1 unless jump_modes), escapes (also the edges unless given)."""
    jumps, escapes = np.asarray(jumps, float), np.asarray(escapes, float)
    jump_modes = np.ones(len(jumps)) if jump_modes is None else np.asarray(jump_modes, float)
    edges = escapes if edges is None else np.asarray(edges, float)
    modes, learned = np.asarray(modes, float), np.asarray(learned, float)
    amps = np.linspace(1.0, 0.5, len(modes)) if amps is None else np.asarray(amps, float)
    plateaus = plateaus if plateaus is not None else pd.DataFrame(columns=["start_step", "end_step", "duration"],
                                                                  dtype=float)
    intervals = plateaus[["start_step", "end_step"]].to_numpy(float)
    extracts = {
        "spectral_bias": LearnedSteps(modes, "Hz", amps, learned, learned.copy()),
        "plateaus_appear": Plateaus(plateaus),
        "stall": StallEvents(jumps[jump_modes > modes.min()], intervals),
        "jumps_near_escapes": PrimaryEvents(jumps, jump_modes, escapes, SPAN, None),
        "jumps_near_edges": JumpEvents(jumps, jump_modes, edges, SPAN),
        "decoupled": DecoupledEvents(jumps, jump_modes, escapes, decoupled or {}, SPAN),
        "saddles": curvature,
        "escape_directions": escape_table,
    }
    return RunSummary(path=f"/x/{name}.h5", config={"preset": preset, "seed": seed, **(config or {})},
                      status="complete", n_steps=N_STEPS, loss_steps=np.arange(3), loss=np.ones(3),
                      extracts=extracts)


def curvature(grid: pd.DataFrame, rows: pd.DataFrame, plateaus: pd.DataFrame, loss=None) -> Curvature:
    steps = np.array([0.0, float(N_STEPS)])
    return Curvature(rows, grid, plateaus[["start_step", "end_step"]].to_numpy(float), steps,
                     np.asarray(loss if loss is not None else [1.0, 1.0], float))
