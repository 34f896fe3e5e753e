"""Markdown building blocks of reports: pipe tables, cells, images, 'not available' notes."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd


def markdown_table(frame: pd.DataFrame, digits: int = 4) -> list[str]:
    """A pipe table; floats to `digits` significant digits, NaN and None as a dash. Whole numbers, and floats from 1,000
    up to 10 million, are written as integers with thousands separators (8,554 next to 10,000, not 8554)."""
    if frame.empty:
        return ["*(none)*", ""]
    header = "| " + " | ".join(str(c) for c in frame.columns) + " |"
    rule = "|" + "|".join("---:" if frame[c].dtype.kind in "iuf" else "---" for c in frame.columns) + "|"
    rows = ["| " + " | ".join(_cell(v, digits) for v in row) + " |" for row in frame.itertuples(index=False)]
    return [header, rule, *rows, ""]


def _cell(value: Any, digits: int) -> str:
    if value is None or value is pd.NA:
        return "–"
    if isinstance(value, (float, np.floating)):
        if not np.isfinite(value):
            return "–"
        if float(value).is_integer() and abs(value) < 1e15:
            return f"{int(value):,}"
        return f"{value:,.0f}" if 1e3 <= abs(value) < 1e7 else f"{value:.{digits}g}"
    if isinstance(value, (bool, np.bool_)):
        return "yes" if value else "no"
    if isinstance(value, (int, np.integer)):
        return f"{int(value):,}"
    return str(value).replace("|", "\\|")


def image(figs: dict, name: str, fig, alt: str) -> list[str]:
    """Add `fig` to the report's figures under `name` and return the Markdown that shows it."""
    figs[name] = fig
    return [f"![{alt}]({name})", ""]


def not_available(analyses, name: str) -> list[str]:
    """The line that stands for a section whose analysis could not be computed."""
    return [f"*{name} not available: {analyses.notes.get(name, 'not computed')}*", ""]


def opening(analyses, name: str, title: str, level: int) -> tuple[Any, list[str]]:
    """An analysis's result in this run's analyses (None if missing) and its section's first lines: the heading,
    and the 'not available' note when the result is missing."""
    result = analyses.results.get(name)
    lines = [f"{'#' * level} {title}", ""]
    return result, lines if result is not None else lines + not_available(analyses, name)
