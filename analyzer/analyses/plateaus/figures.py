"""The plateaus section's figure: the training loss with plateaus, change points and loss-drop midpoints."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from analyzer.sections.figures import PLATEAU_SHADE, RUN_PALETTE, plt, shade


def loss_figure(steps, loss, plateau_intervals=(), change_points=(), title: str = "", loss_drop_steps=(),
                label: str = "training loss (MSE)") -> Figure:
    """Training loss on log-log axes, plateaus shaded, change points dotted, loss-drop midpoints as markers."""
    fig, ax = plt.subplots(figsize=(7.5, 3.8), layout="constrained")
    shade(ax, plateau_intervals)
    steps, loss = np.asarray(steps), np.asarray(loss)
    ax.plot(steps + 1, loss, color=RUN_PALETTE[0], lw=0.9, label=label)
    for i, step in enumerate(change_points):
        ax.axvline(step + 1, color="#c62828", ls=":", lw=0.9, label="change point" if i == 0 else None)
    escapes = np.asarray(loss_drop_steps, dtype=np.float64)
    if len(escapes):
        ax.plot(escapes + 1, np.interp(escapes, steps, loss), "v", color="#1565c0", ms=7,
                label="loss-drop midpoint (escape)")
    if len(plateau_intervals):
        ax.axvspan(np.nan, np.nan, **PLATEAU_SHADE, label="plateau")
    ax.set(xscale="log", yscale="log", xlabel="step + 1", ylabel="loss", title=title or "Training loss")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    return fig
