"""Figures of the harmonics analysis (returned, never saved): residual per degree over training; rate against NTK eigenvalue."""

from __future__ import annotations

import numpy as np

from analyzer.analyses.harmonics.result import HarmonicsResult


def residual_figure(result: HarmonicsResult, title: str = ""):
    """||P_l (f_t - y)|| / its initial value per degree (target degrees solid, others dotted), fit windows marked."""
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.2))
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, len(result.degrees)))
    rows = result.table.set_index("degree")
    for k, degree in enumerate(result.degrees):
        norms = result.residual_norm[:, k]
        if not norms[0] > 0:
            continue
        row = rows.loc[int(degree)]
        style = "-" if row.in_target else ":"
        ax.loglog(result.steps + 1, norms / norms[0], style, color=colors[k], lw=1.4, label=f"degree {degree}")
        if row.in_target and np.isfinite(row.rate):
            window = (result.steps >= row.fit_start_step) & (result.steps <= row.fit_end_step)
            start = norms[np.argmax(window)] / norms[0]
            fitted = start * np.exp(-row.rate * (result.steps[window] - row.fit_start_step))
            ax.loglog(result.steps[window] + 1, fitted, "--", color="k", lw=0.8)
    ax.axhline(0.9, color="0.6", lw=0.6, ls=":")
    ax.axhline(0.1, color="0.6", lw=0.6, ls=":")
    ax.set_xlabel("step + 1")
    ax.set_ylabel("residual component / initial")
    ax.set_title(title or "Residual per spherical-harmonic degree (dashed: fitted exponential)", fontsize=10)
    ax.legend(fontsize=8, ncol=2)
    fig.tight_layout()
    return fig


def rate_figure(result: HarmonicsResult, title: str = ""):
    """Fitted rate against NTK eigenvalue for the target degrees (log-log), with the GD kernel-regime rate if known."""
    import matplotlib.pyplot as plt

    rows = result.table[result.table.in_target & np.isfinite(result.table.ntk_eigenvalue)]
    fig, ax = plt.subplots(figsize=(5, 4.2))
    ax.loglog(rows.ntk_eigenvalue, rows.rate, "o", color="C0", label="fitted rate")
    for row in rows.itertuples():
        ax.annotate(f"l = {row.degree}", (row.ntk_eigenvalue, row.rate), textcoords="offset points", xytext=(5, 5),
                    fontsize=8)
    if rows.gd_rate.notna().any():
        ax.loglog(rows.ntk_eigenvalue, rows.gd_rate, "s", mfc="none", color="C3",
                  label="GD kernel regime -log|1 - 2 lr mu|")
    ax.set_xlabel("NTK eigenvalue mu_l")
    ax.set_ylabel("rate per step")
    ax.set_title(title or "Rate against NTK eigenvalue", fontsize=10)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return fig
