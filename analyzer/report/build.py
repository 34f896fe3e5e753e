"""Build a report: compute (or load from each run's cache) the analyses and render Markdown plus figures in memory.

`build_report` does the work and returns a Report; writing it to a folder is the separate step in write.py.
Which analyses appear, and their sections, come from the registry: those marked `in_report` are computed,
the others are shown when their result is already cached.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from analyzer.core.registry import ANALYZER_VERSION, dependency_closure, get, make_params, names
from analyzer.core.runner import analyze, cached_result
from analyzer.core.serialize import params_dict
from analyzer.errors import AnalysisFailed, BadInputError
from analyzer.io.run import Run, open_run
from analyzer.report.common import reproduce_section, run_sections
from analyzer.report.model import Report, ReportOptions, RunAnalyses

MIN_REPORT_STEPS = 2  # the loss curve of fewer steps has no plateaus, and its predictions no spectrum


def labels_for(paths: list[Path]) -> list[str]:
    """Short unique labels: file stems, with the parent folder added where stems clash."""
    stems = [p.name[:-3] if p.name.endswith(".h5") else p.name for p in paths]
    return [f"{p.parent.name}/{s}" if stems.count(s) > 1 else s for p, s in zip(paths, stems)]


def computed_analyses(options: ReportOptions) -> list[str]:
    """The analyses a report computes, in registry order (--no-hessian leaves the slowest out)."""
    return [n for n in names() if get(n).in_report and (n != "hessian" or options.hessian)]


def analyze_run(path: Path, label: str, options: ReportOptions, progress=None) -> RunAnalyses:
    wanted = computed_analyses(options)
    with open_run(path) as run:
        results, notes = {}, {}
        for name in names():
            if name in wanted:
                if progress:
                    progress(f"{label}: {name}")
                results[name], notes[name] = _one(run, name, options)
            else:  # shown when its result is already cached
                cached = _cached_only(run, name, options)
                if cached is not None:
                    results[name] = cached
        return RunAnalyses(label, path, run.fingerprint, run.status, run.n_steps, run.config, run.target,
                           results, {k: v for k, v in notes.items() if v})


def report_jobs(paths: list[Path], options: ReportOptions) -> list:
    """Every analysis the report computes, of every run, with the report's parameters."""
    from analyzer.core.parallel import Job

    return [Job(str(path), name, analysis_overrides(name, options)) for path in paths
            for name in computed_analyses(options)]


def use_cluster(paths: list[Path], options: ReportOptions) -> bool:
    """Whether to compute on Dask: when asked (a scheduler, or more than one worker), or by default when a
    Hessian is to be computed on a machine with several cores; never without the cache (results come back
    through it)."""
    import os

    if not options.use_cache or options.workers == 1:
        return False
    if options.scheduler or (options.workers or 0) > 1:
        return True
    if (os.cpu_count() or 1) < 2 or not options.hessian:
        return False
    overrides = analysis_overrides("hessian", options)
    for path in paths:
        with open_run(path) as run:
            if cached_result(run, "hessian", **overrides) is None:
                return True
    return False


def compute_on_cluster(paths: list[Path], options: ReportOptions, progress=None) -> None:
    from analyzer.core.parallel import cluster, compute_jobs, file_cost

    from analyzer.core import progress as shown

    if progress:
        progress(f"{len(paths)} run(s) on Dask workers")
    shown.task("Hessian checkpoints on Dask workers", 0, "checkpoints")  # counted as they finish (parallel.py)
    with cluster(options.workers, options.scheduler) as client:
        for done, (path, _errors) in enumerate(compute_jobs(client, report_jobs(paths, options), cost=file_cost), 1):
            # errors are found again, and reported, by the serial pass
            shown.note(f"{done} of {len(paths)} run(s) done on Dask workers ({Path(path).name})")


