"""Figures of the NTK analysis; each returns a matplotlib Figure and never saves or shows it."""

from __future__ import annotations

import numpy as np
from matplotlib import colormaps
from matplotlib.figure import Figure  # figures made without pyplot: none stays open in pyplot's registry

from analyzer.analyses.ntk.result import OBSERVED_ONLY  

FREQ_COLORS = ("#1b9e77", "#d95f02", "#7570b3", "#e7298a", "#66a61e", "#e6ab02", "#a6761d", "#1f78b4")


def spectrum_and_rates_figure(result, title: str = "") -> Figure:
    """Eigenvalue decay with each target frequency's peak index; rates per index; observed / predicted."""
    fig = Figure(figsize=(13, 3.8), layout="constrained")
    axes = fig.subplots(1, 3)
    index = np.arange(1, len(result.eigenvalues) + 1)
    positive = result.eigenvalues > 0
    axes[0].loglog(index[positive], result.eigenvalues[positive], color="#222222", lw=1.2)
    for i, row in enumerate(result.loadings.itertuples()):
        peak = int(row.peak_index)
        axes[0].plot(peak + 1, result.eigenvalues[peak], "o", color=FREQ_COLORS[i % len(FREQ_COLORS)],
                     label=f"{row.freq_hz:g} Hz loads most on index {peak}")
    axes[0].set(xlabel="eigen-index + 1", ylabel="eigenvalue of K", title="NTK eigenvalues")
    if len(result.loadings):
        axes[0].legend(fontsize=7)
    table = result.table
    rows = np.arange(1, len(table) + 1)
    observed = table["observed_rate"].to_numpy()
    axes[1].loglog(rows, np.where(observed > 0, observed, np.nan), ".", color="#1f78b4", ms=4, label="observed")
    if result.rates != OBSERVED_ONLY:
        axes[1].loglog(rows, table["predicted_rate"], "-", color="#e31a1c", lw=1, label="predicted (linearised GD)")
    axes[1].set(xlabel="eigen-index + 1", ylabel="decay rate per step",
                title="Residual decay rate" + (" (observed only: no closed form)" if result.rates == OBSERVED_ONLY
                                               else ""))
    axes[1].legend(fontsize=7)
    if result.rates == OBSERVED_ONLY:
        axes[2].text(0.5, 0.5, f"{result.optimizer}: no predicted rates", ha="center", va="center",
                     transform=axes[2].transAxes)
        axes[2].set_axis_off()
    else:
        _ratio_panel(axes[2], result)
    fig.suptitle(title or "Empirical NTK", fontsize=10)
    return fig


def _ratio_panel(ax, result) -> None:
    """observed / predicted rate against the eigenvalue, for the directions GD is predicted to move within the run
    (predicted rate x steps >= 0.01); negative ratios (the component grew) drawn as open markers at |ratio|."""
    table = result.table
    span = float(result.projection_steps[-1] - result.projection_steps[0]) if len(result.projection_steps) else 0.0
    moving = (table["predicted_rate"] * max(span, 1.0) >= 0.01) & table["ratio"].notna()
    shown = table[moving]
    grew = shown["ratio"] < 0
    ax.loglog(shown["eigenvalue"][~grew], shown["ratio"][~grew], "o", color="#6a3d9a", ms=4, label="decayed")
    ax.loglog(shown["eigenvalue"][grew], -shown["ratio"][grew], "o", mfc="none", color="#6a3d9a", ms=4,
              label="grew (|ratio| shown)")
    ax.axhline(1.0, color="#888888", lw=0.8, ls="--")
    magnitudes = shown["ratio"].abs()
    magnitudes = magnitudes[magnitudes > 0]
    low, high = (magnitudes.min(), magnitudes.max()) if len(magnitudes) else (1.0, 1.0)
    ax.set_ylim(min(low / 1.5, 0.1), max(high * 1.5, 10.0))  # at least a decade each side: an exact run is a line
    ax.set(xlabel="eigenvalue of K", ylabel="observed / predicted rate",
           title="Damped deviations (1 = linearised GD)")
    ax.legend(fontsize=7)


def drift_and_residuals_figure(result, directions: int = 5, title: str = "") -> Figure:
    """Kernel drift along training, and |v_i^T r_t| of the leading directions against the GD prediction."""
    fig = Figure(figsize=(11, 3.8), layout="constrained")
    axes = fig.subplots(1, 2)
    if len(result.drift):
        axes[0].semilogx(result.drift["step"] + 1, result.drift["relative_change"], color="#222222", lw=1)
    axes[0].set(xlabel="step + 1", ylabel="||K_t - K||_F / ||K||_F", title=f"Kernel drift ({result.drift_method})")
    steps = result.projection_steps
    elapsed = steps - steps[0]
    for i in range(min(directions, result.projections.shape[1])):
        color = colormaps["viridis"](i / max(directions - 1, 1))
        axes[1].loglog(steps + 1, result.projections[:, i], color=color, lw=1.2, label=f"index {i}")
        if result.rates != OBSERVED_ONLY:
            predicted = result.projections[0, i] * np.exp(-result.table["predicted_rate"].iloc[i] * elapsed)
            axes[1].loglog(steps + 1, predicted, color=color, lw=0.8, ls="--")
    shown = result.projections[:, :directions]
    if shown.size and np.nanmax(shown) > 0:
        floor = np.nanmin(np.where(shown > 0, shown, np.nan))
        axes[1].set_ylim(max(floor / 10, np.nanmax(shown) * 1e-12), np.nanmax(shown) * 2)
    axes[1].set(xlabel="step + 1", ylabel="|v_i^T r_t|",
                title="Residual along eigenvectors" + ("" if result.rates == OBSERVED_ONLY else " (dashed: predicted)"))
    axes[1].legend(fontsize=7)
    fig.suptitle(title or "NTK dynamics", fontsize=10)
    return fig
