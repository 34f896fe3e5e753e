"""Figures of the theory claims (Cao et al., Lucey and Bowman & Montúfar on a width sweep); each returns a Figure
and never saves it."""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib import colormaps
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from analyzer.sections.figures import plt


def width_colors(widths) -> dict:
    ordered = sorted({int(w) for w in widths})
    return {w: colormaps["viridis"](i / max(len(ordered) - 1, 1) * 0.9) for i, w in enumerate(ordered)}


def _grid(n_rows: int, n_cols: int, width: float = 3.1, height: float = 2.9):
    fig, axes = plt.subplots(n_rows, n_cols, figsize=(width * n_cols + 0.8, height * n_rows + 0.6),
                             layout="constrained", squeeze=False)
    return fig, axes


def drift_figure(runs: pd.DataFrame, tests: dict, curves: dict) -> Figure:
    """Left: end drift against width per sweep (dots: seeds; line: the fitted slope; dashed: slope -1/2 through the
    same centre). Right: the drift along training, per network, coloured by width."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(11.5, 4.0), layout="constrained")
    markers = dict(zip(sorted(runs.series.unique()), "os^Dv"))
    for i, (series, part) in enumerate(runs.groupby("series")):
        color = f"C{i}"
        left.plot(part.width, part.value, markers[series], color=color, alpha=0.5, ms=4, label=series)
        test = tests.get(series)
        if test is not None and np.isfinite(test["slope"]):
            x = np.log(part.width.to_numpy(np.float64))
            y = np.log(part.value.to_numpy(np.float64))
            keep = np.isfinite(y)
            cx, cy = x[keep].mean(), y[keep].mean()
            span = np.linspace(x.min(), x.max(), 20)
            left.plot(np.exp(span), np.exp(cy + test["slope"] * (span - cx)), "-", color=color, lw=1.5,
                      label=f"fit: slope {test['slope']:+.2f}")
            left.plot(np.exp(span), np.exp(cy - 0.5 * (span - cx)), "--", color=color, lw=1, alpha=0.7,
                      label="slope -1/2 (premise)")
    left.set(xscale="log", yscale="log", xlabel="width m", ylabel="||K_T - K_0||_F / ||K_0||_F at the end",
             title="Kernel drift at the end of training")
    left.legend(fontsize=7)
    colors = width_colors(runs.width)
    styles = dict(zip(sorted(runs.series.unique()), ["-", "--", ":", "-."]))
    for series, width, steps, drift in sorted(curves.values(), key=lambda c: (c[1], c[0])):
        moved = np.asarray(steps) > 0  # K_0 against itself: drift 0, off a log axis
        right.plot(np.asarray(steps)[moved] + 1, np.asarray(drift)[moved], styles[series], color=colors[width], lw=0.8,
                   alpha=0.6)
    handles = [Line2D([], [], color=colors[w], lw=1.5, label=f"m = {w}") for w in sorted(colors)]
    handles += [Line2D([], [], color="0.3", ls=style, lw=1, label=series) for series, style in styles.items()]
    right.set(xscale="log", yscale="log", xlabel="step + 1", ylabel="relative drift",
              title="Kernel drift along training, every network")
    right.legend(handles=handles, fontsize=7)
    return fig


def _by_width(points: dict) -> list:
    """(series, role, evidence) sorted by series, twins first (drawn under the networks), then width (legends list
    the widths in order)."""
    return sorted(points.values(), key=lambda p: (p[0], p[1] != "twin", p[2].kernel.facts.width))


def rate_figure(points: dict) -> Figure:
    """Per sweep (rows) and width (columns): observed rate per moving eigendirection of K_0 against its eigenvalue,
    networks (dots) and twins (crosses), with linearised GD's prediction (line)."""
    series = sorted({s for s, _, _ in points.values()})
    widths = sorted({e.kernel.facts.width for _, _, e in points.values()})
    fig, axes = _grid(len(series), len(widths))
    for name, role, evidence in _by_width(points):
        kernel = evidence.kernel
        ax = axes[series.index(name)][widths.index(kernel.facts.width)]
        moving = kernel.moving
        if role == "twin":
            ax.plot(kernel.eigenvalues[moving], kernel.observed_rate[moving], "x", color="#e31a1c", ms=3, alpha=0.5)
        else:
            shown = moving & (kernel.observed_rate > 0)
            ax.plot(kernel.eigenvalues[shown], kernel.observed_rate[shown], "o", color="#1f78b4", ms=2.5, alpha=0.35)
        order = np.argsort(kernel.eigenvalues[moving])
        ax.plot(kernel.eigenvalues[moving][order], kernel.predicted_rate[moving][order], "-", color="0.2", lw=0.6)
    for i, name in enumerate(series):
        for j, width in enumerate(widths):
            ax = axes[i][j]
            ax.set(xscale="log", yscale="log", title=f"{name}, m = {width}")
            ax.title.set_fontsize(8)
            if i == len(series) - 1:
                ax.set_xlabel("eigenvalue of K_0")
            if j == 0:
                ax.set_ylabel("rate per step")
    fig.suptitle("Observed rate per eigendirection against the eigenvalue (blue: networks; red x: twins; line: "
                 "linearised GD)", fontsize=10)
    return fig


