"""The correlate section of a report: the test's conclusion and its tables."""

from __future__ import annotations

from analyzer.report.markdown import markdown_table


def section(analyses, figs: dict, prefix: str, level: int) -> list[str]:
    result = analyses.results.get("correlate")
    spectrum = analyses.results.get("spectrum")
    noun = "Degree" if spectrum is not None and spectrum.mode_name == "degree" else "Frequency"
    lines = [f"{'#' * level} {noun} jumps vs escapes from plateaus", ""]
    if result is None:
        return lines + [f"*correlation not available: {analyses.notes.get('correlate') or 'not computed'}*", ""]
    lines += [f"**{result.conclusion}**", ""]
    for title, frame in result.tables().items():
        lines += [f"*{title}*", ""] + markdown_table(frame)
    return lines
