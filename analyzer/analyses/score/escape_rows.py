"""The score rows of the escape analysis on a known-answer (diag-linear) run: overlaps, index and direction in
closed form.

At u = v (w = c u^2) mode j's 2 x 2 Hessian block has eigenvalue 2c(3w - a) along (1, 1)/sqrt 2 and 2c(a - w)
along (1, -1)/sqrt 2 (known.py); the exact map keeps u = v, so every displacement is along (1, 1) in each
mode, d_j = (du_j, du_j) with du_j = sqrt(w_j(after) / c_j) - sqrt(w_j(plateau) / c_j). Hence, with
t = -index_tol x max |eigenvalue|: n_negative = the eigenvalues of both kinds below t, overlap_negative =
sum of du_j^2 over the modes whose (1, 1) eigenvalue is below t / sum of du_j^2, and the most negative
direction is the mode with the smallest eigenvalue, so J v carries that mode's frequency.
"""

from __future__ import annotations

import numpy as np

from analyzer.analyses.score.known import KnownAnswer
from analyzer.analyses.score.rows import row

OVERLAP_TOL = 1e-6


def closed_form_escape(known: KnownAnswer, plateau_step: int, after_step: int, index_tol: float) -> dict:
    """n_negative, overlap_negative and the most negative direction's frequency, from the exact map."""
    system = known.system
    w_p, w_a = known.history[int(plateau_step)], known.history[int(after_step)]
    along, across = system.hessian_eigenvalues(w_p).T  # (1, 1) and (1, -1) eigenvalues per mode
    everything = np.concatenate([along, across])
    threshold = -index_tol * np.abs(everything).max()
    du = np.sqrt(w_a / system.scales) - np.sqrt(w_p / system.scales)
    lowest = int(np.argmin(everything)) % len(along)
    return {"n_negative": int(np.sum(everything < threshold)),
            "overlap_negative": float(np.sum(du[along < threshold] ** 2) / np.sum(du ** 2)),
            "negative_freq": float(system.freqs_hz[lowest])}


def escape_rows(known: KnownAnswer, table, index_tol: float) -> list[dict]:
    """One row per quantity and escape: predicted (closed form) vs the escape analysis."""
    rows = []
    for number, found in enumerate(table.itertuples()):
        truth = closed_form_escape(known, found.plateau_step, found.after_step, index_tol)
        error = abs(found.overlap_negative - truth["overlap_negative"])
        rows.append(row("escape_overlap_negative", truth["negative_freq"], number, truth["overlap_negative"],
                        found.overlap_negative, error, np.nan, OVERLAP_TOL, bool(error <= OVERLAP_TOL)))
        error = abs(found.n_negative - truth["n_negative"])
        rows.append(row("escape_n_negative", np.nan, number, truth["n_negative"], found.n_negative, error, np.nan, 0,
                        bool(error == 0)))
        same = found.negative_freq == truth["negative_freq"]
        rows.append(row("escape_direction_freq", truth["negative_freq"], number, truth["negative_freq"],
                        found.negative_freq, 0.0 if same else np.nan, np.nan, 0, bool(same)))
    return rows
