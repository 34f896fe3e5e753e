"""The time-matched saddle control of `analyze study`: is curvature at plateau checkpoints different from curvature
at the same step in runs that are not in a plateau there?

Data: every seed run's Hessian on the log-spaced grid (`analyze hessian --at grid`, GRID_PER_DECADE per decade);
a grid checkpoint is a plateau point when its step lies in one of the run's change-point plateaus, else a
control point. Strata: (group, step). A stratum with at least one plateau point and one control point gives
diff_s = mean(plateau values) - mean(control values); the statistic is their weighted mean with weights
w_s = n_p n_c / (n_p + n_c) (the Cochran-Mantel-Haenszel weights: strata with both sides well filled count
most), `plateau` and `control` the same weighted means of each side, so difference = plateau - control.
Plateau-only and control-only steps (step 0, where every run starts in a plateau) do not enter.

Uncertainty: a cluster bootstrap (runs resampled with replacement within each group, all of a run's grid
points kept together, N resamples) gives the 95 % percentile CI; the two-sided p-value is the centred
bootstrap test, P*(|stat* - stat| >= |stat|) with the +1 correction. The tests check its false-positive
rate on data without an effect and its power on data with one.
Quantities: the index fraction (the primary, at the Hessian analysis' index_tol = 1e-6), lambda_min (secondary);
Holm's correction over the two. Sensitivity: the index-fraction difference again at each tolerance of
SENSITIVITY_TOLS (1e-8, 1e-6, 1e-4 x max |eigenvalue|); the verdict must read the same at all three.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyzer.analyses.hessian.grid import SENSITIVITY_TOLS, tolerance_column
from analyzer.analyses.hessian.grid_section import GRID_PER_DECADE
from analyzer.analyses.hessian.params import HessianParams

CONFIDENCE = 0.95


def checkpoint_rows(run) -> pd.DataFrame | None:
    """The run's Hessian rows at plateau checkpoints, as its study hook collected them (None: not computed)."""
    return (run.parts.get("hessian") or {}).get("rows")


def grid_rows(run) -> pd.DataFrame | None:
    """The run's Hessian on the log-spaced grid (None: not computed)."""
    return (run.parts.get("hessian") or {}).get("grid")


def grid_points(runs, group_of: dict[str, str]) -> pd.DataFrame:
    """One row per seed run and grid checkpoint: group, run, step, in_plateau and the curvature columns."""
    frames = []
    for run in runs:
        grid = grid_rows(run)
        if grid is None or grid.empty:
            continue
        steps = grid.step.to_numpy(dtype=np.float64)
        spans = run.plateaus[["start_step", "end_step"]].to_numpy(dtype=np.float64)
        inside = np.zeros(len(steps), dtype=bool)
        for start, end in spans:
            inside |= (steps >= start) & (steps <= end)
        if "index_kind" in grid:  # an estimate counts at another tolerance and a bracket has no value: left out
            grid = grid.assign(index_fraction=grid.index_fraction.where(grid.index_kind == "certified"))
        frames.append(grid.assign(group=group_of[run.path], run=run.path, in_plateau=inside))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _group_matrices(points: pd.DataFrame, column: str) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per group: (plateau indicator, control indicator, values), each runs x steps, 0 where no valid value."""
    out = []
    for _, part in points.groupby("group"):
        values = part.pivot_table(index="run", columns="step", values=column, aggfunc="first")
        inside = part.pivot_table(index="run", columns="step", values="in_plateau", aggfunc="first")
        valid = np.isfinite(values.to_numpy(dtype=float))
        flag = inside.reindex_like(values).to_numpy(dtype=float) > 0.5
        out.append(((valid & flag).astype(float), (valid & ~flag).astype(float), np.nan_to_num(values.to_numpy(float))))
    return out


def _weighted(matrices, counts_by_group: list[np.ndarray]) -> np.ndarray:
    """(B, 3) plateau, control, difference for B resamples given each group's (B, runs) run counts."""
    totals = np.zeros((counts_by_group[0].shape[0], 3))
    for (plateau, control, values), counts in zip(matrices, counts_by_group):
        n_p, n_c = counts @ plateau, counts @ control
        with np.errstate(invalid="ignore", divide="ignore"):
            mean_p, mean_c = counts @ (plateau * values) / n_p, counts @ (control * values) / n_c
            weights = np.where((n_p > 0) & (n_c > 0), n_p * n_c / (n_p + n_c), 0.0)
        totals[:, 0] += np.sum(weights * np.nan_to_num(mean_p), axis=1)
        totals[:, 1] += np.sum(weights * np.nan_to_num(mean_c), axis=1)
        totals[:, 2] += weights.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        plateau, control = totals[:, 0] / totals[:, 2], totals[:, 1] / totals[:, 2]
    return np.stack([plateau, control, plateau - control], axis=1)


