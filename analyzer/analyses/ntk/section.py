"""The NTK section of a report: figures first, then the headline and the leading rows of each table."""

from __future__ import annotations

from analyzer.analyses.ntk.result import optimizer_text
from analyzer.sections.markdown import image, markdown_table, opening

TABLE_ROWS = 10


def section(analyses, figs: dict, prefix: str, level: int) -> list[str]:
    from analyzer.analyses.ntk.figures import drift_and_residuals_figure, spectrum_and_rates_figure  # matplotlib

    result, lines = opening(analyses, "ntk", "Neural tangent kernel", level)
    if result is None:
        return lines
    label = analyses.label
    lines += image(figs, f"{prefix}ntk.png", spectrum_and_rates_figure(
        result, title=f"Empirical NTK at step {result.step:,} — {label}"), f"NTK eigenvalues and rates of {label}")
    lines += image(figs, f"{prefix}ntk-dynamics.png", drift_and_residuals_figure(
        result, title=f"NTK dynamics — {label}"), f"kernel drift and residual decay of {label}")
    lines += [result.headline() + ".", ""]
    if result.rates == "observed only":
        lines += [f"This run used {optimizer_text(result.optimizer)}: there is no closed form for its rates, so they "
                  "are observed only.", ""]
    lines += [f"*rates (first {TABLE_ROWS} eigendirections)*", ""] + markdown_table(result.table.head(TABLE_ROWS))
    lines += ["*target frequencies on the eigenvectors*", ""] + markdown_table(result.loadings_display())
    return lines
