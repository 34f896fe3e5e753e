"""The study's figure of the saddle control: the Hessian along training per group, on the log-spaced grid."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analyzer.sections.figures import plt


def grid_band_figure(points: pd.DataFrame) -> Figure:
    """Per group (columns): index fraction and |lambda_min| against step + 1, median and 10-90 % band over network runs;
    grey shading where at least half of the group's runs are in a plateau; red dots plateau points, blue control."""
    groups = sorted(points.group.unique())
    fig, axes = plt.subplots(2, len(groups), figsize=(max(3.2 * len(groups), 6.0), 5.2), layout="constrained",
                             squeeze=False, sharex=True)
    for col, group in enumerate(groups):
        part = points[points.group == group]
        by_step = part.groupby("step")
        steps = np.asarray(sorted(part.step.unique()), dtype=float)
        share = by_step.in_plateau.mean().reindex(steps).to_numpy()
        for row, (column, label) in enumerate((("index_fraction", "index fraction"),
                                               ("abs_lambda_min", "|lambda_min|"))):
            ax = axes[row, col]
            values = part.assign(abs_lambda_min=np.where(part.lambda_min < 0, -part.lambda_min, np.nan))
            grouped = values.groupby("step")[column]
            low, mid, high = (grouped.quantile(q).reindex(steps).to_numpy() for q in (0.1, 0.5, 0.9))
            _shade_majority(ax, steps + 1, share)
            ax.fill_between(steps + 1, low, high, color="#6a3d9a", alpha=0.2, lw=0, label="10-90 % of runs")
            ax.plot(steps + 1, mid, "-", color="#6a3d9a", lw=1.5, label="median")
            for flag, color, name in ((True, "#e31a1c", "plateau point"), (False, "#1f78b4", "control point")):
                chosen = values[values.in_plateau == flag]
                ax.plot(chosen.step + 1, chosen[column], ".", color=color, ms=3, alpha=0.6, label=name)
            ax.set(xscale="log", yscale="log" if row == 1 else "linear", ylabel=label if col == 0 else None)
            ax.grid(True, which="major", alpha=0.3)
            if row == 0:
                ax.set_title(group, fontsize=10)
            else:
                ax.set_xlabel("step + 1")
        if col == 0:
            axes[0, 0].legend(fontsize=6.5, loc="best")
    fig.suptitle("Hessian on the log-spaced grid (grey: at least half the runs in a plateau)", fontsize=10)
    return fig


def _shade_majority(ax, x: np.ndarray, share: np.ndarray) -> None:
    """Grey spans between neighbouring grid steps where at least half of the runs are in a plateau."""
    for i in range(len(x) - 1):
        if share[i] >= 0.5 and share[i + 1] >= 0.5:
            ax.axvspan(x[i], x[i + 1], color="0.85", lw=0, zorder=0)
