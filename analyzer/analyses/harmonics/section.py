"""The harmonics section of a report: residual per degree over training, rates against NTK eigenvalues, the table."""

from __future__ import annotations

from analyzer.sections.markdown import image, markdown_table, opening

COLUMNS = ["degree", "in_target", "initial_residual", "final_fraction", "rate", "fit_start_step", "fit_end_step",
           "reached_fit_to", "ntk_eigenvalue", "rate_per_eigenvalue", "gd_rate", "rate_over_gd_rate",
           "ntk_eigenvalue_empirical", "gd_rate_empirical", "rate_over_gd_rate_empirical"]


def section(analyses, figs: dict, prefix: str, level: int) -> list[str]:
    """Markdown lines; figures go into `figs` under prefix + harmonics.png / harmonics_rates.png."""
    from analyzer.analyses.harmonics.figures import rate_figure, residual_figure  # matplotlib only for reports

    result, lines = opening(analyses, "harmonics", "Spherical-harmonic degrees", level)
    if result is None:
        return lines
    lines += image(figs, f"{prefix}harmonics.png", residual_figure(
        result, title=f"Residual per spherical-harmonic degree — {analyses.label}"),
        f"residual per degree of {analyses.label}")
    lines += image(figs, f"{prefix}harmonics_rates.png", rate_figure(result),
                   f"rate against NTK eigenvalue of {analyses.label}")
    lines += [result.headline() + f". NTK eigenvalues: {result.ntk_source}; "
              f"empirical: {result.ntk_empirical_source}. The rate is minus the fitted slope of "
              "log ||P_l (f_t - y)|| per step while the component falls from 90% to 10% of its initial norm.", ""]
    return lines + markdown_table(result.table[COLUMNS])
