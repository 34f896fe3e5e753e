"""`analyze escape`: does the escape from a plateau move along the plateau's negative curvature, more than
ordinary motion does?

Per escape (windows.py): the displacement d = theta(after_step) - theta(plateau_step) and its overlaps with
the eigenspaces of H(theta(plateau_step)) (eigensystem.py: overlap_negative, overlap_top, overlap_random
with its null), the same for a control displacement of equal step count with no escape in it (control_*,
each against the Hessian at the control's own start), and in function space the target frequency that
J v carries for the most negative eigenvectors v at the plateau (frequency.py) beside the frequency whose
jump lies in the escape (jump_freq). Each checkpoint's eigensystem is computed once, also when escapes
share it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyzer.analyses.escape.eigensystem import eigensystem, most_negative, overlaps
from analyzer.analyses.escape.frequency import direction_modes
from analyzer.analyses.escape.params import EscapeParams
from analyzer.analyses.escape.result import TABLE_COLUMNS, EscapeResult
from analyzer.analyses.escape.windows import escape_windows, jump_near


def compute(run, params: EscapeParams, deps) -> EscapeResult:
    from trainer.engines.loop import one_thread

    plateaus, spectrum = deps.get("plateaus"), deps.get("spectrum")
    windows = escape_windows(plateaus, np.asarray(run.ckpt_steps))
    systems, eigenvalues = {}, {}
    rows = []
    with one_thread():
        for window in _progress(windows):
            rows.append(_row(run, params, window, spectrum, systems))
    for step, system in systems.items():
        eigenvalues[step] = system.all_eigenvalues()
    steps = sorted(eigenvalues)
    stacked = np.stack([eigenvalues[s] for s in steps]) if steps else np.zeros((0, int(run.n_params)))
    return EscapeResult(table=pd.DataFrame(rows, columns=TABLE_COLUMNS), eigenvalue_steps=np.asarray(steps, np.int64),
                        eigenvalues=stacked,
                        n_params=int(run.n_params), index_tol=params.index_tol)


def _row(run, params: EscapeParams, window, spectrum, systems: dict) -> dict:
    theta = lambda step: _theta(run, step, params.dtype)  # noqa: E731
    system = _system(run, params, window.plateau_step, systems)
    escape = overlaps(system, (theta(window.after_step) - theta(window.plateau_step)).numpy(), params.index_tol)
    control_system = _system(run, params, window.control_start, systems)
    control = overlaps(control_system, (theta(window.control_end) - theta(window.control_start)).numpy(),
                       params.index_tol)
    values, vectors = most_negative(system, params.n_frequency, params.index_tol)
    modes = direction_modes(run, theta(window.plateau_step), vectors, params.dtype)
    first = modes[0] if modes else {"freq": np.nan, "share": np.nan, "peak": np.nan}
    jump = jump_near(spectrum, window.plateau_step, window.after_step, window.drop_mid)
    return {"plateau_start": window.plateau_start, "plateau_end": window.plateau_end, "drop_mid": window.drop_mid,
            "plateau_step": window.plateau_step, "after_step": window.after_step, **escape,
            "lambda_min": float(system.values[0]) if len(system.values) else 0.0, "scale": system.scale,
            "control_start": window.control_start, "control_end": window.control_end,
            "control_kind": window.control_kind, **{f"control_{k}": v for k, v in control.items()},
            "negative_freq": first["freq"], "negative_share": first["share"], "negative_peak": first["peak"],
            "negative_freqs": ",".join(f"{m['freq']:g}" for m in modes),
            "negative_eigenvalues": ",".join(f"{v:.4g}" for v in values), "jump_freq": jump,
            "freq_matches_jump": bool(np.isfinite(jump) and first["freq"] == jump),
            "method": system.method, "eigenvalue_error": system.error, "n_hvp": system.n_hvp}


def _progress(windows: list):
    """Iterate with a rich progress bar on stderr (only when stderr is a terminal): one escape, ~2 Hessians."""
    import sys

    from rich.console import Console
    from rich.progress import track

    return track(windows, description="Hessians at escapes and controls", console=Console(stderr=True),
                 transient=True, disable=not sys.stderr.isatty())


def _system(run, params: EscapeParams, step: int, systems: dict):
    if step not in systems:
        systems[step] = eigensystem(run, _theta(run, step, params.dtype), params)
    return systems[step]


def _theta(run, step: int, dtype: str):
    import torch

    return torch.from_numpy(np.asarray(run.params_at(step))).to(getattr(torch, dtype))
