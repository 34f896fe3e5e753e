"""The Hessian section's figure: extreme eigenvalues and the saddle index over the analysed checkpoints."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from analyzer.analyses.hessian.status import fraction_band, index_kind
from analyzer.report.figures import plt, shade


def hessian_figure(table, n_params: int, plateau_intervals=(), title: str = "") -> Figure:
    """Top and most negative eigenvalue, and the saddle index, over the analysed checkpoints."""
    fig, (ax_eig, ax_index) = plt.subplots(2, 1, figsize=(7.5, 5.0), layout="constrained", sharex=True)
    steps = table["step"].to_numpy(dtype=float) + 1
    for ax in (ax_eig, ax_index):
        shade(ax, plateau_intervals)
    ax_eig.plot(steps, table["lambda_max"], "o-", color="#1f78b4", ms=4, label="largest eigenvalue")
    ax_eig.plot(steps, -table["lambda_min"].clip(upper=0), "s-", color="#e31a1c", ms=4,
                label="|most negative eigenvalue|")
    ax_eig.set(xscale="log", yscale="log", ylabel="curvature", title=title or "Hessian of the training loss")
    ax_eig.grid(True, which="major", alpha=0.3)
    ax_eig.legend(fontsize=8)
    fraction, low, high = fraction_band(table, n_params)
    kinds = np.array([index_kind(row) for _, row in table.iterrows()])
    for kind, label, marker in (("certified", "saddle index (certified)", "o"),
                                ("estimate", "SLQ estimate (not certified)", "D")):
        shown = np.where(kinds == kind, fraction, np.nan)
        if np.isfinite(shown).any():
            ax_index.plot(steps, shown, marker + "-", color="#6a3d9a", ms=4, label=label,
                          mfc="white" if kind == "estimate" else None)
    if (high > low).any():  # brackets and error bars: the index lies somewhere in the band
        ax_index.fill_between(steps, low, high, color="#6a3d9a", alpha=0.15,
                              label="not certified: bracket / error bar" if (kinds != "certified").any() else None)
    candidates = table["saddle_candidate"].to_numpy(dtype=bool)
    ax_index.plot(steps[candidates], np.where(np.isfinite(fraction), fraction, low)[candidates], "*", color="#ff7f00",
                  ms=11, ls="none", label="saddle candidate" if candidates.any() else "saddle candidate (none)")
    ax_index.set(xscale="log", xlabel="step + 1", ylabel="index fraction", ylim=(-0.02, 1.02) if (high > 0.5).any()
                 else None)
    ax_index.grid(True, which="major", alpha=0.3)
    ax_index.legend(fontsize=8)
    return fig
