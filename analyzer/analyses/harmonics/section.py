"""The harmonics section of a report: residual per degree over training, rates against NTK eigenvalues, the table."""

from __future__ import annotations

from analyzer.analyses.harmonics.figures import rate_figure, residual_figure

COLUMNS = ["degree", "in_target", "initial_residual", "final_fraction", "rate", "fit_start_step", "fit_end_step",
           "reached_fit_to", "ntk_eigenvalue", "rate_per_eigenvalue", "gd_rate", "rate_over_gd_rate"]


def section(run_analyses, figs: dict, prefix: str, level: int) -> list[str]:
    """Markdown lines; figures go into `figs` under prefix + harmonics.png / harmonics_rates.png."""
    from analyzer.report import markdown_table  # phase 2: analyzer.report.markdown

    heading = "#" * level
    result = run_analyses.results.get("harmonics")
    lines = [f"{heading} Spherical-harmonic degrees", ""]
    if result is None:
        reason = run_analyses.notes.get("harmonics", "not computed")
        return lines + [f"*harmonics not available: {reason}*", ""]
    figs[f"{prefix}harmonics.png"] = residual_figure(result)
    figs[f"{prefix}harmonics_rates.png"] = rate_figure(result)
    lines += [f"![residual per degree]({prefix}harmonics.png)", "",
              f"![rate against NTK eigenvalue]({prefix}harmonics_rates.png)", "",
              result.headline() + f". NTK eigenvalues: {result.ntk_source}.", ""]
    return lines + markdown_table(result.table[COLUMNS])
