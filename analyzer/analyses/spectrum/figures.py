"""The spectrum section's figures: the learned-fraction and full-spectrum heatmaps, the relative-error curves; per
target frequency on sine runs, per spherical-harmonic degree on harmonics runs (the words follow the mode)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from analyzer.report.figures import freq_color, heatmap_axes, plt, shade


def spectral_heatmap_figure(spectrum, full, title: str = "") -> Figure:
    """Rahaman-style heatmap: learned fraction of each target frequency over training, plus the full spectrum.

    Args:
        spectrum: a SpectrumResult; full: the AmplitudeSpectrum of the same prediction steps (up to any max_hz).
    """
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 5.6), layout="constrained",
                                      gridspec_kw={"height_ratios": [1, 1.4]})
    heatmap_axes(top, spectrum)
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
    fourier = spectrum.mode_name == "freq_hz"
    bottom.set(xscale="log", xlabel="step + 1", ylabel="frequency (Hz)" if fourier else "degree",
               title="Full amplitude spectrum of the prediction (dashed: target frequencies)" if fourier else
               "Norm of the prediction on each degree ||P_l f|| (dashed: target degrees)")
    fig.colorbar(mesh, ax=bottom, label="log10 amplitude" if fourier else "log10 norm", shrink=0.9)
    return fig


def heatmap_max_hz(spectrum) -> float:
    """Highest frequency the full-spectrum panel shows: twice the highest target frequency plus 5 Hz (every degree
    of the basis on a harmonics run)."""
    if spectrum.mode_name != "freq_hz":
        return float(spectrum.freqs_hz[-1])
    return min(float(spectrum.freqs_hz[-1]), 2.0 * float(np.max(spectrum.target_freqs_hz)) + 5)


def rel_error_figure(spectrum, plateau_intervals=(), title: str = "") -> Figure:
    """Relative error per target frequency (or degree); learned steps (first below the threshold, as the headline
    gives them) as filled circles, where a relapsing mode stays below for good as open circles, jumps as triangles."""
    fig, ax = plt.subplots(figsize=(7.5, 3.8), layout="constrained")
    shade(ax, plateau_intervals)
    steps = np.asarray(spectrum.steps, dtype=float) + 1
    freqs, mode = spectrum.target_freqs_hz, spectrum.mode_name
    for k, freq in enumerate(freqs):
        color = freq_color(freq, freqs)
        curve = np.asarray(spectrum.rel_error[:, k], dtype=float)
        ax.plot(steps, curve, color=color, lw=1.0, label=spectrum.mode_text(freq))
        for step in spectrum.jumps.loc[spectrum.jumps[mode] == freq, "step"]:
            ax.plot(step + 1, np.interp(step + 1, steps, curve), marker="v", color=color, ms=7, mec="black", mew=0.5)
        row = spectrum.learning.loc[spectrum.learning[mode] == freq]
        first = float(row["first_below_step"].iloc[0]) if "first_below_step" in row else np.nan
        for step, face in ((first, color), (float(row["learned_step"].iloc[0]), "none")):
            if np.isfinite(step) and (face != "none" or step != first):
                ax.plot(step + 1, np.interp(step + 1, steps, curve), marker="o", color=color, mfc=face, ms=7,
                        mec="black" if face != "none" else color, mew=0.5 if face != "none" else 1.2)
    ax.axhline(spectrum.threshold, color="black", lw=0.8, ls="--", label=f"learned threshold {spectrum.threshold:g}")
    ax.plot([], [], "ko", ms=6, label="learned (first below)")
    ax.plot([], [], "o", color="black", mfc="none", ms=6, label="below for good")
    ax.plot([], [], "kv", ms=6, label="jump step")
    ylabel = "|h_k - y_k| / |y_k|" if mode == "freq_hz" else "||P_l (f - y)|| / ||P_l y||"
    ax.set(xscale="log", yscale="log", xlabel="step + 1", ylabel=ylabel,
           title=title or "Frequency-principle error per target frequency")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7, ncol=2, loc="lower left")
    return fig
