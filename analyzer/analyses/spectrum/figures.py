"""The spectrum's figures: the learned-fraction and full-spectrum heatmaps (one run, or several side by side), the
relative-error curves; per target frequency on sine runs, per spherical-harmonic degree on harmonics runs (the
words follow the mode)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from analyzer.sections.figures import freq_color, plt, shade


def spectral_heatmap_figure(spectrum, full, title: str = "") -> Figure:
    """Rahaman-style heatmap: learned fraction of each target frequency over training, plus the full spectrum.

    Args:
        spectrum: a SpectrumResult; full: the AmplitudeSpectrum of the same prediction steps (up to any max_hz).
    """
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.5, 5.6), layout="constrained",
                                      gridspec_kw={"height_ratios": [1, 1.4]})
    heatmap_axes(top, spectrum)
    top.set_title(title or "Spectral dynamics: amplitude of the prediction relative to the target")
    keep = full.modes <= heatmap_max_hz(spectrum)
    steps = np.asarray(full.steps, dtype=float) + 1
    cells_x = np.concatenate([[steps[0] * 0.9], np.sqrt(steps[:-1] * steps[1:]), [steps[-1] * 1.1]])
    freqs = full.modes[keep]
    cells_y = np.concatenate([[freqs[0] - 0.5], (freqs[:-1] + freqs[1:]) / 2, [freqs[-1] + 0.5]])
    amplitude = np.log10(np.maximum(full.amplitude[:, keep].astype(np.float64), 1e-4)).T
    mesh = bottom.pcolormesh(cells_x, cells_y, amplitude, cmap="viridis", vmin=-4, vmax=0.1, shading="flat",
                             rasterized=True)
    for freq in spectrum.target_modes:
        bottom.axhline(freq, color=freq_color(freq, spectrum.target_modes), lw=0.6, ls="--", alpha=0.8)
    fourier = spectrum.mode_name == "freq_hz"
    found = spectrum.targets_found
    bottom.set(xscale="log", xlabel="step + 1", ylabel="frequency (Hz)" if fourier else "degree")
    bottom.set_title(("Full amplitude spectrum of the prediction (dashed: target frequencies)" if fourier else
                      "Norm of the prediction on each degree ||P_l f|| (dashed: target degrees)")
                     + (f"\n{len(spectrum.target_modes)} targets, {found}" if found else ""), fontsize=9)
    fig.colorbar(mesh, ax=bottom, label="log10 amplitude" if fourier else "log10 norm", shrink=0.9)
    return fig


def heatmap_max_hz(spectrum) -> float:
    """Highest frequency the full-spectrum panel shows: twice the highest target frequency plus 5 Hz (every degree
    of the basis on a harmonics run)."""
    if spectrum.mode_name != "freq_hz":
        return float(spectrum.modes[-1])
    return min(float(spectrum.modes[-1]), 2.0 * float(np.max(spectrum.target_modes)) + 5)


def rel_error_figure(spectrum, plateau_intervals=(), title: str = "") -> Figure:
    """Relative error per target frequency (or degree); learned steps (first below the threshold, as the headline
    gives them) as filled circles, where a relapsing mode stays below for good as open circles, jumps as triangles."""
    fig, ax = plt.subplots(figsize=(7.5, 3.8), layout="constrained")
    shade(ax, plateau_intervals)
    steps = np.asarray(spectrum.steps, dtype=float) + 1
    freqs, mode = spectrum.target_modes, spectrum.mode_name
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


def _normalised_amplitude(spectrum) -> tuple[np.ndarray, np.ndarray]:
    """|h_k| / |y_k| at each target frequency, or ||P_l f|| / ||P_l y|| at each degree (rows), over prediction steps
    (columns)."""
    bins = [int(np.argmin(np.abs(spectrum.modes - f))) for f in spectrum.target_modes]
    target = spectrum.target_amplitude[bins]
    ratio = np.asarray(spectrum.pred_amplitude, dtype=np.float64) / np.where(target > 0, target, np.nan)
    return ratio.T, np.asarray(spectrum.target_modes, dtype=float)


def heatmap_axes(ax, spectrum, colorbar: bool = True):
    ratio, freqs = _normalised_amplitude(spectrum)
    steps = np.asarray(spectrum.steps, dtype=float) + 1
    cells_x = np.concatenate([[steps[0] * 0.9], np.sqrt(steps[:-1] * steps[1:]), [steps[-1] * 1.1]])
    cells_y = np.arange(len(freqs) + 1) - 0.5
    mesh = ax.pcolormesh(cells_x, cells_y, np.clip(ratio, 0, 1.2), cmap="magma", vmin=0, vmax=1.2,
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
