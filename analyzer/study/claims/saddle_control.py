"""The saddle claim's controls: is curvature at plateau checkpoints different from curvature at the same step (and,
in the second control, at the same loss level too) in runs that are not in a plateau there?

Data: every network run's Hessian on the log-spaced grid (`analyze hessian --at grid`, GRID_PER_DECADE per decade);
a grid checkpoint is a plateau point when its step lies in one of the run's change-point plateaus, else a
control point. Strata: (group, step), and for the loss-matched control (group, step, loss bin) with bins of
LOSS_BIN_DECADES of the loss, so that "in a plateau" is not confounded with "at a higher loss". A stratum with at
least one plateau point and one control point gives diff_s = mean(plateau values) - mean(control values); the
statistic is their weighted mean with weights w_s = n_p n_c / (n_p + n_c) (the Cochran-Mantel-Haenszel weights),
`plateau` and `control` the same weighted means of each side, so difference = plateau - control.

Uncertainty: a cluster bootstrap (runs resampled with replacement within each group, all of a run's grid
points kept together) gives the 95 % percentile CI; the two-sided p-value is the centred bootstrap test,
P*(|stat* - stat| >= |stat|) with the +1 correction. Checkpoints whose index is not certified (an estimate, or a
bracket) are left out, and counted on each side. Sensitivity: the index-fraction difference again at each
tolerance of SENSITIVITY_TOLS (1e-8, 1e-6, 1e-4 x max |eigenvalue|).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyzer.analyses.hessian.grid_section import GRID_PER_DECADE
from analyzer.analyses.hessian.params import HessianParams
from analyzer.curvature.sensitivity import SENSITIVITY_TOLS, tolerance_column
from analyzer.stats import MIN_RUNS_FOR_CI

LOSS_BIN_DECADES = 0.5  # loss-matched strata: checkpoints whose loss lies in the same half decade


def grid_points(extracts, group_of: dict[str, str]) -> pd.DataFrame:
    """One row per network run and grid checkpoint: group, run, step, in_plateau, certified, loss_bin and the curvature
    columns. extracts: (run, Curvature) pairs (claims/saddles.py)."""
    frames = []
    for run, curvature in extracts:
        grid = curvature.grid
        if grid is None or grid.empty:
            continue
        steps = grid.step.to_numpy(dtype=np.float64)
        inside = np.zeros(len(steps), dtype=bool)
        for start, end in curvature.plateaus:
            inside |= (steps >= start) & (steps <= end)
        certified = (grid.index_kind == "certified").to_numpy() if "index_kind" in grid else np.ones(len(grid), bool)
        # an estimate counts at another tolerance and a bracket has no value: left out (and counted)
        grid = grid.assign(index_fraction=grid.index_fraction.where(certified))
        loss = np.interp(steps, curvature.loss_steps, curvature.loss)
        bins = np.floor(np.log10(np.maximum(loss, 1e-300)) / LOSS_BIN_DECADES)
        frames.append(grid.assign(group=group_of[run.path], run=run.path, in_plateau=inside, certified=certified,
                                  loss_bin=bins))
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _group_matrices(points: pd.DataFrame, column: str, strata=("step",)) -> list[tuple[np.ndarray, np.ndarray,
                                                                                      np.ndarray]]:
    """Per group: (plateau indicator, control indicator, values), each runs x strata, 0 where no valid value."""
    out = []
    for _, part in points.groupby("group"):
        values = part.pivot_table(index="run", columns=list(strata), values=column, aggfunc="first")
        inside = part.pivot_table(index="run", columns=list(strata), values="in_plateau", aggfunc="first")
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


def matched_difference(points: pd.DataFrame, column: str, strata=("step",)) -> tuple[float, float, float, int]:
    """(plateau, control, difference, strata used) of `column` over the (group, *strata) strata (module docstring)."""
    matrices = _group_matrices(points, column, strata)
    if not matrices:
        return np.nan, np.nan, np.nan, 0
    plateau, control, difference = _weighted(matrices, [np.ones((1, m[0].shape[0])) for m in matrices])[0]
    strata = sum(int(np.sum((m[0].sum(0) > 0) & (m[1].sum(0) > 0))) for m in matrices)
    return float(plateau), float(control), float(difference), strata


def bootstrap_difference(points: pd.DataFrame, column: str, n_resamples: int, seed: int, strata=("step",)) -> dict:
    """The matched difference with its cluster-bootstrap CI and centred bootstrap p-value."""
    plateau, control, difference, n_strata = matched_difference(points, column, strata)
    out = {"plateau": plateau, "control": control, "difference": difference, "ci_low": np.nan, "ci_high": np.nan,
           "p_value": np.nan, "n_strata": n_strata, "n_runs": int(points.run.nunique()) if len(points) else 0,
           "n_plateau_points": int(points.in_plateau.sum()) if len(points) else 0,
           "n_control_points": int((~points.in_plateau).sum()) if len(points) else 0}
    if not np.isfinite(difference) or n_resamples < 1 or out["n_runs"] < MIN_RUNS_FOR_CI:
        return out  # a bootstrap over fewer runs gives neither a CI that covers nor a valid p-value
    from analyzer.stats import centred_p_value, cluster_bootstrap, percentile_ci

    matrices = _group_matrices(points, column, strata)
    sizes = np.cumsum([0] + [m[0].shape[0] for m in matrices])  # runs of group g: columns sizes[g]:sizes[g + 1]

    def difference_of(weights: np.ndarray) -> np.ndarray:  # runs resampled within each group
        return _weighted(matrices, [weights[:, a:b] for a, b in zip(sizes[:-1], sizes[1:])])[:, 2]

    strata_of_runs = np.repeat(np.arange(len(matrices)), np.diff(sizes))
    draws = cluster_bootstrap(difference_of, strata_of_runs, n_resamples, seed)
    draws = draws[np.isfinite(draws)]
    if len(draws) == 0:
        return out
    out["ci_low"], out["ci_high"] = percentile_ci(draws)
    out["p_value"] = centred_p_value(draws, difference)
    return out


def saddle_control(extracts, group_of: dict[str, str], n_resamples: int = 2000, seed: int = 0) -> dict | None:
    """The `saddle_control` of the study's JSON (module docstring); None when no run has a grid Hessian."""
    points = grid_points(extracts, group_of)
    if points.empty:
        return None
    main = bootstrap_difference(points, "index_fraction", n_resamples, seed)
    main.update({"quantity": "index_fraction", "index_tol": HessianParams().index_tol,
                 "grid_per_decade": GRID_PER_DECADE, "loss_bin_decades": LOSS_BIN_DECADES})
    main["lambda_min"] = bootstrap_difference(points, "lambda_min", n_resamples, seed)
    main["loss_matched"] = bootstrap_difference(points, "index_fraction", n_resamples, seed, strata=("step", "loss_bin"))
    main["by_tolerance"] = [
        {"index_tol": tol, **{k: result[k] for k in ("plateau", "control", "difference", "ci_low", "ci_high",
                                                     "p_value")}}
        for tol, result in ((tol, bootstrap_difference(points, tolerance_column(tol), n_resamples, seed))
                            for tol in SENSITIVITY_TOLS
                            if tolerance_column(tol) in points
                            and np.isfinite(points[tolerance_column(tol)].to_numpy(dtype=float)).any())]
    main["per_group"] = [{"group": group, **{k: v for k, v in bootstrap_difference(part, "index_fraction", 0, seed).items()
                                             if k in ("plateau", "control", "difference", "n_strata")}}
                         for group, part in points.groupby("group")]
    uncertified = points[~points.certified.astype(bool)]
    main["uncertified_left_out"] = {"plateau": int(uncertified.in_plateau.sum()),
                                    "control": int((~uncertified.in_plateau).sum())}
    main["readings"] = {f"{item['index_tol']:g}": reading(item) for item in main["by_tolerance"]}
    main["stable_across_tolerances"] = len(set(main["readings"].values()) | {reading(main)}) == 1
    return main


def per_run_excess(points: pd.DataFrame, column: str = "index_fraction") -> dict[str, float]:
    """Run -> the mean, over its plateau grid points, of `column` minus the mean of the control points of its group
    at the same step (points without a control at their step are left out)."""
    if points.empty:
        return {}
    valid = points[np.isfinite(points[column].to_numpy(dtype=float))]
    control = valid[~valid.in_plateau.astype(bool)].groupby(["group", "step"])[column].mean()
    plateau = valid[valid.in_plateau.astype(bool)]
    keys = list(zip(plateau.group, plateau.step))
    matched = [control.get(key, np.nan) for key in keys]
    excess = plateau.assign(excess=plateau[column].to_numpy(dtype=float) - np.asarray(matched, dtype=float))
    excess = excess[np.isfinite(excess.excess)]
    return {run: float(part.excess.mean()) for run, part in excess.groupby("run")}


def reading(item: dict, alpha: float = 0.05) -> str:
    """'higher', 'lower' (significant at alpha, unadjusted, that way) or 'none'."""
    p_value = item.get("p_value")
    if p_value is None or not np.isfinite(p_value) or p_value >= alpha:
        return "none"
    return "higher" if item["difference"] > 0 else "lower"
