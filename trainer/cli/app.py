"""`train`: the typer app: the default study, resume and presets here; run (cli/run.py), sweep and ensemble
(cli/sweep.py) and import (cli/imports.py) are registered here."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from trainer.cli.common import RUNS_DIR, EngineOption, guard, with_progress
from trainer.cli.imports import import_command
from trainer.cli.run import run_command
from trainer.cli.sweep import ensemble_command, run_sweep_command, sweep_command

app = typer.Typer(add_completion=False, invoke_without_command=True,
                  help="Train MLPs on synthetic targets; one crash-safe HDF5 run file per run.")


@app.callback()
def default_study(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder for the run files.")] = RUNS_DIR,
    epochs: Annotated[Optional[int], typer.Option(help="Override the presets' 10,000 epochs.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace existing run files.")] = False,
    skip_existing: Annotated[bool, typer.Option(
        help="Keep complete runs, resume interrupted or killed ones, train the rest.")] = False,
) -> None:
    """With no command: train the default study (baseline, wide, deep, sgd; seed 0) into data/runs/.

    It is a sweep (see `train sweep`) over the four presets, run in parallel on a local Dask cluster.
    """
    if ctx.invoked_subcommand is not None:
        return
    from trainer.config import DEFAULT_STUDY
    from trainer.runfile.schema import check_writable_target
    from trainer.sweep.plan import plan_sweep

    runs = guard(plan_sweep, DEFAULT_STUDY, (0,), {"epochs": (epochs,)} if epochs is not None else {})
    if not skip_existing:
        for run in runs:
            guard(check_writable_target, out_dir / run.file, overwrite)  # refuse before training anything
    run_sweep_command(out_dir, runs, overwrite=overwrite, manifest=False)


app.command("run")(run_command)


@app.command()
def resume(run: Annotated[Path, typer.Argument(help="A killed or interrupted run file.", dir_okay=False)],
           engine: EngineOption = "auto") -> None:
    """Continue a killed or interrupted run from its last committed checkpoint (bitwise identical).

    Refused (exit 2) while another process is writing the run (lock file RUN.lock).
    """
    from trainer.config import TrainConfig
    from trainer.engines.loop import resume as resume_run
    from trainer.runfile.schema import check_resumable, check_trainer_run, open_swmr_reader
    from trainer.runfile.lock import check_unlocked

    def read_config() -> TrainConfig:
        check_unlocked(run)  # refuse before showing a progress bar; the writer's own lock is what counts
        with open_swmr_reader(run) as f:
            check_resumable(f, run)
            check_trainer_run(f, run)
            return TrainConfig.from_json(f.attrs["config"])

    config = guard(read_config)
    with_progress(f"resume {run.name}", config.epochs, resume_run, run, engine=engine)


@app.command()
def presets() -> None:
    """List the presets."""
    from rich.console import Console
    from rich.table import Table

    from trainer.config import PRESET_DESCRIPTIONS, PRESETS

    table = Table(title="presets", title_justify="left")
    for column in ("name", "model", "optimizer", "lr", "epochs", "description"):
        table.add_column(column)
    for name, config in PRESETS.items():
        m = config.model
        shape = f"{m.depth} x {m.width} {m.activation}" if m.kind == "mlp" else f"{m.kind} K={m.features}"
        table.add_row(name, shape, config.optimizer, f"{config.lr:g}", f"{config.epochs:,}", PRESET_DESCRIPTIONS[name])
    Console().print(table)


app.command("sweep")(sweep_command)
app.command("ensemble")(ensemble_command)
app.command("import")(import_command)


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
