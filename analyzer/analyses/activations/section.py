"""The activations section of a report: spectra and principal components of A = eta(sigma (x - b^T)), and the table."""

from __future__ import annotations

from analyzer.sections.markdown import image, markdown_table, opening


def section(analyses, figs: dict, prefix: str, level: int) -> list[str]:
    """Markdown lines; figures go into `figs` under prefix + activation_spectra.png / activation_components.png."""
    # matplotlib: imported for reports only
    from analyzer.analyses.activations.figures import components_figure, singular_values_figure

    result, lines = opening(analyses, "activations", "Activation spectra", level)
    if result is None:
        return lines
    lines += image(figs, f"{prefix}activation_spectra.png", singular_values_figure(result), "activation spectra")
    lines += image(figs, f"{prefix}activation_components.png", components_figure(result), "principal components")
    lines += ["s_k / s_0 is the k-th singular value of A over the first (k from 0); u_k(x) the k-th left singular "
              "vector. " + result.headline() + ".", ""]
    return lines + markdown_table(result.summary)
