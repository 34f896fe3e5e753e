"""Figures of the study's tests: a forest plot of the effects and the specification curve (Figures, never saved)."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from analyzer.sections.figures import plt

SIGNIFICANT, PLAIN = "#c0392b", "#34495e"


def forest_figure(rows: list, alpha: float = 0.05) -> Figure:
    """One line per jump test (TestRow in decades): effect (observed - null mean distance) with its 95 % CI."""
    rows = [r.as_json() | {"null": r.null} for r in rows if r.effect is not None and r.effect_unit == "decades"]
    fig, ax = plt.subplots(figsize=(8.5, 0.34 * len(rows) + 1.8), layout="constrained")
    y = np.arange(len(rows))[::-1]
    for yi, row in zip(y, rows):
        significant = row["p_adjusted"] is not None and row["p_adjusted"] < alpha
        color = SIGNIFICANT if significant else PLAIN
        if row["ci_low"] is not None:
            ax.plot([row["ci_low"], row["ci_high"]], [yi, yi], color=color, lw=1.6)
        ax.plot(row["effect"], yi, "D" if row["primary"] else "o", color=color, ms=8 if row["primary"] else 5)
    ax.axvline(0, color="0.5", lw=1, ls="--")
    ax.set_yticks(y, [("PRIMARY: " if r["primary"] else "") + r["name"] for r in rows], fontsize=7)
    ax.set_xlabel("effect: observed - null mean distance (decades of log10(step + 1))\n< 0: jumps closer to the "
                  "references than under the null", fontsize=8)
    nulls = sorted({r["null"].split(",")[0] for r in rows})
    ax.set_title(f"Jump tests: effect with 95 % cluster-bootstrap CI\n({', '.join(nulls)} null; red: adjusted "
                 f"p < {alpha:g}; diamond: primary)", fontsize=9)
    ax.grid(True, axis="x", alpha=0.3)
    return fig


def spec_curve_figure(rows: list[dict], alpha: float = 0.05) -> Figure:
    """Specification curve: the primary test's effect and CI over specifications (sorted by effect), and below
    them which choices make each specification."""
    order = sorted(range(len(rows)), key=lambda i: (rows[i]["effect"] is None, rows[i]["effect"] or 0.0))
    rows = [rows[i] for i in order]
    choices = [("detector", v) for v in dict.fromkeys(r["detector"] for r in rows)] \
        + [("threshold", v) for v in dict.fromkeys(r["threshold"] for r in rows)] \
        + [("event", v) for v in dict.fromkeys(r["event"] for r in rows)]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(8.5, 3.2 + 0.2 * len(choices)), sharex=True,
                                      height_ratios=[1.2, 0.2 * len(choices) + 0.4], layout="constrained")
    x = np.arange(len(rows))
    for xi, row in zip(x, rows):
        if row["effect"] is None:
            continue
        color = SIGNIFICANT if row["p_value"] is not None and row["p_value"] < alpha else PLAIN
        if row["ci_low"] is not None:
            top.plot([xi, xi], [row["ci_low"], row["ci_high"]], color=color, lw=1.2, alpha=0.7)
        top.plot(xi, row["effect"], "D" if row["primary"] else "o", color=color, ms=8 if row["primary"] else 5)
    top.axhline(0, color="0.5", lw=1, ls="--")
    top.set_ylabel("effect (decades)")
    top.set_title(f"Specification curve of the primary test (red: p < {alpha:g}; diamond: primary specification)",
                  fontsize=9)
    top.grid(True, axis="y", alpha=0.3)
    for yi, (kind, value) in enumerate(choices):
        chosen = [xi for xi, row in zip(x, rows) if row[kind] == value]
        bottom.plot(chosen, [yi] * len(chosen), "s", color="0.2", ms=4)
    bottom.set_yticks(range(len(choices)), [f"{k}: {v:g}" if isinstance(v, float) else f"{k}: {v}"
                                            for k, v in choices], fontsize=7)
    bottom.invert_yaxis()
    bottom.set_xlabel("specification (sorted by effect)")
    bottom.set_xticks(x, [""] * len(x))
    return fig
