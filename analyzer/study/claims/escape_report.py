"""The escape-directions claim's report section: the overlaps of escapes and controls, the frequency match and the
escape time against curvature."""

from __future__ import annotations

import numpy as np
import pandas as pd


def escape_section(study, result: dict, figs: dict, row_name: str) -> list[str]:
    """The escape directions and escape time."""
    from analyzer.report.markdown import image, markdown_table

    pool, fit = result.get("escape_pool"), result.get("escape_time")
    if pool is None:
        return ["No escape from a plateau with stored checkpoints on both sides (`analyze escape`).", ""]
    rows = [{"displacement": who, **{name: pool[f"{prefix}{name}"]["mean"] for name in
                                     ("overlap_negative", "overlap_top", "overlap_random")}}
            for who, prefix in (("escape", ""), ("control", "control_"))]
    diff = pool["difference"]
    lines = ["## Escape directions", "",
             f"{pool['n_escapes']} escapes in {pool['n_runs']} seed runs (`analyze escape`): fraction of the "
             "displacement's squared norm in the plateau Hessian's negative eigenspace, in the top eigenspace of the "
             "same dimension, and expected for a random subspace of the range of that dimension; the control is a "
             "displacement of equal step count with no escape in it.", ""]
    lines += markdown_table(pd.DataFrame(rows))
    interval = (f"95 % CI {diff['ci_low']:.3f} to {diff['ci_high']:.3f}, p = {pool['p_value']:.3g} (cluster "
                "bootstrap over runs)" if pool["p_value"] is not None else "no CI or p-value: too few runs for a "
                "cluster bootstrap")
    lines += [f"Escape minus control (overlap_negative): {diff['mean']:.3f}, {interval}, adjusted across "
              f"the test family {_adjusted(study, row_name)}. The most negative "
              f"direction's J v carries the jumping frequency in {pool['freq_matches_jump']} of {pool['n_with_jump']} "
              f"escapes with a jump (chance, with the jumping frequencies permuted across escapes: "
              f"{_chance(pool)}); it carries {_counts(pool['negative_freq_counts'])} Hz; the jumps were at "
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
    """The family's adjusted p of the row `name`, as text."""
    row = study.family_row(name)
    return "-" if row is None or row.p_adjusted is None else f"{row.p_adjusted:.3g}"


def _chance(pool: dict) -> str:
    return "-" if pool.get("freq_match_chance") is None else f"{pool['freq_match_chance']:.1f}"


def _counts(counts: dict) -> str:
    return ", ".join(f"{freq} ({n}x)" for freq, n in counts.items()) or "none"
