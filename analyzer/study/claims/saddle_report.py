"""The saddle claim's report section: the Hessian along training per group, the controls' table, the quantities at
plateau edges and middles."""

from __future__ import annotations

import numpy as np
import pandas as pd


def saddle_section(study, result: dict, figs: dict, control_text: str) -> list[str]:
    from analyzer.sections.markdown import image, markdown_table
    from analyzer.study.claims.saddle_control import grid_points
    from analyzer.study.claims.saddle_figures import grid_band_figure

    lines = ["## Saddles: time- and loss-matched controls", ""]
    control = result["control"]
    if control is None:
        return lines + ["*No network run has the Hessian on the log-step grid: the controls are not computed.*", ""] \
            + _quantity_lines(result)
    lines += [control_text.format(per_decade=control["grid_per_decade"]), ""]
    points = grid_points(study.extracts("saddles"), study.group_of)
    if not points.empty:
        lines += image(figs, "hessian-grid.png", grid_band_figure(points), "Hessian along training per group")
    rows = [{"quantity": "index fraction (tol 1e-6)", "matched on": "step", **_numbers(control)},
            {"quantity": "lambda_min", "matched on": "step", **_numbers(control["lambda_min"])},
            {"quantity": "index fraction (tol 1e-6)", "matched on": "step and loss",
             **_numbers(control["loss_matched"])}]
    rows += [{"quantity": f"index fraction (tol {t['index_tol']:g})", "matched on": "step", **_numbers(t)}
             for t in control["by_tolerance"] if t["index_tol"] != control["index_tol"]]
    lines += markdown_table(pd.DataFrame(rows))
    left = control["uncertified_left_out"]
    lines += [f"Strata (group, step) with both sides: {control['n_strata']}; {control['n_plateau_points']} plateau "
              f"and {control['n_control_points']} control points from {control['n_runs']} runs; left out as not "
              f"certified: {left['plateau']} plateau and {left['control']} control points. "
              + ("The reading (significant at 5 % and in which direction, or not) is the same at every index "
                 "tolerance." if control["stable_across_tolerances"] else
                 "The reading (significant at 5 % and in which direction, or not) changes with the index tolerance: "
                 "the verdict is tolerance-dependent."), ""]
    return lines + _quantity_lines(result)


def _quantity_lines(result: dict) -> list[str]:
    from analyzer.sections.markdown import markdown_table

    table = result["quantities"]
    if table.empty:
        return []
    return (["Per run, the mean saddle index and lambda_min over the Hessian checkpoints at plateau starts and ends "
             "(edges) and at plateau midpoints (middles); mean across network runs with its 95 % bootstrap CI "
             "(descriptive).", ""] + markdown_table(table.reset_index(drop=True)))


def _numbers(item: dict) -> dict:
    return {k: item.get(k, np.nan) for k in ("plateau", "control", "difference", "ci_low", "ci_high", "p_value")}