def matched_difference(points: pd.DataFrame, column: str) -> tuple[float, float, float, int]:
    """(plateau, control, difference, strata used) of `column` over the (group, step) strata (module docstring)."""
    matrices = _group_matrices(points, column)
    if not matrices:
        return np.nan, np.nan, np.nan, 0
    plateau, control, difference = _weighted(matrices, [np.ones((1, m[0].shape[0])) for m in matrices])[0]
    strata = sum(int(np.sum((m[0].sum(0) > 0) & (m[1].sum(0) > 0))) for m in matrices)
    return float(plateau), float(control), float(difference), strata


def cluster_bootstrap(points: pd.DataFrame, column: str, n_resamples: int, seed: int) -> dict:
    """The matched difference with its cluster-bootstrap CI and centred bootstrap p-value."""
    plateau, control, difference, strata = matched_difference(points, column)
    out = {"plateau": plateau, "control": control, "difference": difference, "ci_low": np.nan, "ci_high": np.nan,
           "p_value": np.nan, "n_strata": strata, "n_runs": int(points.run.nunique()) if len(points) else 0,
           "n_plateau_points": int(points.in_plateau.sum()) if len(points) else 0,
           "n_control_points": int((~points.in_plateau).sum()) if len(points) else 0}
    if not np.isfinite(difference) or n_resamples < 1:
        return out
    rng = np.random.default_rng(seed)
    matrices = _group_matrices(points, column)
    counts = [rng.multinomial(m[0].shape[0], np.full(m[0].shape[0], 1 / m[0].shape[0]), size=n_resamples).astype(float)
              for m in matrices]  # runs drawn with replacement within each group
    draws = _weighted(matrices, counts)[:, 2]
    draws = draws[np.isfinite(draws)]
    if len(draws) == 0:
        return out
    tail = (1 - CONFIDENCE) / 2
    out["ci_low"], out["ci_high"] = (float(q) for q in np.quantile(draws, [tail, 1 - tail]))
    out["p_value"] = float((np.sum(np.abs(draws - difference) >= abs(difference)) + 1) / (len(draws) + 1))
    return out


def saddle_control(runs, group_of: dict[str, str], n_resamples: int = 2000, seed: int = 0) -> dict | None:
    """The `saddle_control` of the study's JSON (module docstring); None when no run has a grid Hessian."""
    from analyzer.study.family import holm

    points = grid_points(runs, group_of)
    if points.empty:
        return None
    main = cluster_bootstrap(points, "index_fraction", n_resamples, seed)
    secondary = cluster_bootstrap(points, "lambda_min", n_resamples, seed)
    p_holm = holm([main["p_value"], secondary["p_value"]])
    main.update({"quantity": "index_fraction", "index_tol": HessianParams().index_tol, "p_holm": p_holm[0],
                 "grid_per_decade": GRID_PER_DECADE})
    secondary["p_holm"] = p_holm[1]
    by_tolerance = []
    for tol in SENSITIVITY_TOLS:
        column = tolerance_column(tol)
        if column in points and np.isfinite(points[column].to_numpy(dtype=float)).any():
            result = cluster_bootstrap(points, column, n_resamples, seed)
            by_tolerance.append({"index_tol": tol, **{k: result[k] for k in
                                                      ("plateau", "control", "difference", "ci_low", "ci_high",
                                                       "p_value")}})
    main["by_tolerance"] = by_tolerance
    main["lambda_min"] = secondary
    main["per_group"] = [{"group": group, **{k: v for k, v in cluster_bootstrap(part, "index_fraction", 0, seed).items()
                                             if k in ("plateau", "control", "difference", "n_strata")}}
                         for group, part in points.groupby("group")]
    main["stable_across_tolerances"] = _stable(main, by_tolerance)
    return main


def _stable(main: dict, by_tolerance: list[dict], alpha: float = 0.05) -> bool:
    """Whether every tolerance reads the same as the primary: significant at alpha in the same direction, or not
    significant (a sign without significance is noise, not a reading)."""
    def reading(item):
        significant = bool(np.isfinite(item["p_value"]) and item["p_value"] < alpha)
        return float(np.sign(item["difference"])) if significant else 0.0
    return bool(by_tolerance) and all(reading(item) == reading(main) for item in by_tolerance)
