"""Build a report: compute (or load from each run's cache) the analyses and render Markdown plus figures in memory.

`build_report` does the work and returns a Report; writing it to a folder is the separate step in write.py.
Which analyses appear, their sections, their comparison tables and figures and their pooled forms come from the
registry: those marked `in_report` are computed, the others are shown when their result is already cached.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from analyzer.core.registry import ANALYZER_VERSION, get, make_params, names
from analyzer.core.runner import analyze, cached_result
from analyzer.core.serialize import params_dict
from analyzer.errors import AnalysisFailed, BadInputError
from analyzer.report.common import reproduce_section, run_sections
from analyzer.report.model import Report, ReportOptions
from analyzer.report.plan import analysis_overrides, computed_analyses, report_plan
from analyzer.report.runs import Pooled, ReportRun, opened_runs
from analyzer.sections.run_analyses import RunAnalyses

MIN_REPORT_STEPS = 2  # the loss curve of fewer steps has no plateaus, and its predictions no spectrum


def analyze_run(opened: ReportRun, options: ReportOptions, progress=None) -> RunAnalyses:
    wanted = computed_analyses(options)
    run, results, notes = opened.run, {}, {}
    for name in names():
        if name in wanted:
            if progress:
                progress(f"{opened.label}: {name}")
            results[name], notes[name] = _one(opened, name, options)
        else:  # shown when its result is already cached
            cached = _cached_only(opened, name, options)
            if cached is not None:
                results[name] = cached
    return RunAnalyses(opened.label, opened.path, run.fingerprint, run.status, run.n_steps, run.config, run.target,
                       results, {k: v for k, v in notes.items() if v}, run=run, cache=opened.cache)


def report_jobs(paths: list[Path], options: ReportOptions) -> list:
    """Every analysis the report computes, of every run, with the report's parameters."""
    from analyzer.core.parallel import Job

    return [Job(str(path), name, analysis_overrides(name, options)) for path in paths
            for name in computed_analyses(options)]


def use_cluster(runs: list[ReportRun], options: ReportOptions) -> bool:
    """Whether to compute on Dask: when asked (a scheduler, or more than one worker), or by default when an
    analysis that splits into parts (the Hessian) is to be computed on a machine with several cores; never without
    the cache (results come back through it)."""
    import os

    if not options.use_cache or options.workers == 1:
        return False
    if options.scheduler or (options.workers or 0) > 1:
        return True
    split = [name for name in computed_analyses(options) if get(name).hooks.split is not None]
    if (os.cpu_count() or 1) < 2 or not split:
        return False
    return any(cached_result(r.run, name, cache=r.cache, **analysis_overrides(name, options)) is None
               for r in runs for name in split)


@contextlib.contextmanager
def cluster_if(wanted: bool, options: ReportOptions):
    """A Dask client when `wanted` (use_cluster), its workers already importing what the analyses need; else None.
    Started before the plan is drawn up, so the workers' start overlaps it."""
    if not wanted:
        yield None
        return
    from analyzer.core.parallel import cluster, warm_up

    with cluster(options.workers, options.scheduler) as client:
        warming = warm_up(client)  # held: a released future would be cancelled
        yield client
        del warming


def compute_on_cluster(client, runs: list[ReportRun], options: ReportOptions, progress=None) -> None:
    from analyzer.core import progress as shown
    from analyzer.core.parallel import compute_jobs, file_cost

    if progress:
        progress(f"{len(runs)} run(s) on Dask workers")
    shown.task("Hessian checkpoints on Dask workers", 0, "checkpoints")  # counted as they finish (parallel.py)
    paths = [r.path for r in runs]
    for done, (path, _errors) in enumerate(compute_jobs(client, report_jobs(paths, options), cost=file_cost), 1):
        # errors are found again, and reported, by the serial pass
        shown.note(f"{done} of {len(paths)} run(s) done on Dask workers ({Path(path).name})")
    for run in runs:
        if run.cache is not None:
            run.cache.release()  # the workers replaced the cache files: read the new ones


def _one(opened: ReportRun, name: str, options: ReportOptions) -> tuple[Any, str]:
    try:
        return analyze(opened.run, name, cache=opened.cache, use_cache=options.use_cache,
                       **analysis_overrides(name, options)), ""
    except (BadInputError, AnalysisFailed) as err:
        return None, str(err)


def _cached_only(opened: ReportRun, name: str, options: ReportOptions):
    if not options.use_cache:
        return None
    try:
        return cached_result(opened.run, name, cache=opened.cache, **analysis_overrides(name, options))
    except BadInputError:
        return None


