"""The GD-mask section of a report: the mask-vs-run figure, the headline and the leading directions."""

from __future__ import annotations

from analyzer.sections.markdown import image, markdown_table, opening

TABLE_ROWS = 10


def section(analyses, figs: dict, prefix: str, level: int) -> list[str]:
    from analyzer.analyses.mask.figures import mask_figure  # matplotlib: only when a report is drawn

    result, lines = opening(analyses, "mask", "Gradient descent as a shrinkage mask", level)
    if result is None:
        return lines
    lines += image(figs, f"{prefix}mask.png", mask_figure(result, title=f"GD mask on J's singular values — "
                                                                        f"{analyses.label}"),
                   f"GD mask vs observed fractions of {analyses.label}")
    lines += [result.headline() + ".", ""]
    lines += [f"*directions (first {TABLE_ROWS})*", ""] + markdown_table(result.table.head(TABLE_ROWS))
    return lines
