"""The escape section of a report: overlaps of escape vs control displacements, frequencies, exact Hessian eigenvalues."""

from __future__ import annotations

from analyzer.report.markdown import image, markdown_table, opening

NULL = ("overlap_random is the expected overlap with a uniformly random subspace of the Hessian's range of the "
        "same dimension (n_negative / rank x the fraction of d in the range). The control is a displacement of "
        "the same step count inside a plateau (or just before the drop), against the Hessian at its own start: "
        "an escape is special only if its overlap_negative exceeds the control's.")


def section(analyses, figs: dict, prefix: str, level: int) -> list[str]:
    from analyzer.analyses.escape.figures import density_figure, overlap_figure

    result, lines = opening(analyses, "escape", "Escape directions at plateaus", level)
    if result is None:
        return lines
    lines += [result.headline() + ".", "", NULL, ""]
    if not result.table.empty:
        lines += image(figs, f"{prefix}escape.png",
                       overlap_figure(result.table, f"Escape vs control — {analyses.label}"),
                       f"escape overlaps of {analyses.label}")
        lines += image(figs, f"{prefix}escape-density.png",
                       density_figure(result.eigenvalue_steps, result.eigenvalues, result.table.plateau_step.tolist(),
                                      f"Exact Hessian eigenvalue density — {analyses.label}"),
                       f"eigenvalue density of {analyses.label}")
        lines += ["The densities are the whole spectrum from the certified subspace run (or the dense Hessian): "
                  "exact to the certified error, not a stochastic Lanczos quadrature estimate.", ""]
    for frame in result.tables().values():
        lines += markdown_table(frame)
    return lines
