"""What the plateaus add to `analyze study`: each run's events under every specification and its decoupled
escapes (variants.py), read by the study's specification curve and decoupled test."""

from __future__ import annotations


def jobs(options) -> list:
    """The spectrum at the specification curve's other learned thresholds (the default one is the events')."""
    from analyzer.study.robustness import THRESHOLDS

    return [("spectrum", {"threshold": t}, None) for t in THRESHOLDS if t != 0.1]


def collect(run, context) -> dict:
    """RunSummary.spec and .decoupled; a failure is a note, not a skip."""
    from analyzer.analyses.plateaus.variants import decoupled_escapes, spec_events
    from analyzer.errors import AnalyzerError

    spectrum, plateaus = context.result("spectrum"), context.result("plateaus")  # a failure here skips the run
    try:
        return {"spec": spec_events(context, spectrum, plateaus),
                "decoupled": decoupled_escapes(run, spectrum)}
    except (AnalyzerError, ValueError, KeyError, IndexError) as err:
        context.notes.append(f"robustness: {context.one_line(err)}")
        return {"spec": {}, "decoupled": {}}
