"""The NTK section of a report: figures first, then the headline and the leading rows of each table."""

from __future__ import annotations

from analyzer.analyses.ntk.figures import drift_and_residuals_figure, spectrum_and_rates_figure

TABLE_ROWS = 10


def section(run_analyses, figs: dict, prefix: str, level: int) -> list[str]:
    from analyzer.report import markdown_table

    result = run_analyses.results.get("ntk")
    lines = ["#" * level + " Neural tangent kernel", ""]
    if result is None:
        return lines + [f"*ntk not available: {run_analyses.notes.get('ntk', 'not computed')}*", ""]
    label = run_analyses.label
    figs[f"{prefix}ntk.png"] = spectrum_and_rates_figure(result, title=f"Empirical NTK at step {result.step:,} — {label}")
    figs[f"{prefix}ntk-dynamics.png"] = drift_and_residuals_figure(result, title=f"NTK dynamics — {label}")
    lines += [f"![NTK eigenvalues and rates of {label}]({prefix}ntk.png)", "",
              f"![kernel drift and residual decay of {label}]({prefix}ntk-dynamics.png)", ""]
    lines += [result.headline() + ".", ""]
    if result.rates == "observed only":
        lines += [f"This run used {result.optimizer}: there is no closed form for its rates, so they are observed "
                  "only.", ""]
    lines += [f"*rates (first {TABLE_ROWS} eigendirections)*", ""] + markdown_table(result.table.head(TABLE_ROWS))
    lines += ["*target frequencies on the eigenvectors*", ""] + markdown_table(result.loadings)
    return lines
