"""Figure helpers shared by several report sections and the study: palettes, plateau shading, the loss overlay.

Functions return matplotlib Figures and never save or show them.

Colours are fixed per target frequency (`freq_color`) so 3 Hz has the same colour in every figure.
Steps are drawn on a log axis as `step + 1`, because spectral-bias stages are evenly spaced in log time.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")  # figures are files; never open a window
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

FREQ_PALETTE = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#1f78b4")
RUN_PALETTE = ("#222222", "#1f78b4", "#e31a1c", "#33a02c", "#ff7f00", "#6a3d9a", "#b15928", "#a6cee3")
PLATEAU_SHADE = {"color": "#9e9e9e", "alpha": 0.22, "lw": 0}


def freq_color(freq_hz: float, all_freqs_hz) -> str:
    """The colour of a target frequency, by its rank among all target frequencies shown."""
    ordered = sorted({float(f) for f in all_freqs_hz})
    return FREQ_PALETTE[ordered.index(float(freq_hz)) % len(FREQ_PALETTE)]


def shade(ax, intervals) -> None:
    for start, end in intervals:
        ax.axvspan(start + 1, end + 1, **PLATEAU_SHADE)


def loss_overlay_figure(curves: dict[str, tuple[np.ndarray, np.ndarray]]) -> Figure:
    """Several runs' losses on one log-log axis."""
    fig, ax = plt.subplots(figsize=(7.5, 3.8), layout="constrained")
    for i, (label, (steps, loss)) in enumerate(curves.items()):
        ax.plot(np.asarray(steps) + 1, loss, color=RUN_PALETTE[i % len(RUN_PALETTE)], lw=0.9, label=label)
    ax.set(xscale="log", yscale="log", xlabel="step + 1", ylabel="loss", title="Training loss, all runs")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8)
    return fig


def plateau_intervals(plateaus) -> list[tuple[int, int]]:
    """(start, end) steps of the plateaus of a plateaus result (its default detector's), to shade; none without one."""
    if plateaus is None:
        return []
    frame = plateaus.plateaus()
    return list(zip(frame.start_step.astype(int), frame.end_step.astype(int)))
