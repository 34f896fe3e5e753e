"""The hand-written commands, whose shape differs from one analysis on one run: info, correlate over many runs,
report and study."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from analyzer.cli.generated import JsonOpt, NoCacheOpt, analysis_options, parameters_from_options, with_signature
from analyzer.cli.output import emit, guarded

RunArg = Annotated[Path, typer.Argument(help="Run file (.h5) written by `train`.")]


@guarded
def info(run: RunArg, as_json: JsonOpt = False) -> None:
    """Schema, config, status, steps, checkpoints and sizes of a run file; the model in its own terms."""
    from analyzer.io.describe import describe, shown_spec
    from analyzer.io.run import open_run

    with open_run(run) as opened:
        summary = {
            "path": str(opened.path), "status": opened.status, "steps": opened.n_steps,
            "predictions": int(len(opened.pred_steps)), "checkpoints": int(len(opened.ckpt_steps)),
            "n_params": opened.n_params, "dtype": opened.dtype, "eval_points": int(opened.pred_dataset.shape[1]),
            "file_mb": round(opened.path.stat().st_size / 1e6, 3), "fingerprint": opened.fingerprint,
            "described": describe(opened), "model_spec": shown_spec(opened.model_spec),
            "layers": [{"name": n, "shape": list(s)} for n, s in zip(opened.layout.get("names", []),
                                                                  opened.layout.get("shapes", []))],
            "config": {**opened.config, "model": shown_spec(opened.config.get("model") or opened.model_spec)},
        }
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"run {run}", show_header=False, title_justify="left")
    for key, value in summary.items():
        if key not in ("config", "described", "model_spec", "layers"):
            table.add_row(key, str(value))
    for key, value in summary["described"].items():
        table.add_row(key, str(value))
    table.add_row("target", json.dumps(summary["config"].get("target")))
    Console().print(table)
    if summary["steps"] < 2:
        typer.echo(f"nothing to analyze yet: {summary['steps']} committed step(s)")


def correlate(runs: list[Path], as_json: bool = False, no_cache: bool = False, **values) -> None:
    """Are frequency jumps closer to escapes from plateaus than chance? Permutation test, pooled over runs."""
    from analyzer.analyses.correlate import correlate_runs

    emit(correlate_runs(list(runs), use_cache=not no_cache, **parameters_from_options(_correlate(), values)), as_json)


def _correlate():
    from analyzer.core.registry import get

    return get("correlate")


def add_correlate_command(app: typer.Typer) -> None:
    """`analyze correlate RUN...`: generated options, but one or more runs (several are pooled)."""
    runs_arg = inspect.Parameter("runs", inspect.Parameter.POSITIONAL_OR_KEYWORD, annotation=Annotated[
        list[Path], typer.Argument(help="One or more run files; several are pooled.")])
    wrapped = guarded(correlate)
    del wrapped.__wrapped__
    keyword = inspect.Parameter.KEYWORD_ONLY
    with_signature(wrapped, [runs_arg], analysis_options(_correlate()),
                   [inspect.Parameter("as_json", keyword, default=False, annotation=JsonOpt),
                    inspect.Parameter("no_cache", keyword, default=False, annotation=NoCacheOpt)])
    app.command(name="correlate")(wrapped)


@guarded
def report(runs: Annotated[list[Path], typer.Argument(help="One or more run files, shown side by side.")],
           out: Annotated[Path, typer.Option("-o", "--out", help="Report folder (REPORT.md + PNG figures).",
                                             file_okay=False)],
           overwrite: Annotated[bool, typer.Option(help="Replace an existing report; other files are kept.")] = False,
           hessian: Annotated[bool, typer.Option(help="Include the Hessian section (the slowest analysis).")] = True,
           penalty: Annotated[Optional[float], typer.Option(help="Plateau change-point penalty multiplier.")] = None,
           threshold: Annotated[Optional[float], typer.Option(help="Spectrum learned-threshold on relative error.")] = None,
           permutations: Annotated[Optional[int], typer.Option(help="Permutation-test draws.")] = None,
           title: Annotated[str, typer.Option(help="Report title.")] = "",
           workers: Annotated[Optional[int], typer.Option(
               help="Local Dask worker processes for the analyses, one thread each; 1 computes in this process.",
               show_default="one per core when a Hessian is to be computed")] = None,
           scheduler: Annotated[Optional[str], typer.Option(
               help="Address of an existing Dask scheduler (tcp://HOST:PORT) instead of a local cluster.")] = None,
           as_json: JsonOpt = False, no_cache: NoCacheOpt = False) -> None:
    """Markdown report with figures for one run, or several side by side, from cached analyses."""
    from analyzer.report import ReportOptions, check_output, json_summary, write_report

    check_output(out, overwrite)  # refuse before any analysis runs
    overrides = {"plateaus": {"penalty": penalty}, "spectrum": {"threshold": threshold},
                 "correlate": {"threshold": threshold, "n_permutations": permutations}}
    overrides = {name: {k: v for k, v in values.items() if v is not None} for name, values in overrides.items()}
    options = ReportOptions(use_cache=not no_cache, hessian=hessian, overrides=overrides, title=title,
                            workers=workers, scheduler=scheduler)
    built = _build_with_progress(list(runs), options)
    written = write_report(built, out, overwrite=overwrite)
    if as_json:
        typer.echo(json.dumps({**json_summary(built), "folder": str(out), "files": [str(p) for p in written]}))
    else:
        missing = f"; not available: {'; '.join(built.missing)}" if built.missing else ""
        typer.echo(f"wrote {out / 'REPORT.md'} and {len(written) - 1} figures{missing}", err=True)


def _build_with_progress(runs: list[Path], options):
    """The report, with its plan said up front and progress on stderr (a bar on a terminal, lines otherwise)."""
    from analyzer.core import progress
    from analyzer.report import build_report
    from analyzer.report.build import check_report_input
    from analyzer.report.plan import report_plan

    check_report_input(runs, options)  # bad input: its one-line error, before the plan or any analysis
    with progress.display("analyze report"):
        for line in report_plan(runs, options):
            progress.note(line)
        return build_report(runs, options, progress=lambda text: progress.task(f"analyzing {text}"))


@guarded
def study(inputs: Annotated[list[str], typer.Argument(
              help="Folders (their *.h5 run files), globs or run files; runs are grouped by preset.")],
          out: Annotated[Optional[Path], typer.Option("-o", "--out", file_okay=False,
                                                      help="Write the study report (REPORT.md + PNG) here.")] = None,
          overwrite: Annotated[bool, typer.Option(help="Replace an existing report; other files are kept.")] = False,
          workers: Annotated[Optional[int], typer.Option(
              help="Local Dask worker processes, one thread each.", show_default="one per core")] = None,
          scheduler: Annotated[Optional[str], typer.Option(
              help="Address of an existing Dask scheduler (tcp://HOST:PORT) instead of a local cluster.")] = None,
          hessian: Annotated[bool, typer.Option(help="Hessian at plateau checkpoints (the slowest analysis).")] = True,
          permutations: Annotated[int, typer.Option(help="Permutation-test draws.")] = 9999,
          resamples: Annotated[int, typer.Option(help="Bootstrap resamples.")] = 10_000,
          seed: Annotated[int, typer.Option(help="Seed of the permutation and bootstrap draws.")] = 0,
          null: Annotated[Optional[str], typer.Option(
              help="Null of the jump tests: swap (references swapped between runs of a group; calibrated, "
                   "bench/null_calibration.py), shift (circular shift in log-step within each run), log-uniform or "
                   "uniform (diagnostics). Default swap, leaving out groups of one run; named, swap refuses them.",
              show_default="swap")] = None,
          title: Annotated[str, typer.Option(help="Report title.")] = "",
          as_json: JsonOpt = False, no_cache: NoCacheOpt = False) -> None:
    """Many runs at once: per-preset CIs across seeds, pooled stratified tests, the float-rounding noise floor."""
    from analyzer.study.command import run_study_command

    run_study_command(inputs, out=out, overwrite=overwrite, workers=workers, scheduler=scheduler, hessian=hessian,
                      permutations=permutations, resamples=resamples, seed=seed, title=title, as_json=as_json,
                      use_cache=not no_cache, null=null)


def add_info_command(app: typer.Typer) -> None:
    app.command()(info)


def add_multi_run_commands(app: typer.Typer) -> None:
    """correlate over one or more runs, report and study."""
    add_correlate_command(app)
    app.command()(report)
    app.command()(study)
