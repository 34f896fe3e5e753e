"""The escape-directions claim's report section: the overlaps of escapes and controls, the frequency match and the
escape time against curvature."""

from __future__ import annotations

import numpy as np
import pandas as pd


CONTROL_TEXT = (
    "The control of each escape is a displacement of the same run: a stretch of stored checkpoints [a, b] that touches "
    "no change-point plateau and no escape (no loss drop from a plateau's end to its 90 % point, no escape's own "
    "displacement), whose loss drop log10 L(a) / L(b) is within a factor {factor} of the escape's "
    "(from the plateau's middle checkpoint to the first checkpoint after the drop) and, where the run has one, whose "
    "span log10 (b + 1) / (a + 1) is too (`control_kind`: drop+span; drop: the span does not match; unmatched, "
    "plateau, none: no stretch of matching loss drop, left out of the test). Escape and control are each measured "
    "against the Hessian at their own start, the control's start chosen among up to {starts} loss-matched "
    "candidates for the number of negative eigenvalues closest to the escape's; each overlap is divided by "
    "n_negative / rank, what a random direction in the Hessian's range would have, so the two compare although "
    "their negative eigenspaces differ in dimension (1: no preference).")


def escape_section(study, result: dict, figs: dict, row_name: str) -> list[str]:
    """The escape directions and escape time."""
    from analyzer.analyses.escape.params import EscapeParams
    from analyzer.sections.markdown import image, markdown_table

    pool, fit = result.get("escape_pool"), result.get("escape_time")
    if pool is None:
        return ["No escape from a plateau with stored checkpoints on both sides (`analyze escape`).", ""]
    kinds = ", ".join(f"{kind} {n}" for kind, n in pool["control_kinds"].items())
    defaults = EscapeParams()
    lines = ["## Escape directions", "",
             f"{pool['n_escapes']} escapes in {pool['n_runs_with_escapes']} network runs (`analyze escape`); controls: "
             f"{kinds}; {pool['n_tested']} escapes in {pool['n_runs']} runs have a loss-matched control and are "
             "tested. " + CONTROL_TEXT.format(factor=defaults.match_factor, starts=defaults.control_starts), ""]
    if pool["n_tested"]:
        lines += _overlap_lines(study, pool, row_name, markdown_table)
    lines += [f"The most negative direction's J v carries the jumping frequency in {pool['freq_matches_jump']} of "
              f"{pool['n_with_jump']} escapes with a jump (chance, with the jumping frequencies permuted across "
              f"escapes: {_chance(pool)}); it carries {_counts(pool['negative_freq_counts'])} Hz; the jumps were at "
              f"{_counts(pool['jump_freq_counts'])} Hz.", ""]
    return lines + _fit_lines(fit, figs, image)


def _overlap_lines(study, pool: dict, row_name: str, markdown_table) -> list[str]:
    """The mean overlaps of the tested escapes and their controls, raw and in units of chance, and the test."""
    rows = [{"displacement": who, **{name: pool[f"{prefix}{name}"]["mean"] for name in
                                     ("overlap_negative", "overlap_top", "overlap_random", "overlap_negative_norm",
                                      "overlap_top_norm")}}
            for who, prefix in (("escape", ""), ("control", "control_"))]
    diff = pool["difference"]
    interval = "no CI or p-value: too few runs for a cluster bootstrap"
    if pool["p_value"] is not None:
        interval = (f"95 % CI {diff['ci_low']:.3f} to {diff['ci_high']:.3f} (studentised cluster bootstrap over runs), "
                    f"p = {pool['p_value']:.3g} (sign flips over runs)")
    return ["Fraction of the displacement's squared norm in the negative eigenspace, in the top eigenspace of the "
            "same dimension and expected for a random subspace of the range of that dimension; `_norm`: the "
            "overlap divided by n_negative / rank.", "", *markdown_table(pd.DataFrame(rows)),
            f"Escape minus control (overlap_negative_norm): {diff['mean']:.3f}, {interval}, adjusted across the test "
            f"family {_adjusted(study, row_name)}; the raw fractions differ by {pool['difference_raw']['mean']:.3f}.",
            ""]


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
