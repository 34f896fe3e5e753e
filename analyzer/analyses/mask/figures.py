"""Figures of the GD-mask analysis; each returns a matplotlib Figure and never saves or shows it."""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure  # figures made without pyplot: none stays open in pyplot's registry


def mask_figure(result, panels: int = 4, title: str = "") -> Figure:
    """Predicted mask m(s) (line) and observed fraction fitted (dots) per singular direction at a few q, and the
    bandwidth (directions with fraction > 1/2) against sqrt(q)."""
    fig = Figure(figsize=(12, 4), layout="constrained")
    axes = fig.subplots(1, 2)
    iterations = result.sample_steps - result.step
    picks = np.unique(np.round(np.geomspace(1, len(iterations) - 1, panels)).astype(int)) if len(iterations) > 1 \
        else np.array([0])
    s = result.singular_values
    dense = np.geomspace(s.min(), s.max(), 300)
    for j, row in enumerate(picks):
        color = colormaps["plasma"](j / max(len(picks) - 1, 1) * 0.85)
        q = iterations[row]
        curve = 1.0 - (1.0 - result.effective_rate * dense ** 2) ** q
        axes[0].semilogx(dense, curve, color=color, lw=1.2, label=f"q = {q:,}: predicted m(s)")
        axes[0].semilogx(s, result.observed[row], "o", color=color, ms=3.5, alpha=0.8)
    axes[0].set(xlabel="singular value s of J", ylabel="fraction of target component fitted",
                title="GD mask (lines) vs the run (dots)", ylim=(-0.3, 1.3))
    axes[0].legend(fontsize=7, loc="upper left")
    band = result.bandwidth[result.bandwidth["sqrt_q"] > 0]
    axes[1].loglog(band["sqrt_q"], band["observed"].clip(lower=0.5), "o-", ms=3, color="#1f78b4", label="observed")
    axes[1].loglog(band["sqrt_q"], band["predicted"].clip(lower=0.5), "-", color="#e31a1c", label="predicted (mask)")
    if len(band):
        reference = band["sqrt_q"] * (max(band["observed"].max(), 1) / band["sqrt_q"].max())
        axes[1].loglog(band["sqrt_q"], reference, ":", color="#888888", label="proportional to sqrt(q)")
    axes[1].set(xlabel="sqrt(q)", ylabel="directions with fraction > 1/2", title="Bandwidth")
    axes[1].legend(fontsize=7)
    fig.suptitle(title or "Gradient descent as a shrinkage mask", fontsize=10)
    return fig
