"""The GD-mask section of a report: the mask-vs-run figure, the headline and the leading directions."""

from __future__ import annotations

from analyzer.analyses.mask.figures import mask_figure

TABLE_ROWS = 10


def section(run_analyses, figs: dict, prefix: str, level: int) -> list[str]:
    from analyzer.report import markdown_table

    result = run_analyses.results.get("mask")
    lines = ["#" * level + " Gradient descent as a shrinkage mask", ""]
    if result is None:
        return lines + [f"*mask not available: {run_analyses.notes.get('mask', 'not computed')}*", ""]
    label = run_analyses.label
    figs[f"{prefix}mask.png"] = mask_figure(result, title=f"GD mask on J's singular values — {label}")
    lines += [f"![GD mask vs observed fractions of {label}]({prefix}mask.png)", "", result.headline() + ".", ""]
    lines += [f"*directions (first {TABLE_ROWS})*", ""] + markdown_table(result.table.head(TABLE_ROWS))
    return lines