def ratio_figure(points: dict) -> Figure:
    """Per sweep: observed / predicted rate against the eigenvalue of K_0, networks coloured by width (open: the
    component grew, |ratio| shown); twins in red."""
    series = sorted({s for s, _, _ in points.values()})
    colors = width_colors(e.kernel.facts.width for _, _, e in points.values())
    fig, axes = _grid(1, len(series), width=5.2, height=3.8)
    labelled = set()
    for name, role, evidence in _by_width(points):
        kernel = evidence.kernel
        ax = axes[0][series.index(name)]
        moving = kernel.moving
        ratio, eigen = kernel.ratio[moving], kernel.eigenvalues[moving]
        if role == "twin":
            ax.plot(eigen, ratio, "x", color="#e31a1c", ms=3, alpha=0.5,
                    label="twins" if (name, "twin") not in labelled else None)
            labelled.add((name, "twin"))
            continue
        width = kernel.facts.width
        key = (name, width)
        ax.plot(eigen[ratio > 0], ratio[ratio > 0], "o", color=colors[width], ms=2.5, alpha=0.35,
                label=f"m = {width}" if key not in labelled else None)
        ax.plot(eigen[ratio <= 0], -ratio[ratio <= 0], "o", mfc="none", color=colors[width], ms=3, alpha=0.5)
        labelled.add(key)
    for ax, name in zip(axes[0], series):
        ax.axhline(1.0, color="0.5", lw=0.8, ls="--")
        ax.set(xscale="log", yscale="log", xlabel="eigenvalue of K_0", ylabel="observed / predicted rate", title=name)
        ax.legend(fontsize=7)
    fig.suptitle("Ratio of observed to linearised-GD rate per moving eigendirection (open: the component grew)",
                 fontsize=10)
    return fig


def twin_loss_figure(runs) -> Figure:
    """Per sweep: the median training loss over seeds of the networks (solid) and their twins (dashed) per width."""
    series = sorted({s for s, _, _ in runs})
    colors = width_colors(r.config["model"]["width"] for _, r, _ in runs)
    fig, axes = _grid(1, len(series), width=5.2, height=3.8)
    curves: dict = {}
    for name, run, _ in runs:
        curves.setdefault((name, run.config["model"]["width"], run.role), []).append((run.loss_steps, run.loss))
    for (name, width, role), members in sorted(curves.items()):
        ax = axes[0][series.index(name)]
        steps = members[0][0]
        if not all(len(s) == len(steps) and np.array_equal(s, steps) for s, _ in members):
            continue  # runs of different lengths: no common median
        median = np.median(np.vstack([loss for _, loss in members]), axis=0)
        ax.plot(np.asarray(steps) + 1, median, "-" if role == "network" else "--", color=colors[width], lw=1.4,
                label=f"m = {width} {'network' if role == 'network' else 'twin'}")
    for ax, name in zip(axes[0], series):
        ax.set(xscale="log", yscale="log", xlabel="step + 1", ylabel="training loss (median over seeds)", title=name)
        ax.legend(fontsize=6, ncols=2)
    fig.suptitle("Networks (solid) and their linearised twins (dashed)", fontsize=10)
    return fig


