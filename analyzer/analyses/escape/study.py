"""What the escape analysis adds to `analyze study` (its StudyHooks): every seed run's escape table, the escapes
pooled over them (pool.py), its family row, report lines and JSON."""

from __future__ import annotations

import numpy as np
import pandas as pd

ESCAPE_ROW = "escape vs control displacement: overlap with the negative eigenspace (escape directions)"


def jobs(options) -> list:
    """Computed with the Hessian (`--no-hessian` leaves it out), for seed runs only."""
    from analyzer.study.collect import is_seed_run

    return [("escape", {}, is_seed_run)] if options.hessian else []


def collect(run, context) -> pd.DataFrame | None:
    """The run's `analyze escape` table; a failure is a note and None."""
    from analyzer.errors import AnalysisFailed, BadInputError
    from analyzer.study.collect import is_replicate

    if not context.options.hessian or is_replicate(run.config):
        return None
    try:
        return context.result("escape").table.reset_index(drop=True)
    except (BadInputError, AnalysisFailed) as err:
        context.notes.append(f"escape : {' '.join(str(err).split())}")  # the analysis and its (no) overrides
        return None


def pool(study) -> dict:
    """{"escape_pool": the pooled escape directions, "escape_time": the fit}, each None without escapes."""
    from analyzer.analyses.escape.pool import escape_frame, escape_time_fit, pooled_escapes

    escapes = escape_frame(study.seed_runs, study.group_of)
    resamples, seed = min(study.options.n_resamples, 4000), study.options.seed
    return {"escape_pool": pooled_escapes(escapes, resamples, seed) if len(escapes) else None,
            "escape_time": escape_time_fit(escapes, resamples, seed) if len(escapes) else None}


def family_rows(study) -> list[dict]:
    return escape_rows((study.pooled.get("escape") or {}).get("escape_pool"))


def escape_rows(pool: dict | None) -> list[dict]:
    """The pooled escape-direction test (pool.py) as a family row."""
    from analyzer.study.robustness import bootstrap_row

    if not pool:
        return []
    difference = pool["difference"]
    return [bootstrap_row(ESCAPE_ROW, "control displacement of equal step count", pool.get("p_value"),
                          difference["mean"], difference["ci_low"], difference["ci_high"],
                          pool["overlap_negative"]["mean"], pool["control_overlap_negative"]["mean"],
                          pool.get("n_runs"))]


def section(study, figs: dict) -> list[str]:
    """The escape directions and escape time, after the saddle control's section and only with it (both rest on
    the Hessian on the grid)."""
    from analyzer.report.markdown import image, markdown_table

    if study.pooled.get("hessian") is None:
        return []
    pooled = study.pooled.get("escape") or {}
    pool, fit = pooled.get("escape_pool"), pooled.get("escape_time")
    if pool is None:
        return ["No escape from a plateau with stored checkpoints on both sides (`analyze escape`).", ""]
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
    return lines + _fit_lines(fit, figs, image)


def _fit_lines(fit: dict | None, figs: dict, image) -> list[str]:
    if fit and "slope" in fit:
        from analyzer.analyses.escape.figures import escape_time_figure

        lines = image(figs, "escape-time.png", escape_time_figure(fit["points"], fit), "escape time vs curvature")
        ci = fit["slope_ci"] or [np.nan, np.nan]
        return lines + [
            f"Escape time vs curvature over {fit['n']} escaped plateaus of gradient-descent runs: log-log slope "
            f"{fit['slope']:.2f} (95 % CI {ci[0]:.2f} to {ci[1]:.2f}; 1 expected), R² {fit['r_squared']:.2f}, "
            f"Spearman {fit['spearman_rho']:.2f}; implied log(1/δ) median {fit['implied_log_inv_delta_median']:.3g}"
            f" (range {fit['implied_log_inv_delta_range'][0]:.3g}-{fit['implied_log_inv_delta_range'][1]:.3g}).", ""]
    if fit:
        return [f"Escape time vs curvature: {fit['note']}.", ""]
    return []


def _adjusted(study, name: str) -> str:
    """The family's Holm-adjusted p of the row `name`, as text."""
    row = next((r for r in study.family if r["name"] == name), None)
    return "-" if row is None or row.get("p_adjusted") is None else f"{row['p_adjusted']:.3g}"


def _counts(counts: dict) -> str:
    return ", ".join(f"{freq} ({n}x)" for freq, n in counts.items()) or "none"


def to_json(study) -> dict:
    pooled = study.pooled.get("escape") or {}
    return {"escape_pool": pooled.get("escape_pool"), "escape_time": pooled.get("escape_time")}
