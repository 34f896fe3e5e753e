"""The Hessian section of a report: eigenvalues and saddle index over the checkpoints, and their table."""

from __future__ import annotations

from analyzer.sections.markdown import image, markdown_table, opening


def section(analyses, figs: dict, prefix: str, level: int) -> list[str]:
    from analyzer.analyses.hessian.figures import hessian_figure  # matplotlib: only when a report is drawn
    from analyzer.sections.figures import plateau_intervals

    result, lines = opening(analyses, "hessian", "Hessian and saddle index", level)
    if result is None:
        return lines
    if not result.table.empty:
        lines += image(figs, f"{prefix}hessian.png", hessian_figure(
            result.table, result.n_params, plateau_intervals(analyses.results.get("plateaus")),
            title=f"Hessian at checkpoints — {analyses.label}"), f"Hessian eigenvalues of {analyses.label}")
    lines += [result.headline() + ".", ""]
    from analyzer.analyses.hessian.grid_section import grid_lines

    lines += grid_lines(analyses, figs, prefix)
    for frame in result.tables().values():
        lines += markdown_table(frame)
    return lines
