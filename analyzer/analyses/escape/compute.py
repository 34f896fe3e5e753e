"""`analyze escape`: does the escape from a plateau move along the plateau's negative curvature, more than
ordinary motion with the same loss drop does?

Per escape (windows.py): the displacement d = theta(after_step) - theta(plateau_step) and its overlaps with
the eigenspaces of H(theta(plateau_step)) (eigensystem.py: overlap_negative, overlap_top, overlap_random
with its null, and the overlaps in units of a random direction's, *_norm), its loss drop and span
(control.py). The same for a control displacement: a stretch of the same run outside every plateau and
escape whose loss drop and log-step span match the escape's where the run has one (control.py;
`control_kind` says which match was achieved), measured against the Hessian at its own start, that start
chosen among up to `control_starts` loss-matched candidates (`control_candidates` evaluated) for the number
of negative eigenvalues closest to the escape's. In function space: the target frequency that J v carries for
the most negative eigenvectors v at the plateau (frequency.py) beside the frequency whose jump lies in the
escape (jump_freq). Each checkpoint's eigensystem is computed once, also when escapes or candidates share it.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyzer.analyses.escape.control import LOSS_MATCHED, Stretches, closest_index, spread_starts
from analyzer.analyses.escape.eigensystem import eigensystem, most_negative, overlaps
from analyzer.analyses.escape.frequency import direction_modes
from analyzer.analyses.escape.params import EscapeParams
from analyzer.analyses.escape.result import OVERLAP_FIELDS, STRETCH_FIELDS, TABLE_COLUMNS, EscapeResult
from analyzer.analyses.escape.windows import escape_windows, jump_near
from analyzer.curvature.cost import TWIN_METHOD as GRAM_METHOD  # no torch at import


def compute(run, params: EscapeParams, deps) -> EscapeResult:
    from trainer.engines.loop import one_thread

    plateaus, spectrum = deps.get("plateaus"), deps.get("spectrum")
    stored = np.asarray(run.ckpt_steps, dtype=np.int64)
    windows = escape_windows(plateaus, stored)
    systems, rows = {}, []
    with one_thread():
        stretches = _stretches(run, params, plateaus, stored, windows) if windows else None
        for window in _progress(windows):
            rows.append(_row(run, params, window, spectrum, systems, stretches))
    steps = sorted(systems)
    stacked = (np.stack([systems[s].all_eigenvalues() for s in steps]) if steps
               else np.zeros((0, int(run.n_params))))
    return EscapeResult(table=pd.DataFrame(rows, columns=TABLE_COLUMNS), eigenvalue_steps=np.asarray(steps, np.int64),
                        eigenvalues=stacked, n_params=int(run.n_params), index_tol=params.index_tol)


def _stretches(run, params: EscapeParams, plateaus, stored: np.ndarray, windows: list) -> Stretches:
    """The run's free stretches, with the log10 training loss (the loss whose Hessian is taken) at every checkpoint."""
    from analyzer.io.model import loss_closure

    loss = loss_closure(run, params.dtype)
    log_loss = np.log10([float(loss(_theta(run, int(s), params.dtype))) for s in stored])
    return Stretches(stored, log_loss, plateaus, windows)


def _row(run, params: EscapeParams, window, spectrum, systems: dict, stretches: Stretches) -> dict:
    theta = lambda step: _theta(run, step, params.dtype)  # noqa: E731
    system = _system(run, params, window.plateau_step, systems)
    escape = overlaps(system, (theta(window.after_step) - theta(window.plateau_step)).numpy(), params.index_tol)
    escape.update(stretches.measures(window.plateau_step, window.after_step))
    control = _control(run, params, escape, systems, stretches)
    values, vectors = most_negative(system, params.n_frequency, params.index_tol)
    modes = direction_modes(run, theta(window.plateau_step), vectors, params.dtype)
    first = modes[0] if modes else {"freq": np.nan, "share": np.nan, "peak": np.nan}
    jump = jump_near(spectrum, window.plateau_step, window.after_step, window.drop_mid)
    return {"plateau_start": window.plateau_start, "plateau_end": window.plateau_end, "drop_mid": window.drop_mid,
            "plateau_step": window.plateau_step, "after_step": window.after_step, **escape,
            "lambda_min": float(system.values[0]) if len(system.values) else 0.0, "scale": system.scale, **control,
            "negative_freq": first["freq"], "negative_share": first["share"], "negative_peak": first["peak"],
            "negative_freqs": ",".join(f"{m['freq']:g}" for m in modes),
            "negative_eigenvalues": ",".join(f"{v:.4g}" for v in values), "jump_freq": jump,
            "freq_matches_jump": bool(np.isfinite(jump) and first["freq"] == jump),
            "method": system.method, "eigenvalue_error": system.error, "n_hvp": system.n_hvp}


def _control(run, params: EscapeParams, escape: dict, systems: dict, stretches: Stretches) -> dict:
    """The control columns: among the loss-matched candidates, the one whose Hessian's number of negative
    eigenvalues is closest to the escape's; without a loss match, the best-matched candidate (control.py)."""
    kind, candidates = stretches.candidates(escape["loss_drop_decades"], escape["span_decades"], params.match_factor)
    # the index decides only between candidates that all match the loss drop; otherwise the match comes first
    count = params.control_starts if kind in LOSS_MATCHED else 1
    evaluated = []
    for candidate in spread_starts(candidates, count):
        displacement = (_theta(run, candidate.end, params.dtype) - _theta(run, candidate.start, params.dtype)).numpy()
        evaluated.append((candidate, overlaps(_system(run, params, candidate.start, systems), displacement,
                                              params.index_tol)))
    if not evaluated:
        return {"control_start": -1, "control_end": -1, "control_kind": kind, "control_candidates": 0,
                **{f"control_{name}": np.nan for name in OVERLAP_FIELDS + STRETCH_FIELDS}}
    chosen, found = closest_index(evaluated, escape["n_negative"])
    found.update(stretches.measures(chosen.start, chosen.end))
    return {"control_start": chosen.start, "control_end": chosen.end, "control_kind": kind,
            "control_candidates": len(evaluated), **{f"control_{name}": value for name, value in found.items()}}


def _progress(windows: list):
    """Iterate with a rich progress bar on stderr (only when stderr is a terminal): one escape, up to 1 + control_starts
    Hessians."""
    import sys

    from rich.console import Console
    from rich.progress import track

    return track(windows, description="Hessians at escapes and controls", console=Console(stderr=True),
                 transient=True, disable=not sys.stderr.isatty())


def _system(run, params: EscapeParams, step: int, systems: dict):
    if step not in systems:  # a twin's eigensystem is the same at every step: computed once, then shared
        shared = next((s for s in systems.values() if s.method == GRAM_METHOD), None)
        systems[step] = shared or eigensystem(run, _theta(run, step, params.dtype), params)
    return systems[step]


def _theta(run, step: int, dtype: str):
    import torch

    return torch.from_numpy(np.asarray(run.params_at(step))).to(getattr(torch, dtype))