def check_report_input(paths: list[Path], options: ReportOptions) -> None:
    """Refuse bad input that needs no run file open (one-line errors); `check_runs` does the rest."""
    if not paths:
        raise BadInputError("report needs at least one run file")
    if len(set(p.resolve() for p in paths)) != len(paths):
        raise BadInputError("the same run file is given twice")
    for name in options.left_out:
        get(name)  # an unknown name: its one-line error
    for name, values in options.overrides.items():
        make_params(get(name), **values)
    if options.workers is not None and options.workers < 1:
        raise BadInputError(f"--workers must be at least 1, got {options.workers}")


def build_report(paths: list[Path | str], options: ReportOptions | None = None, progress=None, plan=None) -> Report:
    """Analyze the runs and render the report to a Markdown string plus in-memory figures.

    Each run file and its cache are opened once for the whole report (runs.py).

    Args:
        progress: called with a phrase as each analysis starts; plan: called with each line of the up-front plan
            (plan.py), after the input is checked and before any analysis runs.
    """
    import matplotlib.pyplot as plt

    options = options or ReportOptions()
    paths = [Path(p) for p in paths]
    check_report_input(paths, options)
    with opened_runs(paths, options.use_cache) as opened:
        for each in opened:  # refuse before any analysis runs
            each.run.require_steps(MIN_REPORT_STEPS, "a report")
        with cluster_if(use_cluster(opened, options), options) as client:
            for line in report_plan(opened, options) if plan is not None else ():
                plan(line)
            if client is not None:
                compute_on_cluster(client, opened, options, progress)  # fills the caches; the pass below reads them
        runs = [analyze_run(each, options, progress) for each in opened]

        def pooled_of(name: str) -> Pooled:
            return Pooled(name, opened, analysis_overrides(name, options), options.use_cache, progress)

        # a report holds all its figures until they are written (and closed there): more than matplotlib's 20 is
        # the design, not a leak
        with plt.rc_context({"figure.max_open_warning": 0}):
            return render(runs, options, pooled_of)


def params_block(run: RunAnalyses) -> dict[str, dict]:
    """The default parameters of each analysis shown for this run (the report's overrides go on top)."""
    return {name: params_dict(make_params(get(name))) for name, result in run.results.items() if result is not None}


def render(runs: list[RunAnalyses], options: ReportOptions, pooled_of=None) -> Report:
    """The Markdown and figures of analysed runs; pooled_of(name) gives an analysis's pooled form (runs.Pooled)."""
    from analyzer.report.compare import comparison_section

    figs: dict[str, Any] = {}
    single = len(runs) == 1
    title = options.title or (f"Report: {runs[0].label}" if single else f"Report: {len(runs)} runs")
    lines = [f"# {title}", ""]
    lines += [f"Generated by `analyzer` {ANALYZER_VERSION} from {len(runs)} run file(s), without retraining.", ""]
    for run in runs:
        if run.status != "complete":
            lines += [f"> **{run.label} is partial, {run.n_steps} steps** (status `{run.status}`): "
                      "results describe the steps written so far.", ""]
    lines += reproduce_section(runs, options, params_block(runs[0]))

    def sections(run: RunAnalyses, into: dict) -> list[str]:
        return run_sections(run, into, prefix="" if single else f"{_slug(run.label)}-", level=2 if single else 3,
                            heading=None if single else f"## Run: {run.label}")

    from analyzer.report.draw import png_bytes, processes_for, sections_in_children

    def compared_and_drawn() -> list[str]:  # the comparison, its figures drawn here while the children draw theirs
        compared = comparison_section(runs, pooled_of, figs)
        figs.update({name: png_bytes(fig) for name, fig in figs.items()})
        return compared

    processes = processes_for(options.draw_processes)
    if not single and processes > 1:  # the runs' sections drawn in forked children, the comparison here meanwhile
        drawn, compared = sections_in_children(runs, sections, processes, compared_and_drawn)
        lines += compared
        for run_lines, pngs in drawn:
            lines += run_lines
            figs.update(pngs)
    else:
        if not single:
            lines += comparison_section(runs, pooled_of, figs)
        for run in runs:
            lines += sections(run, figs)
    missing = [f"{run.label}: {name} ({note})" for run in runs for name, note in run.notes.items()]
    return Report("\n".join(lines).rstrip() + "\n", figs, missing)


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in label)


def runless_report(analysis, result) -> Report:
    """The report of an analysis that needs no run (`analyze activations -o DIR`): its own section alone."""
    holder = RunAnalyses(label=analysis.name, path=Path(), fingerprint="", status="", n_steps=0, config={}, target={},
                         results={analysis.name: result}, notes={})
    figs: dict[str, Any] = {}
    lines = [f"# {analysis.summary[:1].upper() + analysis.summary[1:]}", "",
             f"Generated by `analyzer` {ANALYZER_VERSION}; needs no run file.", ""]
    lines += analysis.section(holder, figs, "", 2) if analysis.section is not None else []
    return Report("\n".join(lines).rstrip() + "\n", figs)
