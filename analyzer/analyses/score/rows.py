"""The rows of the score table: each detector's findings against the closed form of known.py."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyzer.analyses.score.known import KnownAnswer
from analyzer.analyses.score.params import ScoreParams
from analyzer.analyses.score.result import SCORE_COLUMNS


def row(quantity, freq_hz, plateau, predicted, detected, error, error_fraction, tolerance, ok) -> dict:
    values = (quantity, freq_hz, plateau, predicted, detected, error, error_fraction, tolerance, ok)
    return dict(zip(SCORE_COLUMNS, [v if v is not None else np.nan for v in values]))


def edge_rows(known: KnownAnswer, detected: pd.DataFrame, params: ScoreParams) -> list[dict]:
    """Each predicted plateau against the detected plateau that overlaps it most."""
    rows = []
    escapes = known.modes.sort_values("rise_start_step")
    for plateau in known.plateaus.itertuples():
        match = _best_overlap(detected, plateau.start_step, plateau.end_step)
        edges = [("plateau_end", plateau.end_step, None if match is None else match.end_step + 1,
                  _nearest_freq(escapes, "rise_start_step", plateau.end_step))]
        if plateau.start_step > 0:  # the escape before the plateau; the run's step 0 is no edge
            edges.insert(0, ("plateau_start", plateau.start_step, None if match is None else match.start_step,
                             _nearest_freq(escapes, "rise_end_step", plateau.start_step)))
        for quantity, predicted, found, freq in edges:
            error = np.nan if found is None else abs(found - predicted)
            tolerance = params.edge_tolerance * plateau.length
            rows.append(row(quantity, freq, plateau.plateau, predicted, found, error, error / plateau.length,
                             tolerance, bool(error <= tolerance)))
    return rows


def change_point_rows(known: KnownAnswer, change_points: np.ndarray, params: ScoreParams) -> list[dict]:
    """Diagnostic: every predicted edge against the nearest change point, whether or not a plateau was declared."""
    rows = []
    for plateau in known.plateaus.itertuples():
        for predicted in (plateau.start_step, plateau.end_step)[1 if plateau.start_step == 0 else 0:]:
            found = change_points[np.argmin(np.abs(change_points - predicted))] if len(change_points) else np.nan
            error, tolerance = abs(found - predicted), params.edge_tolerance * plateau.length
            rows.append(row("nearest_change_point", np.nan, plateau.plateau, predicted, found, error,
                             error / plateau.length, tolerance, bool(error <= tolerance)))
    return rows


def _best_overlap(detected: pd.DataFrame, start: float, end: float):
    overlap = np.minimum(detected.end_step + 1, end) - np.maximum(detected.start_step, start)
    if len(detected) == 0 or overlap.max() <= 0:
        return None
    return detected.iloc[int(np.argmax(overlap.to_numpy()))]


def _nearest_freq(escapes: pd.DataFrame, column: str, step: float) -> float:
    """The frequency whose escape starts (or ends) at this plateau edge."""
    nearest = np.argmin(np.abs(escapes[column].to_numpy() - step))
    return float(escapes.freq_hz.iloc[nearest])


def spectrum_rows(known: KnownAnswer, spectrum, run) -> list[dict]:
    """Jump step vs the half-learned step (tolerance: half the width); learned step vs the exact map."""
    rows = []
    pred_steps = np.asarray(run.pred_steps)
    for entry in spectrum.learning.itertuples():
        modes = known.modes[known.modes.freq_hz == entry.freq_hz]
        if len(modes) == 0:
            continue
        main = modes.loc[modes.coeff.idxmax()]
        error = abs(entry.jump_step - main.escape_step)
        rows.append(row("jump_step", entry.freq_hz, np.nan, main.escape_step, entry.jump_step, error,
                         error / main.width_steps, main.width_steps / 2, bool(error <= main.width_steps / 2)))
        learned = _stays_below(known.rel_error(entry.freq_hz)[pred_steps], pred_steps, spectrum.threshold)
        error = abs(entry.learned_step - learned)
        spacing = float(np.median(np.diff(pred_steps))) if len(pred_steps) > 1 else 1.0
        rows.append(row("learned_step", entry.freq_hz, np.nan, learned, entry.learned_step, error,
                         error / main.width_steps, spacing, bool(error <= spacing)))
    return rows


def _stays_below(rel_error: np.ndarray, steps: np.ndarray, threshold: float) -> float:
    above = np.flatnonzero(rel_error >= threshold)
    if len(above) == 0:
        return float(steps[0])
    return float(steps[above[-1] + 1]) if above[-1] + 1 < len(steps) else np.nan


def hessian_rows(known: KnownAnswer, table: pd.DataFrame, params: ScoreParams) -> list[dict]:
    rows = []
    for plateau in known.plateaus.itertuples():
        found = table.loc[table.step == plateau.hessian_step].iloc[0]
        error = abs(found.index_count - plateau.index_count)
        rows.append(row("index", np.nan, plateau.plateau, plateau.index_count, found.index_count, error,
                         np.nan, 0, bool(error == 0)))
        error, tolerance = abs(found.lambda_min - plateau.lambda_min), params.lambda_rtol * abs(plateau.lambda_min)
        rows.append(row("lambda_min", np.nan, plateau.plateau, plateau.lambda_min, found.lambda_min, error,
                         error / abs(plateau.lambda_min), tolerance, bool(error <= tolerance)))
    return rows
