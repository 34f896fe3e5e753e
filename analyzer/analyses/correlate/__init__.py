"""Are frequency jumps closer to escapes from loss plateaus than chance? A permutation test, one run or pooled."""

from analyzer.analyses.correlate.compute import (RunEvents, api, compute, correlate_events, correlate_runs,
                                                 events_from, run_events)
from analyzer.analyses.correlate.params import REFERENCES, CorrelateParams
from analyzer.analyses.correlate.permutation import permutation_test
from analyzer.analyses.correlate.result import CorrelateResult
from analyzer.analyses.correlate import study
from analyzer.analyses.correlate.section import section
from analyzer.core.registry import Analysis, StudyHooks

ANALYSIS = Analysis(
    name="correlate", params=CorrelateParams, result=CorrelateResult, compute=compute, version="3",
    summary="frequency jumps vs escapes from loss plateaus: distances and a permutation test",
    requires=("plateaus", "spectrum"), section=section, in_report=True, api=api,
    study=StudyHooks(jobs=study.jobs, collect=study.collect, fills_summary=True),  # the study's events
)

__all__ = ["ANALYSIS", "REFERENCES", "CorrelateParams", "CorrelateResult", "RunEvents", "correlate_events",
           "correlate_runs", "events_from", "permutation_test", "run_events"]
