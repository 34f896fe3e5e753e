"""Figures of a study across seeds; like the report's figures they return Figures and never save or show them."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from analyzer.sections.figures import RUN_PALETTE, freq_color, plt

BAND_POINTS = 120  # common log-step grid of the median loss band


def group_color(group: str, groups: list[str]) -> str:
    return RUN_PALETTE[sorted(groups).index(group) % len(RUN_PALETTE)]


HARMONICS_GROUP = " (harmonics)"  # the suffix of a harmonics run's group (analyzer.study.collect.RunSummary.preset)


def mode_title(mode: float, groups) -> str:
    """'3 Hz', 'degree 3' when every group is a harmonics group, '3 (Hz, or degree in harmonics groups)' when mixed."""
    harmonic = [str(g).endswith(HARMONICS_GROUP) for g in groups]
    if all(harmonic):
        return f"degree {mode:g}"
    return f"{mode:g} Hz" if not any(harmonic) else f"{mode:g} (Hz; degree in harmonics groups)"


def learned_steps_figure(learned: pd.DataFrame) -> Figure:
    """Learned step per frequency (one panel each) per group across seeds: box plot plus every run.

    Args:
        learned: rows group, mode, value (learned step, censored at the run length), censored (bool).
    """
    freqs = sorted(learned["mode"].unique())
    groups = sorted(learned.group.unique())
    fig, axes = plt.subplots(1, len(freqs), figsize=(2.3 * len(freqs) + 1.5, 3.9), layout="constrained",
                             sharey=True, squeeze=False)
    rng = np.random.default_rng(0)  # jitter only; fixed so the figure does not change between builds
    for ax, freq in zip(axes[0], freqs):
        part = learned[learned["mode"] == freq]
        data = [part.loc[part.group == g, "value"].to_numpy(np.float64) + 1 for g in groups]
        ax.boxplot(data, positions=np.arange(len(groups)), widths=0.55, showfliers=False,
                   medianprops={"color": freq_color(freq, freqs), "lw": 2})
        for i, group in enumerate(groups):
            rows = part[part.group == group]
            x = i + rng.uniform(-0.18, 0.18, len(rows))
            done = ~rows.censored.to_numpy(bool)
            ax.plot(x[done], rows.value.to_numpy(np.float64)[done] + 1, "o", ms=4, alpha=0.75,
                    color=group_color(group, groups))
            ax.plot(x[~done], rows.value.to_numpy(np.float64)[~done] + 1, "^", ms=6, mfc="none",
                    color=group_color(group, groups), label="not learned (at run end)" if i == 0 else None)
        ax.set_xticks(np.arange(len(groups)), groups, rotation=35, ha="right", fontsize=8)
        ax.set_title(mode_title(freq, groups), color=freq_color(freq, freqs))
        ax.set_yscale("log")
        ax.grid(True, axis="y", which="major", alpha=0.3)
    axes[0][0].set_ylabel("learned step + 1")
    handles = [h for ax in axes[0] for h in ax.get_legend_handles_labels()[0]]
    if handles:
        fig.legend(handles[:1], ["not learned by the end of the run"], loc="outside lower center", fontsize=8)
    fig.suptitle("Learned step per frequency across seeds (box: quartiles; dots: runs)")
    return fig


def loss_band_figure(curves: dict[str, list[tuple[np.ndarray, np.ndarray]]]) -> Figure:
    """Every run's loss (thin) with each group's median and interquartile band across seeds, log-log."""
    groups = sorted(curves)
    fig, ax = plt.subplots(figsize=(7.5, 4.2), layout="constrained")
    last = max(int(np.max(steps)) for runs in curves.values() for steps, _ in runs)
    grid = np.unique(np.round(np.logspace(0, np.log10(last + 1), BAND_POINTS))) - 1
    for group in groups:
        color = group_color(group, groups)
        stacked = np.vstack([_on_grid(steps, loss, grid) for steps, loss in curves[group]])
        for steps, loss in curves[group]:
            ax.plot(np.asarray(steps) + 1, loss, color=color, lw=0.5, alpha=0.25)
        enough = np.sum(np.isfinite(stacked), axis=0) * 2 >= len(stacked)  # median only where most runs reach
        with warnings.catch_warnings():  # a grid point reached by one run of two has a one-value percentile
            warnings.simplefilter("ignore", RuntimeWarning)
            low, median, high = (np.nanpercentile(stacked[:, enough], q, axis=0) for q in (25, 50, 75))
        ax.fill_between(grid[enough] + 1, 10 ** low, 10 ** high, color=color, alpha=0.25, lw=0)
        ax.plot(grid[enough] + 1, 10 ** median, color=color, lw=1.8, label=f"{group} (median of {len(stacked)})")
    ax.set(xscale="log", yscale="log", xlabel="step + 1", ylabel="loss",
           title="Training loss across seeds: median and interquartile band per group")
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    return fig


def _on_grid(steps, loss, grid) -> np.ndarray:
    """log10 loss interpolated in log-step at the grid points the run covers; NaN beyond its ends."""
    steps, loss = np.asarray(steps, np.float64), np.asarray(loss, np.float64)
    keep = np.isfinite(loss) & (loss > 0)
    if keep.sum() < 2:
        return np.full(len(grid), np.nan)
    u, log_loss = np.log10(steps[keep] + 1), np.log10(loss[keep])
    values = np.interp(np.log10(grid + 1), u, log_loss)
    return np.where((grid >= steps[keep][0]) & (grid <= steps[keep][-1]), values, np.nan)


def noise_floor_figure(floor: pd.DataFrame) -> Figure:
    """Per group and frequency: SD of the learned step across rounding replicates (open) vs across seeds (filled)."""
    groups = sorted(floor.group.unique())
    freqs = sorted(floor["mode"].unique())
    fig, ax = plt.subplots(figsize=(7.5, 3.8), layout="constrained")
    width = 0.8 / max(len(groups), 1)
    for i, group in enumerate(groups):
        part = floor[floor.group == group].set_index("mode").reindex(freqs)
        x = np.arange(len(freqs)) - 0.4 + width * (i + 0.5)
        color = group_color(group, groups)
        ax.plot(x, part.sd_seeds.to_numpy(np.float64) + 1, "o", color=color, ms=7, label=f"{group}: across seeds")
        ax.plot(x, part.sd_rounding.to_numpy(np.float64) + 1, "o", color=color, mfc="none", ms=7, mew=1.5,
                label=f"{group}: float-rounding replicates")
    ax.set_xticks(np.arange(len(freqs)), [f"{f:g} Hz" for f in freqs])
    ax.set(yscale="log", ylabel="SD of the learned step + 1 (steps)",
           title="Noise floor: spread from float rounding vs spread across seeds")
    ax.grid(True, axis="y", which="major", alpha=0.3)
    ax.legend(fontsize=7, ncols=2)
    return fig
