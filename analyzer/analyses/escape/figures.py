"""The escape section's figures: overlaps of escape and control displacements, and the exact eigenvalue density."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from analyzer.report.figures import plt

KINDS = (("overlap_negative", "negative eigenspace", "#e31a1c"), ("overlap_top", "top eigenspace (same dim.)",
                                                                   "#1f78b4"),
         ("overlap_random", "random subspace of the range (expected)", "#999999"))


def overlap_figure(table, title: str = "") -> Figure:
    """Per escape: the fraction of the escape and of the control displacement in each eigenspace."""
    fig, ax = plt.subplots(figsize=(7.5, 3.6), layout="constrained")
    n = len(table)
    x = np.arange(n)
    width = 0.13
    for k, (column, label, color) in enumerate(KINDS):
        ax.bar(x + (k - 2.5) * width, table[column], width, color=color, label=f"escape: {label}")
        ax.bar(x + (k + 0.5) * width, table[f"control_{column}"], width, color=color, alpha=0.4, hatch="//",
               label=f"control: {label}")
    ax.set_xticks(x, [f"{int(r.plateau_step)}→{int(r.after_step)}\nctrl {int(r.control_start)}→{int(r.control_end)}"
                      for r in table.itertuples()], fontsize=7)
    ax.set(ylim=(0, 1.05), ylabel="fraction of ||d||²", xlabel="escape (steps) and its control",
           title=title or "Where the displacement lies among the Hessian's eigenvectors")
    ax.legend(fontsize=6.5, ncol=2, loc="upper right")
    ax.grid(True, axis="y", alpha=0.3)
    return fig


def density_figure(steps: np.ndarray, spectra: np.ndarray, plateau_steps, title: str = "") -> Figure:
    """Histogram of every eigenvalue (the exact spectrum, not an SLQ estimate), linear and symmetric-log axes."""
    fig, (ax_lin, ax_log) = plt.subplots(1, 2, figsize=(9.0, 3.6), layout="constrained")
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.9, max(len(steps), 1)))
    for values, step, color in zip(spectra, steps, colors):
        role = "plateau" if step in set(plateau_steps) else "control"
        label = f"step {int(step)} ({role})"
        nonzero = values[values != 0]
        ax_lin.hist(nonzero, bins=60, histtype="step", color=color, label=label, density=False)
        scale = np.max(np.abs(values)) if len(values) else 1.0
        linthresh = max(1e-8 * scale, 1e-300)
        edges = _symlog_edges(scale, linthresh)
        ax_log.hist(values, bins=edges, histtype="step", color=color, label=label)
        ax_log.set_xscale("symlog", linthresh=linthresh)
    ax_lin.set(xlabel="eigenvalue (non-zero ones)", ylabel="count", yscale="log",
               title="exact Hessian spectrum (all eigenvalues, certified)")
    ax_log.set(xlabel="eigenvalue (symmetric log; zeros in the middle bin)", ylabel="count", yscale="log")
    ax_lin.legend(fontsize=7)
    fig.suptitle(title or "Eigenvalue density at the escape analysis' checkpoints", fontsize=10)
    return fig


def _symlog_edges(scale: float, linthresh: float) -> np.ndarray:
    outer = np.logspace(np.log10(linthresh), np.log10(scale * 1.01), 25)
    return np.concatenate([-outer[::-1], outer])