def analysis_overrides(name: str, options: ReportOptions) -> dict[str, Any]:
    """The report's parameters for `name`: its own overrides, and those of every analysis it reads."""
    given = dict(options.overrides.get(name, {}))
    for dep in dependency_closure(name):
        if options.overrides.get(dep):
            given[dep] = options.overrides[dep]
    return given


def _one(run: Run, name: str, options: ReportOptions) -> tuple[Any, str]:
    try:
        return analyze(run, name, use_cache=options.use_cache, **analysis_overrides(name, options)), ""
    except (BadInputError, AnalysisFailed) as err:
        return None, str(err)


def _cached_only(run: Run, name: str, options: ReportOptions):
    if not options.use_cache:
        return None
    try:
        return cached_result(run, name, **analysis_overrides(name, options))
    except BadInputError:
        return None


def check_report_input(paths: list[Path], options: ReportOptions) -> None:
    """Refuse bad input before any analysis runs (one-line errors)."""
    if not paths:
        raise BadInputError("report needs at least one run file")
    if len(set(p.resolve() for p in paths)) != len(paths):
        raise BadInputError("the same run file is given twice")
    for name, values in options.overrides.items():
        make_params(get(name), **values)
    if options.workers is not None and options.workers < 1:
        raise BadInputError(f"--workers must be at least 1, got {options.workers}")
    for path in paths:  # refuse before any analysis runs
        with open_run(path) as run:
            run.require_steps(MIN_REPORT_STEPS, "a report")


def build_report(paths: list[Path | str], options: ReportOptions | None = None, progress=None) -> Report:
    """Analyze the runs and render the report to a Markdown string plus in-memory figures."""
    options = options or ReportOptions()
    paths = [Path(p) for p in paths]
    check_report_input(paths, options)
    if use_cluster(paths, options):
        compute_on_cluster(paths, options, progress)  # fills the caches; the serial pass below reads them
    runs = [analyze_run(p, label, options, progress) for p, label in zip(paths, labels_for(paths))]
    pooled = []
    if len(runs) > 1:
        from analyzer.analyses.correlate import REFERENCES, correlate_runs

        if progress:
            progress("pooled correlation")
        chosen = analysis_overrides("correlate", options)
        first = chosen.get("reference") or REFERENCES[0]
        bases = sorted({r.results["spectrum"].mode_name for r in runs if r.results.get("spectrum") is not None})
        if len(bases) > 1:  # correlate refuses to pool sine and harmonics runs: say so instead of testing
            from analyzer.analyses.spectrum.result import MODE_WORDS

            kinds = " and ".join(MODE_WORDS[name][1] for name in bases)
            pooled.append(f"not pooled: the runs' targets are on different bases ({kinds}); see each run's test")
        # the configured reference first, then the other one: seed 000's claim is about edges, escapes are
        # what the known-answer runs show to be the point a jump sits at (analyzer/analyses/correlate)
        for reference in (first, *[r for r in REFERENCES if r != first]) if len(bases) <= 1 else ():
            pooled.append(correlate_runs(paths, use_cache=options.use_cache, **{**chosen, "reference": reference}))
    import matplotlib.pyplot as plt

    # a report holds all its figures until they are written (and closed there): more than matplotlib's 20 is
    # the design, not a leak
    with plt.rc_context({"figure.max_open_warning": 0}):
        return render(runs, pooled, options)


def params_block(run: RunAnalyses) -> dict[str, dict]:
    """The default parameters of each analysis shown for this run (the report's overrides go on top)."""
    return {name: params_dict(make_params(get(name))) for name, result in run.results.items() if result is not None}


def render(runs: list[RunAnalyses], pooled, options: ReportOptions) -> Report:
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
    if not single:
        lines += comparison_section(runs, pooled, figs)
    for run in runs:
        lines += run_sections(run, figs, prefix="" if single else f"{_slug(run.label)}-", level=2 if single else 3,
                              heading=None if single else f"## Run: {run.label}")
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
