"""The spectrum section of a report: the heatmaps, the relative error per frequency (or degree) and the learning
table."""

from __future__ import annotations

from analyzer.sections.markdown import image, markdown_table, opening


def section(analyses, figs: dict, prefix: str, level: int) -> list[str]:
    # matplotlib is imported only when a report is drawn
    from analyzer.analyses.spectrum.figures import rel_error_figure, spectral_heatmap_figure
    from analyzer.sections.figures import plateau_intervals

    heading = "#" * level
    spectrum, lines = opening(analyses, "spectrum", "Spectral dynamics", level)
    if spectrum is None:
        return lines
    noun = spectrum.mode_noun
    lines += image(figs, f"{prefix}spectrum.png", spectral_heatmap_figure(
        spectrum, _full_spectrum(analyses, spectrum),
        title=f"Learned fraction of each target {noun} — {analyses.label}"),
        f"spectral dynamics of {analyses.label}")
    lines += [f"{heading} {noun.capitalize()} learning", ""]
    lines += image(figs, f"{prefix}rel_error.png", rel_error_figure(
        spectrum, plateau_intervals(analyses.results.get("plateaus")),
        title=f"Relative error per {noun} — {analyses.label}"), f"relative error per {noun} of {analyses.label}")
    lines += [spectrum.headline() + ".", ""] + markdown_table(spectrum.learning_display())
    return lines


def _full_spectrum(analyses, spectrum):
    """The spectrum of the analysed prediction steps up to the band the heatmap shows, recomputed (never cached):
    the DFT on a sine run, the norm per degree on a harmonics run."""
    from analyzer.analyses.spectrum.dft import amplitude_spectrum
    from analyzer.analyses.spectrum.figures import heatmap_max_hz
    from analyzer.analyses.spectrum.modes import mode_amplitudes
    from analyzer.sections.run_analyses import opened_file

    with opened_file(analyses) as opened:
        if spectrum.mode_name != "freq_hz":
            return mode_amplitudes(opened, n_rows=len(spectrum.steps))
        return amplitude_spectrum(opened, max_hz=heatmap_max_hz(spectrum), n_rows=len(spectrum.steps))
