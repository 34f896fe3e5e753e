"""Figures for reports: functions return matplotlib Figures and never save or show them.

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


def _shade(ax, intervals) -> None:
    for start, end in intervals:
        ax.axvspan(start + 1, end + 1, **PLATEAU_SHADE)


def loss_figure(steps, loss, plateau_intervals=(), change_points=(), title: str = "", escape_steps=()) -> Figure:
    """Training loss on log-log axes, plateaus shaded, change points dotted, loss-drop midpoints as markers."""
    fig, ax = plt.subplots(figsize=(7.5, 3.8), layout="constrained")
    _shade(ax, plateau_intervals)
    steps, loss = np.asarray(steps), np.asarray(loss)
    ax.plot(steps + 1, loss, color=RUN_PALETTE[0], lw=0.9, label="training loss (MSE)")
    for i, step in enumerate(change_points):
        ax.axvline(step + 1, color="#c62828", ls=":", lw=0.9, label="change point" if i == 0 else None)
    escapes = np.asarray(escape_steps, dtype=np.float64)
    if len(escapes):
        ax.plot(escapes + 1, np.interp(escapes, steps, loss), "v", color="#1565c0", ms=7,
                label="loss-drop midpoint (escape)")
    if len(plateau_intervals):
        ax.axvspan(np.nan, np.nan, **PLATEAU_SHADE, label="plateau")
    ax.set(xscale="log", yscale="log", xlabel="step + 1", ylabel="loss", title=title or "Training loss")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    return fig


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
    """|h_k| / |y_k| at each target frequency (rows) over prediction steps (columns)."""
    bins = [int(np.argmin(np.abs(spectrum.freqs_hz - f))) for f in spectrum.target_freqs_hz]
    target = spectrum.target_amplitude[bins]
    ratio = np.asarray(spectrum.pred_amplitude, dtype=np.float64) / np.where(target > 0, target, np.nan)
    return ratio.T, np.asarray(spectrum.target_freqs_hz, dtype=float)


def _heatmap_axes(ax, spectrum, colorbar: bool = True):
    ratio, freqs = _normalised_amplitude(spectrum)
    steps = np.asarray(spectrum.steps, dtype=float) + 1
    edges_x = np.concatenate([[steps[0] * 0.9], np.sqrt(steps[:-1] * steps[1:]), [steps[-1] * 1.1]])
    edges_y = np.arange(len(freqs) + 1) - 0.5
    mesh = ax.pcolormesh(edges_x, edges_y, np.clip(ratio, 0, 1.2), cmap="magma", vmin=0, vmax=1.2,
                         shading="flat", rasterized=True)
    ax.set_xscale("log")
    ax.set_yticks(np.arange(len(freqs)), [f"{f:g} Hz" for f in freqs])
    for tick, freq in zip(ax.get_yticklabels(), freqs):
        tick.set_color(freq_color(freq, freqs))
    ax.set_xlabel("step + 1")
    if colorbar:
        ax.figure.colorbar(mesh, ax=ax, label="|prediction| / |target| at f", shrink=0.9)
    return mesh


def spectral_heatmap_figure(spectrum, full, title: str = "") -> Figure:
    """Rahaman-style heatmap: learned fraction of each target frequency over training, plus the full spectrum.

    Args:
        spectrum: a SpectrumResult; full: the AmplitudeSpectrum of the same prediction steps (up to any max_hz).
    """
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 5.6), layout="constrained",
                                      gridspec_kw={"height_ratios": [1, 1.4]})
    _heatmap_axes(top, spectrum)
    top.set_title(title or "Spectral dynamics: amplitude of the prediction relative to the target")
    keep = full.freqs_hz <= heatmap_max_hz(spectrum)
    steps = np.asarray(full.steps, dtype=float) + 1
    edges_x = np.concatenate([[steps[0] * 0.9], np.sqrt(steps[:-1] * steps[1:]), [steps[-1] * 1.1]])
    freqs = full.freqs_hz[keep]
    edges_y = np.concatenate([[freqs[0] - 0.5], (freqs[:-1] + freqs[1:]) / 2, [freqs[-1] + 0.5]])
    amplitude = np.log10(np.maximum(full.amplitude[:, keep].astype(np.float64), 1e-4)).T
    mesh = bottom.pcolormesh(edges_x, edges_y, amplitude, cmap="viridis", vmin=-4, vmax=0.1, shading="flat",
                             rasterized=True)
    for freq in spectrum.target_freqs_hz:
        bottom.axhline(freq, color=freq_color(freq, spectrum.target_freqs_hz), lw=0.6, ls="--", alpha=0.8)
    bottom.set(xscale="log", xlabel="step + 1", ylabel="frequency (Hz)",
               title="Full amplitude spectrum of the prediction (dashed: target frequencies)")
    fig.colorbar(mesh, ax=bottom, label="log10 amplitude", shrink=0.9)
    return fig


def heatmap_max_hz(spectrum) -> float:
    """Highest frequency the full-spectrum panel shows: twice the highest target frequency plus 5 Hz."""
    return min(float(spectrum.freqs_hz[-1]), 2.0 * float(np.max(spectrum.target_freqs_hz)) + 5)


def heatmap_grid_figure(spectra: dict) -> Figure:
    """One target-frequency heatmap per run, side by side, sharing the colour scale."""
    n = len(spectra)
    cols = min(2, n)
    rows = int(np.ceil(n / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(5.2 * cols, 2.5 * rows + 0.6), layout="constrained",
                             squeeze=False)
    mesh = None
    for ax, (label, spectrum) in zip(axes.flat, spectra.items()):
        mesh = _heatmap_axes(ax, spectrum, colorbar=False)
        ax.set_title(label)
    for ax in list(axes.flat)[n:]:
        ax.set_visible(False)
    if mesh is not None:
        fig.colorbar(mesh, ax=axes, label="|prediction| / |target| at f", shrink=0.8)
    return fig


def rel_error_figure(spectrum, plateau_intervals=(), title: str = "") -> Figure:
    """Relative error per target frequency; learned steps as circles, jump steps as triangles."""
    fig, ax = plt.subplots(figsize=(7.5, 3.8), layout="constrained")
    _shade(ax, plateau_intervals)
    steps = np.asarray(spectrum.steps, dtype=float) + 1
    freqs = spectrum.target_freqs_hz
    for k, freq in enumerate(freqs):
        color = freq_color(freq, freqs)
        curve = np.asarray(spectrum.rel_error[:, k], dtype=float)
        ax.plot(steps, curve, color=color, lw=1.0, label=f"{freq:g} Hz")
        for step in spectrum.jumps.loc[spectrum.jumps.freq_hz == freq, "step"]:
            ax.plot(step + 1, np.interp(step + 1, steps, curve), marker="v", color=color, ms=7, mec="black", mew=0.5)
        learned = spectrum.learning.loc[spectrum.learning.freq_hz == freq, "learned_step"]
        if len(learned) and np.isfinite(learned.iloc[0]):
            step = float(learned.iloc[0])
            ax.plot(step + 1, np.interp(step + 1, steps, curve), marker="o", color=color, ms=7, mec="black", mew=0.5)
    ax.axhline(spectrum.threshold, color="black", lw=0.8, ls="--", label=f"learned threshold {spectrum.threshold:g}")
    ax.plot([], [], "ko", ms=6, label="learned step")
    ax.plot([], [], "kv", ms=6, label="jump step")
    ax.set(xscale="log", yscale="log", xlabel="step + 1", ylabel="|h_k - y_k| / |y_k|",
           title=title or "Frequency-principle error per target frequency")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="lower left")
    return fig


def hessian_figure(table, n_params: int, plateau_intervals=(), title: str = "") -> Figure:
    """Top and most negative eigenvalue, and the saddle index, over the analysed checkpoints."""
    fig, (ax_eig, ax_index) = plt.subplots(2, 1, figsize=(7.5, 5.0), layout="constrained", sharex=True)
    steps = table["step"].to_numpy(dtype=float) + 1
    for ax in (ax_eig, ax_index):
        _shade(ax, plateau_intervals)
    ax_eig.plot(steps, table["lambda_max"], "o-", color="#1f78b4", ms=4, label="largest eigenvalue")
    ax_eig.plot(steps, -table["lambda_min"].clip(upper=0), "s-", color="#e31a1c", ms=4,
                label="|most negative eigenvalue|")
    ax_eig.set(xscale="log", yscale="log", ylabel="curvature", title=title or "Hessian of the training loss")
    ax_eig.grid(True, which="major", alpha=0.3)
    ax_eig.legend(fontsize=8)
    fraction = table["index_fraction"].to_numpy(dtype=float)
    ax_index.plot(steps, fraction, "o-", color="#6a3d9a", ms=4, label="saddle index (fraction < -tol)")
    if "index_err" in table:
        err = table["index_err"].to_numpy(dtype=float) / n_params
        ax_index.fill_between(steps, np.maximum(fraction - err, 0), fraction + err, color="#6a3d9a", alpha=0.15)
    candidates = table["saddle_candidate"].to_numpy(dtype=bool)
    ax_index.plot(steps[candidates], fraction[candidates], "*", color="#ff7f00", ms=11, ls="none",
                  label="saddle candidate")
    ax_index.set(xscale="log", xlabel="step + 1", ylabel="index fraction")
    ax_index.grid(True, which="major", alpha=0.3)
    ax_index.legend(fontsize=8)
    return fig
