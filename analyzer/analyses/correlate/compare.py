"""Correlate's part of the comparison section of a report on several runs: the test pooled over them, at the
configured reference points first, then at the other ones."""

from __future__ import annotations

from analyzer.analyses.correlate.params import REFERENCES
from analyzer.report.markdown import markdown_table


def tables(runs, pooled) -> list[str]:
    """The pooled test at each reference, or why the runs are not pooled (targets on different bases)."""
    lines = ["### Pooled correlation", ""]
    bases = sorted({r.results["spectrum"].mode_name for r in runs if r.results.get("spectrum") is not None})
    if len(bases) > 1:  # correlate refuses to pool sine and harmonics runs: say so instead of testing
        from analyzer.analyses.spectrum.result import MODE_WORDS

        kinds = " and ".join(MODE_WORDS[name][1] for name in bases)
        return lines + [f"*not pooled: the runs' targets are on different bases ({kinds}); see each run's test*", ""]
    # the configured reference first, then the other one: seed 000's claim is about edges, escapes are what the
    # known-answer runs show to be the point a jump sits at (compute.py)
    first = pooled.params.reference
    for reference in (first, *[r for r in REFERENCES if r != first]):
        result = pooled(reference=reference)
        lines += [f"**{result.conclusion}**", ""] + markdown_table(result.tables()["permutation test"])
    return lines
