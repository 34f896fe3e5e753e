"""The correlate section of a report: the test's conclusion (one run: its description) and its tables."""

from __future__ import annotations

from analyzer.sections.markdown import markdown_table


def section(analyses, figs: dict, prefix: str, level: int) -> list[str]:
    result = analyses.results.get("correlate")
    spectrum = analyses.results.get("spectrum")
    noun = "Degree" if spectrum is not None and spectrum.mode_name == "degree" else "Frequency"
    lines = [f"{'#' * level} {noun} jumps vs escapes from plateaus", ""]
    if result is None:
        return lines + [f"*correlation not available: {analyses.notes.get('correlate') or 'not computed'}*", ""]
    # a test across runs is a claim, in bold; one run's figures are a description (result.descriptive_only)
    lines += [result.conclusion if result.descriptive_only else f"**{result.conclusion}**", ""]
    for title, frame in result.tables().items():
        lines += [f"*{title}*", ""] + markdown_table(frame)
    return lines
