"""`analyze`: thin typer commands over the analysis registry (parse, call the library, print).

Exit codes: 0 ok (also when nothing is found), 1 an analysis failed on valid input, 2 bad input.
Progress goes to stderr; with --json, stdout carries only JSON.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any, Optional

import typer

app = typer.Typer(add_completion=False, no_args_is_help=True,
                  help="Analyze run files offline: plateaus, spectra, Hessian saddles, their correlation, reports.")

# no dir_okay=False: click would answer a folder with a multi-line usage box; open_run says it in one line
RunArg = Annotated[Path, typer.Argument(help="Run file (.h5) written by `train`.")]
JsonOpt = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON on stdout only.")]
CacheOpt = Annotated[Optional[Path], typer.Option("--cache", help="Sidecar cache path.", show_default="RUN.analysis.h5")]
NoCacheOpt = Annotated[bool, typer.Option("--no-cache", help="Recompute and write no cache.")]


@app.callback()
def _group() -> None:
    """Analyze run files offline: plateaus, spectra, Hessian saddles, their correlation, reports."""


def fail(message: str, code: int = 2) -> None:
    """One-line error on stderr and exit; never a traceback."""
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def guarded(fn):
    """Map the analyzer's and trainer's exceptions to one-line errors with the documented exit codes."""
    import functools

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        from analyzer.errors import AnalysisFailed, BadInputError
        from trainer.errors import TrainerError

        try:
            return fn(*args, **kwargs)
        except (BadInputError, TrainerError) as err:
            fail(str(err), 2)
        except AnalysisFailed as err:
            fail(str(err), 1)
        except KeyboardInterrupt:
            fail("interrupted", 130)

    return wrapper


def emit(result: Any, as_json: bool, extra: dict | None = None) -> None:
    """Print a result: JSON on stdout, or its headline and rich tables."""
    from analyzer.registry import to_jsonable

    if as_json:
        payload = to_jsonable(result)
        if extra:
            payload = {**extra, "result": payload}
        typer.echo(json.dumps(payload, indent=2, allow_nan=False))
        return
    from rich.console import Console

    console = Console()
    headline = getattr(result, "headline", None)
    if callable(headline):
        console.print(headline())
    tables = getattr(result, "tables", None)
    for title, frame in (tables() if callable(tables) else {}).items():
        for table_title, table in frame_to_tables(frame, title, console.width):
            console.print(table_title, style="italic", highlight=False)
            console.print(table)


def frame_to_tables(frame, title: str, width: int) -> list:
    """(title, rich table) pairs of a frame, none wider than `width` (the terminal): no header or cell is cut.

    Columns that do not fit beside each other go into further tables that repeat the first (key) column,
    the way pandas wraps a wide frame; a single column wider than the terminal folds its cells. Titles are
    printed above the tables, not as table titles, which rich would wrap to the table's width.
    """
    from rich.cells import cell_len
    from rich.table import Table

    headers = [str(c) for c in frame.columns]
    rows = [[_cell(v) for v in row] for row in frame.itertuples(index=False)]
    natural = [max([cell_len(h), *(cell_len(r[i]) for r in rows)]) for i, h in enumerate(headers)]
    groups = _column_groups(natural, width)
    tables = []
    for part, group in enumerate(groups, start=1):
        suffix = f" ({part}/{len(groups)})" if len(groups) > 1 else ""
        table = Table()
        for i in group:
            numeric = frame[frame.columns[i]].dtype.kind in "iuf"
            table.add_column(headers[i], justify="right" if numeric else "left", overflow="fold")
        for row in rows:
            table.add_row(*(row[i] for i in group))
        tables.append((title + suffix, table))
    return tables


def _column_groups(natural: list[int], width: int, overhead: int = 3) -> list[list[int]]:
    """Column indices per table: the key column 0, then as many columns as fit in `width` (each column costs
    its width plus padding and a rule; the table one more rule)."""
    if len(natural) <= 1:
        return [list(range(len(natural)))]
    groups, current, used = [], [0], 1 + natural[0] + overhead
    for i in range(1, len(natural)):
        if used + natural[i] + overhead > width and len(current) > 1:
            groups.append(current)
            current, used = [0], 1 + natural[0] + overhead
        current.append(i)
        used += natural[i] + overhead
    return groups + [current]


def _cell(value: Any) -> str:
    if isinstance(value, float):
        return "-" if value != value else f"{value:.4g}"
    return str(value)


def run_analysis(name: str, run_path: Path, cache: Path | None, no_cache: bool, **params: Any):
    from analyzer.api import analyze

    return analyze(run_path, name, cache=cache, use_cache=not no_cache, **params)


@app.command()
@guarded
def info(run: RunArg, as_json: JsonOpt = False) -> None:
    """Schema, config, status, steps, checkpoints and sizes of a run file."""
    from analyzer.run import open_run

    with open_run(run) as opened:
        summary = {
            "path": str(opened.path), "status": opened.status, "steps": opened.n_steps,
            "predictions": int(len(opened.pred_steps)), "checkpoints": int(len(opened.ckpt_steps)),
            "n_params": opened.n_params, "dtype": opened.dtype, "eval_points": int(opened.pred_dataset.shape[1]),
            "file_mb": round(opened.path.stat().st_size / 1e6, 3), "fingerprint": opened.fingerprint,
            "config": opened.config,
        }
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"run {run}", show_header=False, title_justify="left")
    for key, value in summary.items():
        if key != "config":
            table.add_row(key, str(value))
    config = summary["config"]
    table.add_row("preset", str(config.get("preset")))
    table.add_row("model", json.dumps(config.get("model")))
    table.add_row("target", json.dumps(config.get("target")))
    table.add_row("optimizer", f"{config.get('optimizer')} lr={config.get('lr')} epochs={config.get('epochs')}")
    Console().print(table)
    if summary["steps"] < 2:
        typer.echo(f"nothing to analyze yet: {summary['steps']} committed step(s)")


# ---- analysis commands: one per registered analysis (added below this line) ----------------------


@app.command()
@guarded
def plateaus(run: RunArg,
             penalty: Annotated[Optional[float], typer.Option(
                 help="Multiplier on the noise-scaled change-point penalty; larger, fewer cuts.", show_default="1")] = None,
             min_duration: Annotated[Optional[float], typer.Option(
                 help="Shortest plateau in decades of steps.", show_default="0.1")] = None,
             slope_threshold: Annotated[Optional[float], typer.Option(
                 help="Largest |d log10 loss / d log10 step| of a plateau.", show_default="0.1")] = None,
             window: Annotated[Optional[int], typer.Option(
                 help="Running-median window in steps (odd) that removes loss spikes.", show_default="51")] = None,
             slope_window: Annotated[Optional[float], typer.Option(
                 help="Width in decades of the gradient method's local slope fit.", show_default="0.2")] = None,
             tolerance: Annotated[Optional[float], typer.Option(
                 help="Edges of the two methods agree within this many decades.", show_default="0.1")] = None,
             edges: Annotated[Optional[str], typer.Option(
                 help="Change-point edges: logistic (10/90 % points of a logistic fitted to each loss drop, "
                      "where it fits better than lines) or corner.", show_default="logistic")] = None,
             as_json: JsonOpt = False, cache: CacheOpt = None, no_cache: NoCacheOpt = False) -> None:
    """Plateaus of log10(loss): change points (Pelt) and the slope-threshold method, with their agreement."""
    emit(run_analysis("plateaus", run, cache, no_cache, penalty=penalty, min_duration=min_duration,
                      slope_threshold=slope_threshold, window=window, slope_window=slope_window,
                      tolerance=tolerance, edges=edges), as_json)


@app.command()
@guarded
def hessian(run: RunArg,
            at: Annotated[str, typer.Option(help="Checkpoints: plateaus (edges and midpoints), every, steps.")] = "plateaus",
            every: Annotated[Optional[int], typer.Option(help="Analyse every N steps (implies --at every).")] = None,
            steps: Annotated[Optional[str], typer.Option(help="Comma-separated stored steps (implies --at steps).")] = None,
            k: Annotated[Optional[int], typer.Option("--k", help="Top and bottom eigenpairs.", show_default="10")] = None,
            method: Annotated[Optional[str], typer.Option(help="dense, lanczos or auto.", show_default="auto")] = None,
            tol: Annotated[Optional[float], typer.Option(
                help="Residual tolerance relative to max |eigenvalue|.", show_default="1e-8")] = None,
            index_tol: Annotated[Optional[float], typer.Option(
                help="Eigenvalues below -index_tol * max |eigenvalue| are negative.", show_default="1e-6")] = None,
            krylov_steps: Annotated[Optional[int], typer.Option(
                help="Cap on the certified subspace run (its dimension, ~HVPs); beyond it the index is a "
                     "bracketed estimate.", show_default="5000")] = None,
            as_json: JsonOpt = False, cache: CacheOpt = None, no_cache: NoCacheOpt = False) -> None:
    """Hessian spectrum at checkpoints: extreme eigenvalues, saddle index, trace, saddle candidates."""
    from analyzer.errors import BadInputError

    step_list = None
    if steps is not None:
        try:
            step_list = tuple(int(s) for s in steps.split(",") if s.strip())
        except ValueError:
            raise BadInputError(f"--steps must be comma-separated integers, got {steps!r}") from None
        at = "steps"
    elif every is not None:
        at = "every"
    emit(run_analysis("hessian", run, cache, no_cache, at=at, every=every, steps=step_list, k=k, method=method,
                      tol=tol, index_tol=index_tol, krylov_steps=krylov_steps), as_json)


@app.command()
@guarded
def spectrum(run: RunArg, threshold: Annotated[Optional[float], typer.Option(
                 help="Relative error below which a frequency counts as learned.", show_default="0.1")] = None,
             min_drop: Annotated[Optional[float], typer.Option(
                 help="Smallest rise of the learned fraction 1 - min(rel. error, 1) across the window that is a jump.",
                 show_default="0.3")] = None,
             spike_window: Annotated[Optional[int], typer.Option(
                 help="Odd running-median window, in prediction steps, on which 'stays below the threshold' is "
                      "judged: spikes up to half the window are ignored; 0 or 1 = strict.", show_default="51")] = None,
             min_log_drop: Annotated[Optional[float], typer.Option(
                 help="Smallest fall of log10(rel. error) through the threshold, in decades across the window, that "
                      "is a log-scale jump (late refinements); 0 = off.", show_default="0.5")] = None,
             as_json: JsonOpt = False, cache: CacheOpt = None, no_cache: NoCacheOpt = False) -> None:
    """Per-step DFT of the predictions: learned step and jumps of every target frequency."""
    emit(run_analysis("spectrum", run, cache, no_cache, threshold=threshold, min_drop=min_drop,
                      spike_window=spike_window, min_log_drop=min_log_drop), as_json)


@app.command()
@guarded
def correlate(runs: Annotated[list[Path], typer.Argument(help="One or more run files; several are pooled.")],
              permutations: Annotated[Optional[int], typer.Option(
                  "--permutations", help="Null draws of the permutation test.", show_default="9999")] = None,
              seed: Annotated[Optional[int], typer.Option(help="Seed of the null draws.", show_default="0")] = None,
              null: Annotated[Optional[str], typer.Option(
                  help="Null for jump positions: log-uniform (distances in decades) or uniform (in steps).")] = None,
              threshold: Annotated[Optional[float], typer.Option(
                  help="Spectrum threshold on the relative error.", show_default="0.1")] = None,
              reference: Annotated[Optional[str], typer.Option(
                  help="Reference points: escapes (midpoints of the loss drops that end plateaus) or plateau "
                       "edges.", show_default="escapes")] = None,
              as_json: JsonOpt = False, no_cache: NoCacheOpt = False) -> None:
    """Are frequency jumps closer to escapes from plateaus than chance? Permutation test, pooled over runs."""
    from analyzer.correlate import correlate_runs

    emit(correlate_runs(list(runs), use_cache=not no_cache, n_permutations=permutations, seed=seed, null=null,
                        threshold=threshold, reference=reference), as_json)


@app.command()
@guarded
def score(run: RunArg,
          edge_tolerance: Annotated[Optional[float], typer.Option(
              help="Plateau edges are right within this fraction of the plateau length.", show_default="0.05")] = None,
          alpha: Annotated[Optional[float], typer.Option(
              help="Level the correlation test must reject at.", show_default="0.01")] = None,
          index_tol: Annotated[Optional[float], typer.Option(
              help="Relative Hessian index tolerance, passed to the Hessian analysis.", show_default="1e-12")] = None,
          as_json: JsonOpt = False, cache: CacheOpt = None, no_cache: NoCacheOpt = False) -> None:
    """Known-answer run (model diag-linear): every detector scored against the closed form."""
    emit(run_analysis("score", run, cache, no_cache, edge_tolerance=edge_tolerance, alpha=alpha,
                      index_tol=index_tol), as_json)


@app.command()
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
           as_json: JsonOpt = False, no_cache: NoCacheOpt = False) -> None:
    """Markdown report with figures for one run, or several side by side, from cached analyses."""
    from analyzer.report import ReportOptions, build_report, check_output, json_summary, write_report

    check_output(out, overwrite)  # refuse before any analysis runs
    overrides = {"plateaus": {"penalty": penalty}, "spectrum": {"threshold": threshold},
                 "correlate": {"threshold": threshold, "n_permutations": permutations}}
    overrides = {name: {k: v for k, v in values.items() if v is not None} for name, values in overrides.items()}
    options = ReportOptions(use_cache=not no_cache, hessian=hessian, overrides=overrides, title=title)
    with _status() as status:
        built = build_report(list(runs), options, progress=lambda text: status.update(f"analyzing {text}"))
    written = write_report(built, out, overwrite=overwrite)
    if as_json:
        typer.echo(json.dumps({**json_summary(built), "folder": str(out), "files": [str(p) for p in written]}))
    else:
        missing = f"; not available: {'; '.join(built.missing)}" if built.missing else ""
        typer.echo(f"wrote {out / 'REPORT.md'} and {len(written) - 1} figures{missing}", err=True)


def _status():
    from rich.console import Console

    return Console(stderr=True).status("analyzing")


@app.command()
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
          title: Annotated[str, typer.Option(help="Report title.")] = "",
          as_json: JsonOpt = False, no_cache: NoCacheOpt = False) -> None:
    """Many runs at once: per-preset CIs across seeds, pooled stratified tests, the float-rounding noise floor."""
    from analyzer.study_cli import run_study_command

    run_study_command(inputs, out=out, overwrite=overwrite, workers=workers, scheduler=scheduler, hessian=hessian,
                      permutations=permutations, resamples=resamples, seed=seed, title=title, as_json=as_json,
                      use_cache=not no_cache)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
