"""The activations section of a report: spectra and principal components of A = eta(sigma (x - b^T)), and the table."""

from __future__ import annotations

from analyzer.analyses.activations.figures import components_figure, spectra_figure


def section(run_analyses, figs: dict, prefix: str, level: int) -> list[str]:
    """Markdown lines; figures go into `figs` under prefix + activation_spectra.png / activation_components.png."""
    from analyzer.report import markdown_table  # phase 2: analyzer.report.markdown

    heading = "#" * level
    result = run_analyses.results.get("activations")
    lines = [f"{heading} Activation spectra", ""]
    if result is None:
        reason = run_analyses.notes.get("activations", "not computed")
        return lines + [f"*activations not available: {reason}*", ""]
    figs[f"{prefix}activation_spectra.png"] = spectra_figure(result)
    figs[f"{prefix}activation_components.png"] = components_figure(result)
    lines += [f"![activation spectra]({prefix}activation_spectra.png)", "",
              f"![principal components]({prefix}activation_components.png)", "",
              "s_k / s_0 is the k-th singular value of A over the first (k from 0); u_k(x) the k-th left singular "
              "vector. " + result.headline() + ".", ""]
    return lines + markdown_table(result.summary)
