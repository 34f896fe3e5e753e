"""The hand-written commands, whose shape is no analysis's: info and study (the report is built from the registry
in report.py)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer

from analyzer.cli.generated import JsonOpt, NoCacheOpt
from analyzer.cli.output import frame_to_tables, guarded

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
            "target_freqs": _target_freqs(opened),
        }
    if as_json:
        typer.echo(json.dumps(summary, indent=2))
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"run {run}", show_header=False, title_justify="left")
    for key, value in summary.items():
        if key not in ("config", "described", "model_spec", "layers", "target_freqs"):
            table.add_row(key, str(value))
    for key, value in summary["described"].items():
        table.add_row(key, str(value))
    if summary["target_freqs"] is not None:
        table.add_row("target frequencies", summary["target_freqs"]["text"])
    table.add_row("target", json.dumps(summary["config"].get("target")))
    Console().print(table)
    if summary["steps"] < 2:
        typer.echo(f"nothing to analyze yet: {summary['steps']} committed step(s)")


def _target_freqs(run) -> dict | None:
    """What the spectrum tracks and how it was found (detected: method and threshold), on what coordinate: the
    frequencies, or the degrees on sphere coords; None for a `train run --target harmonics` run."""
    from trainer.runfile.frequencies import detection_text, method_text

    if run.target.get("kind") == "harmonics":
        return None
    coords = run.coords
    return {"freqs_hz": list(run.target.get("freqs_hz") or []), "degrees": run.target.get("degrees"),
            "how": method_text(run.target),
            "detection": run.target.get("freqs_detection"),
            "coordinate": "x_eval" if coords is None else f"coords ({coords.shape[1]}-D)",
            "text": detection_text(run.target)}


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
              help="Null of the jump tests: clock-swap (references swapped between runs of a group after aligning "
                   "the runs on their clocks; chosen by bench/null_calibration.py), swap, interval-jitter, shift, "
                   "log-uniform or uniform (diagnostics). The default leaves out groups of one run; named, a "
                   "swap-type null refuses them.",
              show_default="clock-swap")] = None,
          group_by: Annotated[Optional[str], typer.Option(
              help="Comma list of config keys that form the groups within a preset (a nested key by its last part, "
                   "e.g. lr or user.width), instead of every key that varies.",
              show_default="every varying key except those that identify a run")] = None,
          title: Annotated[str, typer.Option(help="Report title.")] = "",
          as_json: JsonOpt = False, no_cache: NoCacheOpt = False) -> None:
    """Many runs at once: per-group CIs across seeds, the claims' tests adjusted as one family, the noise floor."""
    from analyzer.study.command import run_study_command

    study = run_study_command(inputs, out=out, overwrite=overwrite, workers=workers, scheduler=scheduler,
                              hessian=hessian, permutations=permutations, resamples=resamples, seed=seed, title=title,
                              use_cache=not no_cache, null=null,
                              group_by=tuple(k.strip() for k in group_by.split(",") if k.strip()) if group_by else ())
    _print_study(study, as_json)


def _print_study(study, as_json: bool) -> None:
    """The study as JSON, or its verdicts and the learned-step table in the terminal."""
    if as_json:
        from analyzer.study.report import to_json

        typer.echo(json.dumps(to_json(study), indent=2, allow_nan=False))
        return
    from rich.console import Console
    from rich.markup import escape

    console = Console()
    for item in study.verdicts:
        console.print(f"[bold]{escape(item.observation)}: {item.verdict}[/bold] - {escape(item.evidence)}",
                      highlight=False)
    result = study.results["spectral_bias"]
    units = set(result["learned"]["mode_unit"])  # the runs' mode unit, as the --json rows give it (json_modes)
    heading = units.pop() if len(units) == 1 else "mode"  # Hz for sines, degree for spherical harmonics
    table = result["table"].rename(columns={"mode": heading, "n_not_learned": "not learned",
                                            "n_reached_then_lost": "reached, lost"})
    for title, rich_table in frame_to_tables(table, "learned step across seeds (mean, 95 % bootstrap CI)", console.width):
        console.print(title, style="italic", highlight=False)
        console.print(rich_table)
    if study.skipped:
        console.print(f"{len(study.skipped)} run(s) skipped: " + "; ".join(f"{s.path}: {s.reason}" for s in study.skipped),
                      markup=False, highlight=False)


def add_info_command(app: typer.Typer) -> None:
    app.command()(info)


def add_study_command(app: typer.Typer) -> None:
    app.command()(study)
