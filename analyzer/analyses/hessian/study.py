"""The study report's saddle section and JSON: time-matched control, tolerance sensitivity, escapes, escape time."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyzer.report.markdown import image, markdown_table
from analyzer.study.robustness import ESCAPE_ROW

CONTROL_TEXT = (
    "Each seed run's Hessian on a log-spaced grid of checkpoints ({per_decade} per decade, certified index). A grid "
    "point is a plateau point when its step lies in one of the run's change-point plateaus. At each step, plateau "
    "points are compared with the control points of the same group at the same step (runs not in a plateau "
    "there); the per-step differences are averaged with weights n_p n_c / (n_p + n_c). 95 % CI: cluster bootstrap "
    "(runs resampled within groups); p: centred bootstrap test, two-sided; Holm over index fraction and lambda_min.")


def saddle_section(study, figs: dict) -> list[str]:
    """Markdown for the saddle evidence (nothing when the study ran without the Hessian)."""
    control = getattr(study, "saddle_control", None)
    if control is None:
        return []
    from analyzer.study.saddle import grid_points
    from analyzer.study.saddle_figures import grid_band_figure

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
    lines += _escape_lines(study, figs)
    return lines


def _numbers(item: dict) -> dict:
    return {k: item.get(k, np.nan) for k in ("plateau", "control", "difference", "ci_low", "ci_high", "p_value")}


def _adjusted(study, name: str) -> str:
    """The family's Holm-adjusted p of the row `name` (robustness.family), as text."""
    row = next((r for r in getattr(study, "family", []) if r["name"] == name), None)
    return "-" if row is None or row.get("p_adjusted") is None else f"{row['p_adjusted']:.3g}"


def _escape_lines(study, figs: dict) -> list[str]:
    pool, fit = getattr(study, "escape_pool", None), getattr(study, "escape_time", None)
    if pool is None:
        return ["No escape from a plateau with stored checkpoints on both sides (`analyze escape`).", ""]
    from analyzer.study.saddle_figures import escape_time_figure

    rows = [{"displacement": who, **{name: pool[f"{prefix}{name}"]["mean"] for name in
                                     ("overlap_negative", "overlap_top", "overlap_random")}}
            for who, prefix in (("escape", ""), ("control", "control_"))]
    diff = pool["difference"]
    lines = ["### Escape directions", "",
             f"{pool['n_escapes']} escapes in {pool['n_runs']} seed runs (`analyze escape`): fraction of the "
             "displacement's squared norm in the plateau Hessian's negative eigenspace, in the top eigenspace of the "
             "same dimension, and expected for a random subspace of the range of that dimension; the control is a "
             "displacement of equal step count with no escape in it.", ""]
    lines += markdown_table(pd.DataFrame(rows))
    lines += [f"Escape minus control (overlap_negative): {diff['mean']:.3f}, 95 % CI {diff['ci_low']:.3f} to "
              f"{diff['ci_high']:.3f}, p = {pool['p_value']:.3g} (cluster bootstrap over runs), Holm-adjusted across "
              f"the test family {_adjusted(study, ESCAPE_ROW)}. The most negative "
              f"direction's J v carries the jumping frequency in {pool['freq_matches_jump']} of {pool['n_with_jump']} "
              f"escapes with a jump; it carries {_counts(pool['negative_freq_counts'])} Hz; the jumps were at "
              f"{_counts(pool['jump_freq_counts'])} Hz.", ""]
    if fit and "slope" in fit:
        lines += image(figs, "escape-time.png", escape_time_figure(fit["points"], fit), "escape time vs curvature")
        ci = fit["slope_ci"] or [np.nan, np.nan]
        lines += [f"Escape time vs curvature over {fit['n']} escaped plateaus of gradient-descent runs: log-log slope "
                  f"{fit['slope']:.2f} (95 % CI {ci[0]:.2f} to {ci[1]:.2f}; 1 expected), R² {fit['r_squared']:.2f}, "
                  f"Spearman {fit['spearman_rho']:.2f}; implied log(1/δ) median {fit['implied_log_inv_delta_median']:.3g}"
                  f" (range {fit['implied_log_inv_delta_range'][0]:.3g}-{fit['implied_log_inv_delta_range'][1]:.3g}).",
                  ""]
    elif fit:
        lines += [f"Escape time vs curvature: {fit['note']}.", ""]
    return lines


def _counts(counts: dict) -> str:
    return ", ".join(f"{freq} ({n}x)" for freq, n in counts.items()) or "none"


def saddle_json(study) -> dict:
    """`saddle_control`, `escape_pool` and `escape_time` for the study's --json."""
    return {name: getattr(study, name, None) for name in ("saddle_control", "escape_pool", "escape_time")}
