"""`analyze score`: every detector of a known-answer (diag-linear) run against the closed form of known.py.

Plateau edges against the 10/90 % points of the escapes, jumps and learned steps against the exact map,
the Hessian index and lambda_min at each plateau midpoint, and whether the correlation test rejects.
"""

from __future__ import annotations


import numpy as np
import pandas as pd

from analyzer.analyses.score.escape_rows import escape_rows
from analyzer.analyses.score.known import KnownAnswer, predict, refuse_foreign
from analyzer.analyses.score.params import ScoreParams
from analyzer.analyses.score.result import SCORE_COLUMNS, ScoreResult
from analyzer.analyses.score.rows import change_point_rows, edge_rows, hessian_rows, row, spectrum_rows
from analyzer.errors import BadInputError


def compute(run, params: ScoreParams, deps) -> ScoreResult:
    """Plateaus, spectrum and (at the predicted plateau midpoints, dense) Hessian of the run against the truth."""
    _check_config(run)
    known = predict(run, params.index_tol)
    plateaus = deps.get("plateaus")
    rows = edge_rows(known, plateaus.plateaus(), params)
    rows += change_point_rows(known, np.asarray(plateaus.change_points, dtype=np.float64), params)
    spectrum = deps.get("spectrum")
    rows += spectrum_rows(known, spectrum, run)
    if len(known.plateaus):
        steps = tuple(int(s) for s in known.plateaus.hessian_step)
        hessian = deps.get("hessian", at="steps", steps=steps, method="dense", index_tol=params.index_tol)
        rows += hessian_rows(known, hessian.table, params)
        rows += escape_rows(known, deps.get("escape", index_tol=params.index_tol).table, params.index_tol)
    # `analyze correlate` at its defaults (bar the reference) on this run: one run, so the null is the shift
    p_value = deps.get("correlate", reference="escapes", threshold=spectrum.threshold).p_value
    p_edges = deps.get("correlate", reference="edges", threshold=spectrum.threshold).p_value  # diagnostic only
    for quantity, p in (("correlation_p", p_value), ("correlation_p_edges", p_edges)):
        rows.append(row(quantity, np.nan, np.nan, params.alpha, p, p, np.nan, params.alpha,
                        p is not None and p < params.alpha))
    notes = [f"{name}: {result.note}" for name, result in (("plateaus", plateaus), ("spectrum", spectrum))
             if result.note]
    return _summarise(pd.DataFrame(rows, columns=SCORE_COLUMNS), known, len(plateaus.plateaus()), p_value, params,
                      notes)


def _check_config(run) -> None:
    """The closed form is computed from the stored config: refuse one the trainer itself would refuse."""
    import json

    from trainer.config import TrainConfig, validate
    from trainer.errors import TrainerError

    refuse_foreign(run.config)
    try:
        validate(TrainConfig.from_json(json.dumps(run.config)))
    except (TrainerError, TypeError, ValueError, KeyError) as err:
        raise BadInputError(f"{run.path}: the stored config is invalid ({err})") from None




def _summarise(table: pd.DataFrame, known: KnownAnswer, n_detected: int, p_value, params: ScoreParams,
               notes: list) -> ScoreResult:
    edge_errors = table[table.quantity.isin(["plateau_start", "plateau_end"])].error_fraction.fillna(np.inf)
    jump_errors = table[table.quantity == "jump_step"].error_fraction.fillna(np.inf)
    index = table[table.quantity == "index"]
    escape = table[table.quantity.str.startswith("escape_")]
    required = len(known.plateaus) >= 3
    stat = lambda values, fn: float(fn(values)) if len(values) and np.isfinite(fn(values)) else None  # noqa: E731
    median_edge = stat(edge_errors, np.median)
    passed = (not notes and median_edge is not None and median_edge <= params.edge_tolerance
              and bool(index.ok.all()) and bool(escape.ok.all())
              and (not required or (p_value is not None and p_value < params.alpha)))
    return ScoreResult(table=table, n_plateaus_predicted=len(known.plateaus), n_plateaus_detected=n_detected,
                       median_edge_error=median_edge, worst_edge_error=stat(edge_errors, np.max),
                       median_jump_error=stat(jump_errors, np.median), worst_jump_error=stat(jump_errors, np.max),
                       index_exact=bool(len(index) and index.ok.all()), p_value=p_value,
                       correlation_required=required, passed=bool(passed), missing=[], notes=notes)
