"""`analyze score`: every detector of a known-answer (diag-linear) run against the closed form of analyzer/known.py.

Plateau edges against the 10/90 % points of the escapes, jumps and learned steps against the exact map,
the Hessian index and lambda_min at each plateau midpoint, and whether the correlation test rejects.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analyzer.errors import BadInputError
from analyzer.known import KnownAnswer, predict
from analyzer.registry import register

SCORE_COLUMNS = ["quantity", "freq_hz", "plateau", "predicted", "detected", "error", "error_fraction", "tolerance",
                 "ok"]


@dataclass(frozen=True)
class ScoreParams:
    """Options of `analyze score`.

    Args:
        edge_tolerance: a plateau edge is right within this fraction of the predicted plateau length.
        alpha: the correlation test must reject at this level (required with >= 3 predicted plateaus).
        index_tol: relative tolerance of the Hessian index, passed to the Hessian analysis; the default sits
            between the model's tiniest true negative curvature (-2 c^2 u0^2) and float64 rounding.
        lambda_rtol: relative tolerance of lambda_min.
    """

    edge_tolerance: float = 0.05
    alpha: float = 0.01
    index_tol: float = 1e-12
    lambda_rtol: float = 1e-6

    def __post_init__(self):
        for name in ("edge_tolerance", "index_tol", "lambda_rtol"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")


@dataclass(frozen=True)
class ScoreResult:
    """Predicted vs detected, one row per predicted item (SCORE_COLUMNS), and the headline numbers.

    `nearest_change_point` rows (the segmentation alone, before the flatness test) and `correlation_p_edges`
    (the test against plateau edges instead of escapes) are diagnostics and do not enter the summary. error is
    in steps (edges, jumps, learned steps), eigenvalue units (lambda_min), counts (index) or the p-value
    itself (correlation); error_fraction divides edge errors by the plateau length and jump errors
    by the sigmoid width. NaN detected means the detector found nothing to match.
    """

    table: pd.DataFrame
    n_plateaus_predicted: int
    n_plateaus_detected: int
    # None where undefined or infinite: a missed edge or jump counts as infinitely wrong
    median_edge_error: float | None  # fraction of plateau length
    worst_edge_error: float | None
    median_jump_error: float | None  # fraction of the sigmoid width
    worst_jump_error: float | None
    index_exact: bool
    p_value: float | None
    correlation_required: bool
    passed: bool
    missing: list  # analyses that are not available
    notes: list = field(default_factory=list)  # parts of the run a detector could not analyse (then not passed)

    def headline(self) -> str:
        verdict = "all targets met" if self.passed else "targets missed"
        p = "-" if self.p_value is None else f"{self.p_value:.3g}"
        text = (f"{verdict}: {self.n_plateaus_detected} plateaus detected for {self.n_plateaus_predicted} predicted, "
                f"edge error median {_pct(self.median_edge_error)} worst {_pct(self.worst_edge_error)} of plateau "
                f"length; jump error median {_pct(self.median_jump_error)} of the sigmoid width; Hessian index "
                f"{'exact' if self.index_exact else 'wrong'}; correlation p={p}")
        text += f"; not available: {', '.join(self.missing)}" if self.missing else ""
        return text + "".join(f"; {note}" for note in self.notes)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"predicted vs detected": self.table}


def _pct(fraction: float | None) -> str:
    return "n/a (missed)" if fraction is None else f"{fraction:.1%}"


@register("score", params=ScoreParams, result=ScoreResult, version="3",
          summary="known-answer run (diag-linear): every detector scored against the closed form")
def compute(run, params: ScoreParams) -> ScoreResult:
    from analyzer import registry
    from analyzer.api import analyze

    _check_config(run)
    known = predict(run, params.index_tol)
    available = set(registry.names())
    missing = [name for name in ("plateaus", "spectrum", "hessian", "correlate") if name not in available]
    rows: list[dict] = []
    found = spectrum = None
    if "plateaus" not in missing:
        found = analyze(run, "plateaus", use_cache=False)
        rows += _edge_rows(known, found.plateaus(), params)
        rows += _change_point_rows(known, np.asarray(found.change_points, dtype=np.float64), params)
    if "spectrum" not in missing:
        spectrum = analyze(run, "spectrum", use_cache=False)
        rows += _spectrum_rows(known, spectrum, run)
    if "hessian" not in missing and len(known.plateaus):
        steps = tuple(int(s) for s in known.plateaus.hessian_step)
        table = analyze(run, "hessian", use_cache=False, at="steps", steps=steps, method="dense",
                        index_tol=params.index_tol).table
        rows += _hessian_rows(known, table, params)
    p_value = None
    if "correlate" not in missing and found is not None and spectrum is not None:
        p_value = _correlation_p(run, spectrum, found, "escapes")
        p_edges = _correlation_p(run, spectrum, found, "edges")  # diagnostic only
        for quantity, p in (("correlation_p", p_value), ("correlation_p_edges", p_edges)):
            rows.append(_row(quantity, np.nan, np.nan, params.alpha, p, p, np.nan, params.alpha,
                             p is not None and p < params.alpha))
    n_detected = 0 if found is None else len(found.plateaus())
    notes = [f"{name}: {result.note}" for name, result in (("plateaus", found), ("spectrum", spectrum))
             if result is not None and result.note]
    return _summarise(pd.DataFrame(rows, columns=SCORE_COLUMNS), known, n_detected, p_value, params, missing, notes)


def _check_config(run) -> None:
    """The closed form is computed from the stored config: refuse one the trainer itself would refuse."""
    import json

    from trainer.config import TrainConfig, validate
    from trainer.errors import TrainerError

    from analyzer.known import refuse_foreign

    refuse_foreign(run.config)
    try:
        validate(TrainConfig.from_json(json.dumps(run.config)))
    except (TrainerError, TypeError, ValueError, KeyError) as err:
        raise BadInputError(f"{run.path}: the stored config is invalid ({err})") from None


def _correlation_p(run, spectrum, plateaus, reference: str) -> float | None:
    """`analyze correlate` at its defaults (bar the reference) on this run, from the results already computed."""
    from analyzer.correlate import CorrelateParams, correlate_events, events_from

    params = CorrelateParams(reference=reference, threshold=spectrum.threshold)
    return correlate_events([events_from(Path(run.path).stem, spectrum, plateaus, params)], params).p_value


def _row(quantity, freq_hz, plateau, predicted, detected, error, error_fraction, tolerance, ok) -> dict:
    values = (quantity, freq_hz, plateau, predicted, detected, error, error_fraction, tolerance, ok)
    return dict(zip(SCORE_COLUMNS, [v if v is not None else np.nan for v in values]))


def _edge_rows(known: KnownAnswer, detected: pd.DataFrame, params: ScoreParams) -> list[dict]:
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
            rows.append(_row(quantity, freq, plateau.plateau, predicted, found, error, error / plateau.length,
                             tolerance, bool(error <= tolerance)))
    return rows


def _change_point_rows(known: KnownAnswer, change_points: np.ndarray, params: ScoreParams) -> list[dict]:
    """Diagnostic: every predicted edge against the nearest change point, whether or not a plateau was declared."""
    rows = []
    for plateau in known.plateaus.itertuples():
        for predicted in (plateau.start_step, plateau.end_step)[1 if plateau.start_step == 0 else 0:]:
            found = change_points[np.argmin(np.abs(change_points - predicted))] if len(change_points) else np.nan
            error, tolerance = abs(found - predicted), params.edge_tolerance * plateau.length
            rows.append(_row("nearest_change_point", np.nan, plateau.plateau, predicted, found, error,
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


def _spectrum_rows(known: KnownAnswer, spectrum, run) -> list[dict]:
    """Jump step vs the half-learned step (tolerance: half the width); learned step vs the exact map."""
    rows = []
    pred_steps = np.asarray(run.pred_steps)
    for entry in spectrum.learning.itertuples():
        modes = known.modes[known.modes.freq_hz == entry.freq_hz]
        if len(modes) == 0:
            continue
        main = modes.loc[modes.coeff.idxmax()]
        error = abs(entry.jump_step - main.escape_step)
        rows.append(_row("jump_step", entry.freq_hz, np.nan, main.escape_step, entry.jump_step, error,
                         error / main.width_steps, main.width_steps / 2, bool(error <= main.width_steps / 2)))
        learned = _stays_below(known.rel_error(entry.freq_hz)[pred_steps], pred_steps, spectrum.threshold)
        error = abs(entry.learned_step - learned)
        spacing = float(np.median(np.diff(pred_steps))) if len(pred_steps) > 1 else 1.0
        rows.append(_row("learned_step", entry.freq_hz, np.nan, learned, entry.learned_step, error,
                         error / main.width_steps, spacing, bool(error <= spacing)))
    return rows


def _stays_below(rel_error: np.ndarray, steps: np.ndarray, threshold: float) -> float:
    above = np.flatnonzero(rel_error >= threshold)
    if len(above) == 0:
        return float(steps[0])
    return float(steps[above[-1] + 1]) if above[-1] + 1 < len(steps) else np.nan


def _hessian_rows(known: KnownAnswer, table: pd.DataFrame, params: ScoreParams) -> list[dict]:
    rows = []
    for plateau in known.plateaus.itertuples():
        found = table.loc[table.step == plateau.hessian_step].iloc[0]
        error = abs(found.index_count - plateau.index_count)
        rows.append(_row("index", np.nan, plateau.plateau, plateau.index_count, found.index_count, error,
                         np.nan, 0, bool(error == 0)))
        error, tolerance = abs(found.lambda_min - plateau.lambda_min), params.lambda_rtol * abs(plateau.lambda_min)
        rows.append(_row("lambda_min", np.nan, plateau.plateau, plateau.lambda_min, found.lambda_min, error,
                         error / abs(plateau.lambda_min), tolerance, bool(error <= tolerance)))
    return rows


def _summarise(table: pd.DataFrame, known: KnownAnswer, n_detected: int, p_value, params: ScoreParams,
               missing: list, notes: list) -> ScoreResult:
    edges = table[table.quantity.isin(["plateau_start", "plateau_end"])].error_fraction.fillna(np.inf)
    jumps = table[table.quantity == "jump_step"].error_fraction.fillna(np.inf)
    index = table[table.quantity == "index"]
    required = len(known.plateaus) >= 3
    stat = lambda values, fn: float(fn(values)) if len(values) and np.isfinite(fn(values)) else None  # noqa: E731
    median_edge = stat(edges, np.median)
    passed = (not missing and not notes and median_edge is not None and median_edge <= params.edge_tolerance
              and bool(index.ok.all())
              and (not required or (p_value is not None and p_value < params.alpha)))
    return ScoreResult(table=table, n_plateaus_predicted=len(known.plateaus), n_plateaus_detected=n_detected,
                       median_edge_error=median_edge, worst_edge_error=stat(edges, np.max),
                       median_jump_error=stat(jumps, np.median), worst_jump_error=stat(jumps, np.max),
                       index_exact=bool(len(index) and index.ok.all()), p_value=p_value,
                       correlation_required=required, passed=bool(passed), missing=missing, notes=notes)
