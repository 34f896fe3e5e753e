"""`train sweep` and `train ensemble`: many runs at once (Dask sweeps, ensembles), and the default study's sweep."""

from __future__ import annotations

import dataclasses
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated, Optional

import typer

from trainer.cli.common import RUNS_DIR, fail, guard, progress_bar, report_result
from trainer.cli.options import ensemble_option, ensemble_settings, sweep_option, sweep_settings, with_options
from trainer.cli.target import DegreesOpt, InputDimOpt, TargetKindOpt, TargetSeedOpt, harmonics_target

def run_sweep_command(folder: Path, runs, *, overwrite: bool, manifest: bool, scheduler: Optional[str] = None,
           workers: Optional[int] = None, retries: int = 2, json_out: bool = False) -> None:
    """Run a planned sweep under a progress bar over runs; print the summary; exit 130 / 1 / 0."""
    from trainer.sweep.runner import run_sweep

    with _sweep_progress(len(runs)) as (on_outcome, on_step):
        summary = guard(run_sweep, folder, runs, overwrite=overwrite, scheduler=scheduler, workers=workers,
                         retries=retries, manifest=manifest, on_outcome=on_outcome, on_step=on_step)
    _print_summary(summary, json_out)
    raise typer.Exit(130 if summary.interrupted else 1 if summary.failed else 0)


