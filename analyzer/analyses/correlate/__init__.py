"""Are frequency jumps closer to escapes from loss plateaus than chance? A permutation test, one run or pooled."""

from analyzer.analyses.correlate.compare import tables
from analyzer.analyses.correlate.compute import RunEvents, compute, correlate_events, events_from, pool, run_events
from analyzer.analyses.correlate.params import REFERENCES, CorrelateParams
from analyzer.analyses.correlate.permutation import permutation_test
from analyzer.analyses.correlate.result import CorrelateResult
from analyzer.analyses.correlate.section import section
from analyzer.core.registry import Analysis, Compare, Hooks, Tags

ANALYSIS = Analysis(
    name="correlate", params=CorrelateParams, result=CorrelateResult, compute=compute, version="4",
    summary="frequency jumps vs escapes from loss plateaus: distances and a permutation test",
    requires=("plateaus", "spectrum"), section=section,
    tags=Tags(reads="log", fast_params={"n_permutations": 99}),
    hooks=Hooks(in_report=True, report_aliases=(("threshold", "threshold"), ("permutations", "n_permutations")),
                compare=Compare(tables=tables, order=3), pool=pool),
)

__all__ = ["ANALYSIS", "REFERENCES", "CorrelateParams", "CorrelateResult", "RunEvents", "correlate_events",
           "events_from", "permutation_test", "run_events"]
