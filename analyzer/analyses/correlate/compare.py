"""Correlate's part of the comparison section of a report on several runs: the test pooled over them, at the
configured reference points first, then at the other ones."""

from __future__ import annotations

from analyzer.analyses.correlate.params import REFERENCES
from analyzer.sections.markdown import markdown_table


def tables(runs, pooled) -> list[str]:
    """The pooled test at each reference, or why the runs are not pooled (targets on different bases)."""
    lines = ["### Pooled correlation", ""]
    spectra = [r.results["spectrum"] for r in runs if r.results.get("spectrum") is not None]
    bases = {s.mode_name: s.mode_plural for s in spectra}
    if len(bases) > 1:  # correlate refuses to pool sine and harmonics runs: say so instead of testing
        kinds = " and ".join(bases[name] for name in sorted(bases))
        return lines + [f"*not pooled: the runs' targets are on different bases ({kinds}); see each run's test*", ""]
    # the configured reference first, then the other one: Alvarez & Choe's claim is about edges, escapes are what the
    # known-answer runs show to be the point a jump sits at (compute.py)
    first = pooled.params.reference
    for reference in (first, *[r for r in REFERENCES if r != first]):
        result = pooled(reference=reference)
        summary = next(iter(result.tables().values()))  # the test, or one informing run's description
        lines += [result.conclusion if result.descriptive_only else f"**{result.conclusion}**", ""]
        lines += markdown_table(summary)
    return lines