@contextmanager
def _sweep_progress(n_runs: int):
    """A rich bar over runs on stderr, a bar per run in flight, and a line per finished run."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    bar = Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn("{task.fields[note]}"), TimeElapsedColumn(), console=Console(stderr=True))
    overall = bar.add_task("runs", total=n_runs, note="")
    in_flight: dict[str, int] = {}

    def on_step(file: str, step: int, epochs: int, loss: float) -> None:
        if file not in in_flight:
            in_flight[file] = bar.add_task(f"  {file}", total=epochs, note="")
        bar.update(in_flight[file], completed=step, note=f"loss {loss:.3e}")

    def on_outcome(outcome) -> None:
        if outcome.file in in_flight:
            bar.remove_task(in_flight.pop(outcome.file))
        bar.advance(overall)
        bar.console.print(_outcome_line(outcome), highlight=False, soft_wrap=True)

    with bar:
        yield on_outcome, on_step


def _outcome_line(outcome) -> str:
    if outcome.action == "kept":
        return f"{outcome.file}: {outcome.status}, kept"
    if outcome.action == "failed":
        return f"{outcome.file}: FAILED: {outcome.error}"
    return (f"{outcome.file}: {outcome.action}, {outcome.status} after {outcome.steps} steps in "
            f"{outcome.seconds:.1f} s (final loss {outcome.final_loss:.3e})")


def _print_summary(summary, json_out: bool) -> None:
    import json

    if json_out:
        typer.echo(json.dumps(summary.to_dict(), indent=1))
    counts = ", ".join(f"{n} {action}" for action, n in summary.to_dict()["counts"].items())
    typer.echo(f"sweep {summary.folder}: {len(summary.outcomes)} runs: {counts}", err=True)
    for outcome in summary.failed:
        typer.echo(f"failed: {outcome.file}: {outcome.error}", err=True)
    if summary.interrupted:
        typer.echo("interrupted: rerun the same command to resume the unfinished runs", err=True)


def sweep_command(
    *,
    out: Annotated[Path, typer.Option(help="Sweep folder: one run file per run, plus sweep.json.", file_okay=False)],
    presets: Annotated[str, typer.Option(help="Comma-separated presets.")] = "baseline,wide,deep,sgd",
    seeds: Annotated[str, typer.Option(help="Seeds: 0-7, 0,2,5 or 0-3,8.")] = "0",
    replicates: Annotated[Optional[str], typer.Option(
        help="Perturbation seeds (with --perturb): same seed, init perturbed; files NAME-sS-pR.h5.")] = None,
    workers: Annotated[Optional[int], typer.Option(
        help="Local worker processes, one thread each [default: one per core].", min=1)] = None,
    scheduler: Annotated[Optional[str], typer.Option(
        help="Use an existing Dask cluster: tcp://HOST:PORT or a scheduler file.")] = None,
    retries: Annotated[int, typer.Option(help="Dask retries of a run whose attempt raised.", min=0)] = 2,
    overwrite: Annotated[bool, typer.Option(help="Retrain runs whose files exist.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
    **values,
) -> None:
    """Train presets x seeds x config values on Dask; a rerun keeps finished runs and resumes killed ones.

    Comma lists make a grid, e.g. --lr 0.01,0.001 doubles the runs; files are named from the varied
    values (baseline-s3-lr0.001.h5). Exit 0 when every run finished (diverged counts), 1 if any failed.
    """
    from trainer.sweep.plan import parse_grid_values, parse_int_set, plan_sweep

    texts = {item.flag: values[item.python_name] for item in sweep_settings() if item.spec.grid}
    grid = {name: guard(parse_grid_values, name, text) for name, text in texts.items() if text is not None}
    seed_list = guard(parse_int_set, seeds, "seeds")
    replicate_list = guard(parse_int_set, replicates, "replicates") if replicates is not None else None
    harmonics = harmonics_target(values["target"], values["input_dim"], values["degrees"], values["target_seed"])
    runs = guard(plan_sweep, [p for p in presets.replace(" ", "").split(",") if p], seed_list, grid, replicate_list,
                 target=harmonics)
    run_sweep_command(out, runs, overwrite=overwrite, manifest=True, scheduler=scheduler, workers=workers, retries=retries,
           json_out=json_out)


with_options(sweep_command, [sweep_option(item) for item in sweep_settings()],
             trailing=("workers", "scheduler", "retries", "overwrite", "json_out"))


def _seed_list(text: str) -> list[int]:
    """'0-7' or '0,3,5' (or a mix) as a list of seeds."""
    seeds: list[int] = []
    try:
        for part in text.replace(" ", "").split(","):
            low, _, high = part.partition("-")
            seeds += list(range(int(low), int(high) + 1)) if high else [int(low)]
    except ValueError:
        fail(f"--seeds takes ranges and numbers like 0-7 or 0,3,5, got {text!r}")
    if not seeds or len(set(seeds)) != len(seeds):
        fail(f"--seeds must name distinct seeds, got {text!r}")
    return seeds


def ensemble_command(
    *,
    preset: Annotated[str, typer.Option(help="Preset every member starts from.")] = "baseline",
    seeds: Annotated[str, typer.Option(help="Seeds, e.g. 0-7 or 0,3,5: one member (and run file) each.")] = "0-7",
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder for the run files PRESET-sSEED.h5.")] = RUNS_DIR,
    batch: Annotated[Optional[bool], typer.Option(
        "--batch/--no-batch", help="One vectorized loop for all members (default: only on a GPU).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace existing run files.")] = False,
    target: TargetKindOpt = None, input_dim: InputDimOpt = None, degrees: DegreesOpt = None,
    target_seed: TargetSeedOpt = None,
    **values,
) -> None:
    """Train one preset over several seeds together; every member writes its own ordinary run file."""
    from trainer.config import get_preset
    from trainer.sweep.ensemble import train_ensemble
    from trainer.sweep.plan import with_target

    harmonics = harmonics_target(target, input_dim, degrees, target_seed)
    base = with_target(guard(get_preset, preset), harmonics)
    changes: dict[str, dict] = {"run": {}, "target": {}, "model": {}}
    for item in ensemble_settings():  # the settings every member shares, where given
        if values[item.python_name] is not None:
            changes[item.part][item.attribute] = values[item.python_name]
    base = dataclasses.replace(base, target=dataclasses.replace(base.target, **changes["target"]),
                               model=dataclasses.replace(base.model, **changes["model"]), **changes["run"])
    configs = [dataclasses.replace(base, seed=seed) for seed in _seed_list(seeds)]
    kind = ("-twin" if base.linearize else "") + ("-harmonics" if harmonics is not None else "")
    paths = [out_dir / f"{preset}-s{c.seed}{kind}.h5" for c in configs]
    with progress_bar() as bar:
        total = configs[0].epochs * len(configs)
        task = bar.add_task(f"{preset} x {len(configs)} seeds", total=total, loss=float("nan"), rate="-")

        def update(step: int, loss: float) -> None:
            if step % 50 == 0 or step == total:
                bar.update(task, completed=step, loss=loss, rate=f"{bar.tasks[0].speed or 0:,.0f}")

        results = guard(train_ensemble, configs, paths, batch=batch, overwrite=overwrite, progress=update)
    for result in results:
        report_result(result)


with_options(ensemble_command, [ensemble_option(item) for item in ensemble_settings()],
             trailing=("batch", "overwrite", "target", "input_dim", "degrees", "target_seed"))
