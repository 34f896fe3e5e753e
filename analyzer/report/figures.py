"""Figure helpers shared by several report sections and the study: palettes, plateau shading, heatmaps.

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


def _normalised_amplitude(spectrum) -> tuple[np.ndarray, np.ndarray]:
    """|h_k| / |y_k| at each target frequency, or ||P_l f|| / ||P_l y|| at each degree (rows), over prediction steps
    (columns)."""
    bins = [int(np.argmin(np.abs(spectrum.freqs_hz - f))) for f in spectrum.target_freqs_hz]
    target = spectrum.target_amplitude[bins]
    ratio = np.asarray(spectrum.pred_amplitude, dtype=np.float64) / np.where(target > 0, target, np.nan)
    return ratio.T, np.asarray(spectrum.target_freqs_hz, dtype=float)


def heatmap_axes(ax, spectrum, colorbar: bool = True):
    ratio, freqs = _normalised_amplitude(spectrum)
    steps = np.asarray(spectrum.steps, dtype=float) + 1
    edges_x = np.concatenate([[steps[0] * 0.9], np.sqrt(steps[:-1] * steps[1:]), [steps[-1] * 1.1]])
    edges_y = np.arange(len(freqs) + 1) - 0.5
    mesh = ax.pcolormesh(edges_x, edges_y, np.clip(ratio, 0, 1.2), cmap="magma", vmin=0, vmax=1.2,
                         shading="flat", rasterized=True)
    ax.set_xscale("log")
    ax.set_yticks(np.arange(len(freqs)), [spectrum.mode_text(f) for f in freqs])
    for tick, freq in zip(ax.get_yticklabels(), freqs):
        tick.set_color(freq_color(freq, freqs))
    ax.set_xlabel("step + 1")
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, label=ratio_label([spectrum]), shrink=0.9)
    return mesh


def heatmap_grid_figure(spectra: dict) -> Figure:
    """One target-frequency heatmap per run, side by side, sharing the colour scale."""
    n = len(spectra)
    cols = min(2, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 2.5 * rows + 0.6), layout="constrained",
                             squeeze=False)
    mesh = None
    for ax, (label, spectrum) in zip(axes.flat, spectra.items()):
        mesh = heatmap_axes(ax, spectrum, colorbar=False)
        ax.set_title(label)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    if mesh is not None:
        fig.colorbar(mesh, ax=axes, label=ratio_label(spectra.values()), shrink=0.8)
    return fig


def ratio_label(spectra) -> str:
    """The heatmap's colour: the prediction's size over the target's on a mode (a frequency f or a degree l)."""
    kinds = {spectrum.mode_name for spectrum in spectra}
    if kinds == {"degree"}:
        return "||P_l prediction|| / ||P_l target||"
    return "|prediction| / |target| at f" if kinds <= {"freq_hz"} else "prediction / target on each mode (f or l)"


def plateau_intervals(plateaus) -> list[tuple[int, int]]:
    """(start, end) steps of the change-point plateaus of a plateaus result, to shade; none without one."""
    if plateaus is None:
        return []
    frame = plateaus.plateaus("changepoint")
    return list(zip(frame.start_step.astype(int), frame.end_step.astype(int)))
