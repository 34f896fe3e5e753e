"""Figures of the activations analysis (returned, never saved): spectra as in Lucey's fig. 3, components as in figs. 4-5."""

from __future__ import annotations

import numpy as np

from analyzer.analyses.activations.compute import MONOTONIC
from analyzer.analyses.activations.result import ActivationsResult

COMPONENT_PANELS = ("heaviside", "tanh", "relu", "relu2")  # Lucey's figs. 4-5 (a-d)


def singular_values_figure(result: ActivationsResult, title: str = ""):
    """Normalised singular values s_k / s_0 against k (log scale): (a) monotonic and ReLU-like, (b) sinc, Gaussian."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), sharey=True)
    groups = ([n for n in result.activations if n not in ("sinc", "gaussian")], ["sinc", "gaussian"])
    for ax, names, label in zip(axes, groups, ("(a) monotonic and ReLU-like", "(b) non-monotonic")):
        for name in names:
            spectrum = result.singular_values[name]
            style = "-" if name in MONOTONIC else "--"
            ax.semilogy(np.arange(len(spectrum)), np.maximum(spectrum, 1e-17), style, lw=1.4, label=name)
        ax.axvline(result.sigma, color="0.5", lw=0.8, ls=":", label=f"k = sigma = {result.sigma:g}")
        ax.set_xlim(0, min(len(result.x), max(100, 4 * result.sigma)))
        ax.set_ylim(1e-8, 2)
        ax.set_xlabel("k (0-based index of the singular value)")
        ax.set_title(label, fontsize=10)
        ax.legend(fontsize=8)
    axes[0].set_ylabel("s_k / s_0")
    fig.suptitle(title or f"Spectra of A = eta(sigma (x - b^T)), sigma = {result.sigma:g}, N = {len(result.x)}, "
                          f"M = {result.n_biases}",
                 fontsize=11)
    fig.tight_layout()
    return fig


def components_figure(result: ActivationsResult, title: str = ""):
    """Principal components u_k(x) for k in result.component_indices, one panel per activation of COMPONENT_PANELS."""
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, len(COMPONENT_PANELS), figsize=(14, 3.4), sharey=True)
    for ax, name, letter in zip(axes, COMPONENT_PANELS, "abcd"):
        vectors = result.components[result.activations.index(name)]
        for k, vector in zip(result.component_indices, vectors):
            ax.plot(result.x, vector * np.sqrt(len(result.x)), lw=1.2, label=f"k = {k}")
        ax.set_title(f"({letter}) {name}", fontsize=10)
        ax.set_xlabel("x")
    axes[0].set_ylabel("u_k(x) * sqrt(N)")
    axes[-1].legend(fontsize=8)
    fig.suptitle(title or f"Principal components of A, sigma = {result.sigma:g}, N = {len(result.x)}, "
                          f"M = {result.n_biases}", fontsize=11)
    fig.tight_layout()
    return fig
