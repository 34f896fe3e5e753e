"""What a report will compute and roughly how long it will take, said before any slow analysis runs.

The Hessian is the slow part: its checkpoints come from the plateaus (computed here first, cheap, and cached
for the report), its cost per checkpoint from its HVP budget and one measured HVP (hessian/cost.py). The
figure is a rough upper bound: a certified run that finds a low-rank Hessian stops well before its cap.
"""

from __future__ import annotations

from pathlib import Path

from analyzer.core.registry import get, make_params
from analyzer.core.runner import analyze, cached_result
from analyzer.errors import AnalysisFailed, BadInputError
from analyzer.io.run import open_run
from analyzer.report.model import ReportOptions

OTHER_ANALYSES_S = 30  # spectrum, plateaus and correlate of one run, usually: said as such, not measured


def report_plan(paths: list[Path], options: ReportOptions) -> list[str]:
    """Lines for stderr: the analyses, then per run the Hessian checkpoints, method and rough time."""
    from analyzer.analyses.hessian.cost import method_label
    from analyzer.analyses.hessian.status import duration
    from analyzer.report.build import analysis_overrides, computed_analyses

    wanted = computed_analyses(options)
    lines = [f"report: {len(paths)} run(s); computing {', '.join(wanted)} (cached results are reused)"]
    total = OTHER_ANALYSES_S * len(paths)
    for path in paths:
        if "hessian" not in wanted:
            continue
        overrides = analysis_overrides("hessian", options)
        with open_run(path) as run:
            params = make_params(get("hessian"), **{k: v for k, v in overrides.items() if k != "plateaus"})
            if options.use_cache and cached_result(run, "hessian", **overrides) is not None:
                lines.append(f"  {path.name}: Hessian cached")
                continue
            seconds, text = _hessian_cost(run, params, overrides.get("plateaus", {}), options)
            lines.append(f"  {path.name}: P = {int(run.n_params):,}, {text}; index: {method_label(params, int(run.n_params))}")
            total += seconds
    workers = "" if options.workers == 1 else " on one worker (fewer with several)"
    lines.append(f"report: rough total ~{duration(total)}{workers}, more on a busy machine; progress follows on stderr")
    return lines


def _hessian_cost(run, params, plateau_overrides: dict, options: ReportOptions) -> tuple[float, str]:
    """(seconds, phrase): the checkpoints the Hessian will visit and their rough cost."""
    from analyzer.analyses.hessian.checkpoints import select_checkpoints
    from analyzer.analyses.hessian.cost import checkpoint_budget, checkpoint_seconds, hvp_seconds
    from analyzer.analyses.hessian.status import duration

    try:
        plateaus = analyze(run, "plateaus", use_cache=options.use_cache, **plateau_overrides)
        points, _ = select_checkpoints(run, params, lambda: plateaus)
        per_hvp = hvp_seconds(run, params)
    except (BadInputError, AnalysisFailed) as err:  # the report says it again in its section
        return 0.0, f"Hessian not estimated ({str(err).splitlines()[0]})"
    n_params = int(run.n_params)
    each = checkpoint_seconds(params, n_params, per_hvp)
    return each * len(points), (f"Hessian at {len(points)} checkpoint(s), up to {checkpoint_budget(params, n_params):,} "
                                f"HVPs each at {1e3 * per_hvp:.2g} ms: up to ~{duration(each)} each")
