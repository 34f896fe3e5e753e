"""The escape section of a report: overlaps of escape vs control displacements, frequencies, exact Hessian eigenvalues."""

from __future__ import annotations

from analyzer.sections.markdown import image, markdown_table, opening

NULL = ("overlap_random is the expected overlap with a uniformly random subspace of the Hessian's range of the "
        "same dimension (n_negative / rank x the fraction of d in the range); the *_norm columns divide an overlap "
        "by n_negative / rank, the overlap a random direction in the range would have, so that displacements "
        "measured against Hessians with different numbers of negative eigenvalues compare (1: no preference). "
        "The control is a stretch of the same run outside every plateau and escape whose loss drop (decades) and "
        "span (decades of log-step) are within a factor `match_factor` of the escape's (control_kind drop+span; "
        "drop: only the loss drop matches; unmatched: no free stretch has a matching drop; plateau: no free stretch "
        "has a loss drop, so the control may lie in a plateau; none: no control), against the Hessian at its own "
        "start, chosen among a few loss-matched candidates for the number of negative eigenvalues closest to the "
        "escape's: an escape is special only if its overlap_negative_norm exceeds the control's.")


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
