"""The Hessian section's figure: extreme eigenvalues and the saddle index over the analysed checkpoints."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from analyzer.curvature.index_status import fraction_band, index_kind
from analyzer.sections.figures import plt, shade


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
    keep_log_span(ax_eig, np.r_[table["lambda_max"].to_numpy(dtype=float),
                                -table["lambda_min"].clip(upper=0).to_numpy(dtype=float)])
    ax_eig.grid(True, which="major", alpha=0.3)
    ax_eig.legend(fontsize=8)
    fraction, low, high = fraction_band(table, n_params)
    kinds = np.array([index_kind(row) for _, row in table.iterrows()])
    certified, estimate, bracket = (kinds == "certified"), (kinds == "estimate"), (kinds == "bracket")
    if certified.any():
        ax_index.plot(steps, np.where(certified, fraction, np.nan), "o-", color="#6a3d9a", ms=4,
                      label="saddle index (certified)")
    if estimate.any():  # the estimate with its error bar, drawn apart from the counts
        ax_index.errorbar(steps[estimate], fraction[estimate], yerr=[fraction[estimate] - low[estimate],
                          high[estimate] - fraction[estimate]], fmt="D--", color="#6a3d9a", mfc="white", ms=4,
                          capsize=3, label=f"SLQ estimate of the fraction < -{_rel_tol(table, estimate)} x max|eig|, "
                                           "error bar (not certified)")
    if bracket.any():  # no point value: only where the index lies
        ax_index.vlines(steps[bracket], low[bracket], high[bracket], color="#6a3d9a", lw=7, alpha=0.3,
                        label="bracket (not certified)")
    candidates = table["saddle_candidate"].to_numpy(dtype=bool)
    ax_index.plot(steps[candidates], np.where(np.isfinite(fraction), fraction, low)[candidates], "*", color="#ff7f00",
                  ms=11, ls="none", label="saddle candidate" if candidates.any() else "saddle candidate (none)")
    ax_index.set(xscale="log", xlabel="step + 1", ylabel="index fraction")
    ax_index.ticklabel_format(axis="y", style="plain", useOffset=False)
    if (high > 0.5).any():
        ax_index.set_ylim(-0.02, 1.02)
    else:  # from 0: a fraction of 0.09751-0.09757 is flat, not a cliff
        top = np.nanmax(np.r_[high, fraction, low, 0.0])
        ax_index.set_ylim(-0.02 * max(top, 1e-3), max(1.1 * top, 1e-3))
    ax_index.grid(True, which="major", alpha=0.3)
    ax_index.legend(fontsize=8)
    return fig


MIN_DECADES = 1.0  # the curvature axis spans at least this many decades: a 1e-4 relative change reads as flat


def keep_log_span(ax, values: np.ndarray, decades: float = MIN_DECADES) -> None:
    """Widen a log axis to at least `decades` around the positive finite values (matplotlib zooms into their range:
    0.09751-0.09757 filled the panel, so one eigenvalue looked like a cliff)."""
    values = values[np.isfinite(values) & (values > 0)]
    if len(values) == 0:
        return
    low, high = float(values.min()), float(values.max())
    if np.log10(high / low) < decades:
        centre = np.sqrt(low * high)
        ax.set_ylim(centre / 10 ** (decades / 2), centre * 10 ** (decades / 2))


def _rel_tol(table, rows) -> str:
    tols = table["index_rel_tol"].to_numpy(dtype=float)[rows] if "index_rel_tol" in table else np.array([np.nan])
    return "/".join(f"{t:g}" for t in sorted(set(tols)))