def damped_figure(points: dict) -> Figure:
    """Per sweep: |log(observed / predicted rate)| against the eigenvalue of K_0 for the underparameterised
    networks, coloured by width; a component that grew is drawn at the top."""
    series = sorted({s for s, _ in points.values()})
    colors = width_colors(e.facts.width for _, e in points.values())
    fig, axes = _grid(1, len(series), width=5.2, height=3.8)
    labelled = set()
    for name, kernel in sorted(points.values(), key=lambda p: (p[0], p[1].facts.width)):
        ax = axes[0][series.index(name)]
        deviation = kernel.deviations()
        eigen = kernel.eigenvalues[kernel.moving]
        finite = np.isfinite(deviation)
        top = np.nanmax(deviation[finite]) * 2 if finite.any() else 1.0
        width = kernel.facts.width
        ax.plot(eigen[finite], np.maximum(deviation[finite], 1e-6), "o", color=colors[width], ms=3, alpha=0.4,
                label=f"m = {width}" if (name, width) not in labelled else None)
        ax.plot(eigen[~finite], np.full((~finite).sum(), top), "^", mfc="none", color=colors[width], ms=4, alpha=0.5)
        labelled.add((name, width))
    for ax, name in zip(axes[0], series):
        ax.set(xscale="log", yscale="log", xlabel="eigenvalue of K_0", ylabel="|log(observed / predicted)|",
               title=name)
        ax.legend(fontsize=7)
    fig.suptitle("Damped deviations: underparameterised networks (triangles: the component grew)", fontsize=10)
    return fig


def mask_figure(curves: dict) -> Figure:
    """Per sweep: the bandwidth against q, median over seeds per width, observed (solid) and predicted by the mask
    from the measured singular values (dashed), networks only; grey: sqrt(q) through the widest run's start."""
    series = sorted({s for s, role, _ in curves.values() if role == "network"})
    colors = width_colors(e.width for _, _, e in curves.values())
    fig, axes = _grid(1, max(len(series), 1), width=5.2, height=3.8)
    grouped: dict = {}
    for name, role, view in curves.values():
        if role == "network":
            grouped.setdefault((name, view.width), []).append(view)
    for (name, width), views in sorted(grouped.items()):
        ax = axes[0][series.index(name)]
        q = views[0].iterations
        if not all(np.array_equal(v.iterations, q) for v in views):
            continue
        for attribute, style in (("observed_counts", "-"), ("predicted_counts", "--")):
            median = np.median(np.vstack([getattr(v, attribute) for v in views]), axis=0)
            ax.plot(q[q > 0], median[q > 0], style, color=colors[width], lw=1.3,
                    label=f"m = {width}" if style == "-" else None)
    for ax, name in zip(axes[0], series):
        low, high = ax.get_xlim()
        q = np.logspace(np.log10(max(low, 1.0)), np.log10(max(high, 2.0)), 20)
        ax.plot(q, np.sqrt(q / q[0]), ":", color="0.5", lw=1, label="sqrt(q) (Lucey)")
        ax.set(xscale="log", yscale="log", xlabel="q (steps)", ylabel="bandwidth (directions fitted > 1/2)",
               title=name)
        ax.legend(fontsize=7)
    fig.suptitle("GD mask bandwidth: observed (solid) and the mask's prediction (dashed), median over seeds",
                 fontsize=10)
    return fig

