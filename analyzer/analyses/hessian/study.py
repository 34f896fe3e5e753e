"""What the Hessian adds to `analyze study` (its StudyHooks): the Hessian at plateau checkpoints and on the
log-spaced grid for every seed run, the time-matched saddle control pooled over them (saddle_control.py), its
family rows, the saddle verdict (study_verdict.py), its quantities, report section and JSON."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyzer.analyses.hessian.grid import SENSITIVITY_TOLS, tolerance_column
from analyzer.analyses.hessian.saddle_control import GRID_PER_DECADE, checkpoint_rows

GRID_JOB = {"at": "grid", "per_decade": GRID_PER_DECADE}
GRID_COLUMNS = ["step", "index_fraction", "lambda_min", "lambda_max", *map(tolerance_column, SENSITIVITY_TOLS),
                "cost_gradients", "n_hvp", "seconds"]
ROW_COLUMNS = ["step", "role", "index_count", "index_low", "index_high", "lambda_min"]
CONTROL_TEXT = (
    "Each seed run's Hessian on a log-spaced grid of checkpoints ({per_decade} per decade, certified index). A grid "
    "point is a plateau point when its step lies in one of the run's change-point plateaus. At each step, plateau "
    "points are compared with the control points of the same group at the same step (runs not in a plateau "
    "there); the per-step differences are averaged with weights n_p n_c / (n_p + n_c). 95 % CI: cluster bootstrap "
    "(runs resampled within groups); p: centred bootstrap test, two-sided; Holm over index fraction and lambda_min.")


def jobs(options) -> list:
    """The Hessian at plateau checkpoints and on the grid, for seed runs (a replicate's curvature is never read)."""
    from analyzer.study.collect import is_seed_run

    return [("hessian", {}, is_seed_run), ("hessian", dict(GRID_JOB), is_seed_run)] if options.hessian else []


def collect(run, context) -> dict | None:
    """{"rows": the checkpoint table (ROW_COLUMNS), "grid": the grid table}; a failure is a note and a None."""
    from analyzer.errors import AnalysisFailed, BadInputError
    from analyzer.study.collect import is_replicate

    if not context.options.hessian or is_replicate(run.config):  # replicates inform the rounding floor only
        return None
    part = {"rows": None, "grid": None}
    try:
        table = context.result("hessian").table
        part["rows"] = pd.DataFrame(columns=ROW_COLUMNS) if table.empty else table[ROW_COLUMNS].reset_index(drop=True)
    except (BadInputError, AnalysisFailed) as err:
        context.notes.append(f"hessian: {context.one_line(err)}")
    try:
        table = context.result("hessian", **GRID_JOB).table
    except (BadInputError, AnalysisFailed) as err:
        overrides = " ".join(f"{k}={v}" for k, v in GRID_JOB.items())
        context.notes.append(f"hessian {overrides}: {' '.join(str(err).split())}")
        return part
    part["grid"] = table[[c for c in GRID_COLUMNS if c in table]].reset_index(drop=True)
    return part


def pool(study) -> dict | None:
    """The time-matched saddle control over the seed runs (None without the Hessian or without a grid)."""
    from analyzer.analyses.hessian.saddle_control import saddle_control

    if not study.options.hessian:
        return None
    return saddle_control(study.seed_runs, study.group_of, min(study.options.n_resamples, 4000), study.options.seed)


def family_rows(study) -> list[dict]:
    from analyzer.analyses.hessian.study_verdict import saddle_rows

    return saddle_rows(study.pooled.get("hessian"))


def observations(study) -> list[dict]:
    from analyzer.analyses.hessian.study_verdict import SADDLE_ROW, saddles

    if not study.options.hessian:
        return []
    rows = {r["name"]: r for r in study.family}
    return [saddles(study.seed_runs, study.pooled.get("hessian"), rows.get(SADDLE_ROW))]


def quantities(run, options) -> dict:
    """Mean index and lambda_min over the checkpoints at plateau starts and ends (edges) and at midpoints."""
    if not options.hessian:
        return {}
    table = checkpoint_rows(run)
    table = table if table is not None else pd.DataFrame(columns=["role", "index_count", "lambda_min"])
    out = {}
    for column, name in (("index_count", "index"), ("lambda_min", "lambda_min")):
        for where, roles in (("edges", ("start", "end")), ("middles", ("middle",))):
            part = table[table.role.isin(roles)]
            out[f"{name} at plateau {where}"] = float(part[column].astype(float).mean()) if len(part) else np.nan
    return out


def section(study, figs: dict) -> list[str]:
    """Markdown for the saddle control (nothing when the study ran without it)."""
    from analyzer.analyses.hessian.saddle_control import grid_points
    from analyzer.analyses.hessian.study_figures import grid_band_figure
    from analyzer.report.markdown import image, markdown_table

    control = study.pooled.get("hessian")
    if control is None:
        return []
    lines = ["## Saddles: time-matched control", "", CONTROL_TEXT.format(per_decade=control["grid_per_decade"]), ""]
    points = grid_points(study.seed_runs, study.group_of)
    if not points.empty:
        lines += image(figs, "hessian-grid.png", grid_band_figure(points), "Hessian along training per group")
    rows = [{"quantity": "index fraction (tol 1e-6)", **_numbers(control)},
            {"quantity": "lambda_min", **_numbers(control["lambda_min"])}]
    rows += [{"quantity": f"index fraction (tol {t['index_tol']:g})", **_numbers(t)} for t in control["by_tolerance"]
             if t["index_tol"] != control["index_tol"]]
    lines += markdown_table(pd.DataFrame(rows))
    lines += [f"Strata (group, step) with both sides: {control['n_strata']}; {control['n_plateau_points']} plateau "
              f"and {control['n_control_points']} control points from {control['n_runs']} runs. "
              + ("The reading (significant at 5 % and in which direction, or not) is the same at every index "
                 "tolerance." if control["stable_across_tolerances"] else
                 "The reading (significant at 5 % and in which direction, or not) changes with the index tolerance: "
                 "no verdict should rest on one tolerance."), ""]
    return lines


def _numbers(item: dict) -> dict:
    return {k: item.get(k, np.nan) for k in ("plateau", "control", "difference", "ci_low", "ci_high", "p_value")}


def to_json(study) -> dict:
    return {"saddle_control": study.pooled.get("hessian")}
