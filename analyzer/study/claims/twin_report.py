"""The twin contrast's report section and figures: each claim's network-minus-twin differences, and the loss curves
of the networks beside their twins'."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def twin_section(study, result: dict, figs: dict) -> list[str]:
    from analyzer.sections.markdown import image, markdown_table
    from analyzer.study import figures as study_figures

    contrasts = result["contrasts"]
    lines = ["## Twin contrast: the same networks without saddles", "",
             "Each network run's linearised twin f(x; theta_0) + J(x; theta_0)(theta - theta_0), trained from the same "
             "init with the same optimizer, data and steps, has a convex loss (index 0 everywhere) yet learns low "
             "frequencies first and can show plateaus. Each claim is evaluated on the twins alone and compared with "
             "the networks pair by pair (same group and seed); a claim is specific to the nonlinear network only "
             "where the paired difference is significant in the family.", ""]
    rows = []
    for claim_id, c in contrasts.items():
        row = study.family_row(c["name"])
        rows.append({"claim": claim_id, "pairs": c["n_pairs"], "networks": c["network_mean"], "twins": c["twin_mean"],
                     "difference (claim's direction)": c.get("difference"), "CI low": c.get("ci_low"),
                     "CI high": c.get("ci_high"), "p": c.get("p_value"),
                     "p (adjusted)": row.p_adjusted if row is not None else None, "unit": c["unit"]})
    if rows:
        lines += markdown_table(pd.DataFrame(rows))
    paired = {k: c for k, c in contrasts.items() if c["n_pairs"]}
    if paired:
        lines += image(figs, "twin-contrast.png", contrast_figure(study, result["view"], paired),
                       "network minus twin per claim")
    curves = {}
    for run in study.network_runs + study.twin_runs:
        label = f"{study.group_of[run.path]} {'twin' if run.role == 'twin' else 'network'}"
        curves.setdefault(label, []).append((run.loss_steps, run.loss))
    if study.twin_runs:
        lines += image(figs, "twin-loss.png", study_figures.loss_band_figure(curves),
                       "loss of the networks and of their linearised twins")
    check = result["twin_index"]
    if check["n_points"]:
        lines += [f"Check: {check['n_points'] - check['n_nonzero']} of {check['n_points']} certified Hessian checkpoints "
                  f"of {check['n_runs']} twins have index 0.", ""]
    return lines


def contrast_figure(study, view, contrasts: dict) -> Figure:
    """One panel per claim: every network-twin pair's effect (network vs twin) joined by a line; `view`: the study
    of the twins alone (twin_contrast.twin_view)."""
    from analyzer.sections.figures import plt

    from analyzer.study.claims import get

    fig, axes = plt.subplots(1, max(len(contrasts), 1), figsize=(2.6 * max(len(contrasts), 1) + 1, 3.6),
                             layout="constrained", squeeze=False)
    twins = {(view.group_of[r.path], r.seed): r.path for r in view.network_runs}
    for ax, (claim_id, contrast) in zip(axes[0], contrasts.items()):
        claim = get(claim_id)
        network = claim.per_run_effects(study, study.results[claim_id])
        twin = claim.per_run_effects(view, view.results.get(claim_id))
        for run in study.network_runs:
            key = (study.group_of[run.path], run.seed)
            if run.path in network and twins.get(key) in twin:
                ax.plot([0, 1], [network[run.path], twin[twins[key]]], "-o", color="0.4", alpha=0.5, ms=3)
        ax.axhline(0, color="0.6", lw=0.8, ls="--")
        ax.set_xticks([0, 1], ["network", "twin"])
        ax.set_xlim(-0.3, 1.3)
        ax.set_title(claim_id.replace("_", " "), fontsize=9)
        ax.tick_params(labelsize=7)
    fig.suptitle("Per-run effect of each claim: networks and their linearised twins (lines join pairs)", fontsize=10)
    return fig
