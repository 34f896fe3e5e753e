"""What a report will compute, with which parameters, and roughly how long it will take, said before any slow
analysis runs.

An analysis that is slow says its own cost (`Hooks.estimate`, the Hessian's in analyses/hessian/estimate.py);
the others are counted at a fixed rough figure.
"""

from __future__ import annotations

from typing import Any

from analyzer.core.registry import dependency_closure, get, names
from analyzer.core.runner import cached_result
from analyzer.report.model import ReportOptions

OTHER_ANALYSES_S = 15  # per run: its plateaus, spectrum and correlate (~3 s), its figures and a share of the workers' start
# (bench/RESULTS.md: the 4 demo runs' report, 96 s wall at load 5, ~35 s of it Hessian checkpoints)


def computed_analyses(options: ReportOptions) -> list[str]:
    """The analyses a report computes, in registry order (those left out by their --no-<name> excepted)."""
    return [n for n in names() if get(n).hooks.in_report and n not in options.left_out]


def analysis_overrides(name: str, options: ReportOptions) -> dict[str, Any]:
    """The report's parameters for `name`: its own overrides, and those of every analysis it reads."""
    given = dict(options.overrides.get(name, {}))
    for dep in dependency_closure(name):
        if options.overrides.get(dep):
            given[dep] = options.overrides[dep]
    return given


def report_plan(runs: list, options: ReportOptions) -> list[str]:
    """Lines for stderr: the analyses, then per run and estimated analysis its cost (runs: runs.ReportRun)."""
    from analyzer.core.progress import duration

    from analyzer.curvature.hvp_timing import HvpTimings

    wanted = computed_analyses(options)
    timings = HvpTimings()  # one timed probe per run, shared by its estimates
    lines = [f"report: {len(runs)} run(s); computing {', '.join(wanted)} (cached results are reused)"]
    total = OTHER_ANALYSES_S * len(runs)
    for each in runs:
        for name in (n for n in wanted if get(n).hooks.estimate is not None):
            overrides = analysis_overrides(name, options)
            if options.use_cache and cached_result(each.run, name, cache=each.cache, **overrides) is not None:
                lines.append(f"  {each.path.name}: {name} cached")
                continue
            planned = get(name).hooks.estimate(each.run, overrides, options.use_cache, cache=each.cache, timings=timings)
            lines.append(f"  {each.path.name}: {planned.text}")
            total += planned.seconds
    workers = "" if options.workers == 1 else " on one worker (fewer with several)"
    lines.append(f"report: rough total ~{duration(total)}{workers}, more on a busy machine; progress follows on stderr")
    return lines
