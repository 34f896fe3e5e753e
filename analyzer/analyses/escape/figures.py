"""The escape section's figures: overlaps of escape and control displacements, and the exact eigenvalue density;
the study's escape time against curvature."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from analyzer.sections.figures import plt

KINDS = (("overlap_negative", "negative eigenspace", "#e31a1c"), ("overlap_top", "top eigenspace (same dim.)",
                                                                   "#1f78b4"),
         ("overlap_random", "random subspace of the range (expected)", "#999999"))


def overlap_figure(table, title: str = "") -> Figure:
    """Per escape: the fraction of the escape and of the control displacement in each eigenspace (left), and the
    overlaps in units of a random direction's, n_negative / rank (right: 1 is no preference)."""
    fig, (ax, ax_norm) = plt.subplots(1, 2, figsize=(11.0, 3.8), layout="constrained", width_ratios=(3, 2))
    x = np.arange(len(table))
    width = 0.13
    for k, (column, label, color) in enumerate(KINDS):
        ax.bar(x + (k - 2.5) * width, table[column], width, color=color, label=f"escape: {label}")
        ax.bar(x + (k + 0.5) * width, table[f"control_{column}"], width, color=color, alpha=0.4, hatch="//",
               label=f"control: {label}")
    for k, (column, label, color) in enumerate(KINDS[:2]):
        ax_norm.bar(x + (k - 1.5) * 0.2, table[f"{column}_norm"], 0.2, color=color, label=f"escape: {label}")
        ax_norm.bar(x + (k + 0.5) * 0.2, table[f"control_{column}_norm"], 0.2, color=color, alpha=0.4, hatch="//",
                    label=f"control: {label}")
    ax_norm.axhline(1.0, color="#999999", lw=1, ls="--", label="a random direction in the range")
    labels = [f"{int(r.plateau_step)}→{int(r.after_step)}\nctrl {_control_label(r)}" for r in table.itertuples()]
    ax.set_xticks(x, labels, fontsize=7)
    ax_norm.set_xticks(x, labels, fontsize=7)
    # head room above the bars for the legends
    ax.set(ylim=(0, 1.5), yticks=np.linspace(0, 1, 6), ylabel="fraction of ||d||²",
           xlabel="escape (steps) and its control", title="fraction of the displacement")
    tallest = np.nanmax(table[["overlap_negative_norm", "overlap_top_norm", "control_overlap_negative_norm",
                               "control_overlap_top_norm"]].to_numpy(float), initial=1.0)
    ax_norm.set(ylim=(0, 1.7 * tallest), ylabel="overlap / (n_negative / rank)",
                xlabel="escape (steps) and its control", title="normalised: overlap in units of chance")
    ax.legend(fontsize=6.5, ncol=2, loc="upper left")
    ax_norm.legend(fontsize=6.5, ncol=2, loc="upper left")
    for axis in (ax, ax_norm):
        axis.grid(True, axis="y", alpha=0.3)
    fig.suptitle(title or "Where the displacement lies among the Hessian's eigenvectors", fontsize=10)
    return fig


def _control_label(row) -> str:
    if row.control_start < 0:
        return "none"
    return f"{int(row.control_start)}→{int(row.control_end)}\n({row.control_kind})"


def density_figure(steps: np.ndarray, eigenvalues: np.ndarray, plateau_steps, title: str = "") -> Figure:
    """Histogram of every eigenvalue / max |eigenvalue| (the exact spectrum, not an SLQ estimate): linear axis
    (non-zero eigenvalues) and symmetric-log axis (all of them; the zeros of the null space in the middle bin)."""
    fig, (ax_lin, ax_log) = plt.subplots(1, 2, figsize=(10.0, 3.8), layout="constrained")
    colors = plt.get_cmap("viridis")(np.linspace(0, 0.85, max(len(steps), 1)))
    linear_bins, log_bins = np.linspace(-1, 1, 81), _symlog_bins(LINTHRESH)
    for values, step, color in zip(eigenvalues, steps, colors):
        scale = float(np.max(np.abs(values))) or 1.0
        relative = values / scale
        label = f"step {int(step)} ({'plateau' if step in set(plateau_steps) else 'control candidate'})"
        ax_lin.hist(relative[values != 0], bins=linear_bins, histtype="step", color=color, label=label, lw=1.3)
        ax_log.hist(np.clip(relative, -1, 1), bins=log_bins, histtype="step", color=color, label=label, lw=1.3)
    ax_lin.set(xlabel="eigenvalue / max |eigenvalue| (non-zero ones)", ylabel="count", yscale="log",
               title="linear axis")
    ax_log.set_xscale("symlog", linthresh=LINTHRESH)
    ticks = [-1, -1e-2, -1e-4, -1e-6, 0, 1e-6, 1e-4, 1e-2, 1]
    ax_log.set_xticks(ticks, ["-1", "-1e-2", "-1e-4", "-1e-6", "0", "1e-6", "1e-4", "1e-2", "1"], fontsize=8)
    ax_log.set(xlabel="eigenvalue / max |eigenvalue| (symlog; |x| < 1e-8: middle bin)", ylabel="count",
               yscale="log", title="symmetric-log axis, all eigenvalues")
    ax_lin.legend(fontsize=7)
    fig.suptitle(title or "Exact Hessian eigenvalue density", fontsize=10)
    return fig


LINTHRESH = 1e-8


def _symlog_bins(linthresh: float) -> np.ndarray:
    outer = np.logspace(np.log10(linthresh), 0.0001, 33)
    return np.concatenate([-outer[::-1], outer])


def escape_time_figure(points, fit: dict) -> Figure:
    """Plateau duration against 1 / (lr |lambda_min|) for gradient-descent runs, log-log, with the fitted line."""
    fig, ax = plt.subplots(figsize=(5.0, 4.0), layout="constrained")
    ax.loglog(points.x, points.duration, "o", color="#33a02c", ms=5, label="escaped plateau")
    grid = np.logspace(np.log10(points.x.min()), np.log10(points.x.max()), 20)
    ax.loglog(grid, 10 ** fit["intercept"] * grid ** fit["slope"], "-", color="k",
              label=f"fit: slope {fit['slope']:.2f}, R² {fit['r_squared']:.2f}")
    ax.loglog(grid, fit["implied_log_inv_delta_median"] * grid, "--", color="0.5",
              label=f"slope 1 x median log(1/δ) = {fit['implied_log_inv_delta_median']:.2g}")
    ax.set(xlabel="1 / (lr |lambda_min|)  (steps)", ylabel="plateau duration (steps)",
           title="Escape time vs curvature (GD runs)")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=7)
    return fig
