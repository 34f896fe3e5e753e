"""`train import`: a folder of another training loop's checkpoints converted into a run file."""

from __future__ import annotations

import math
from pathlib import Path
from typing import Annotated, Optional

import typer

from trainer.cli.common import floats_option, guard

def import_command(
    folder: Annotated[Path, typer.Argument(help="Folder of checkpoints: *.pt / *.pth / *.bin state dicts, *.ckpt "
                                                "(PyTorch Lightning), *.safetensors, or one sub-folder per "
                                                "checkpoint (checkpoint-N/model.safetensors or pytorch_model.bin).")],
    model: Annotated[str, typer.Option(help="The model: package.module:callable (imported and called: runs your "
                                            "code), or preset:NAME for one of ours (see `train presets`).")],
    data: Annotated[Path, typer.Option(help=".npz with x_train, y_train (optional x_eval, y_eval: the eval grid).",
                                       dir_okay=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run file to write.", dir_okay=False)],
    model_kwargs: Annotated[Optional[str], typer.Option(
        help="JSON object of keyword arguments for the constructor (with preset:NAME: model spec fields).")] = None,
    losses: Annotated[Optional[Path], typer.Option(
        help="CSV with a step column and a loss column: per-step losses merged between the checkpoints.",
        dir_okay=False)] = None,
    loss_column: Annotated[str, typer.Option(help="The --losses column that holds the loss.")] = "loss",
    loss_kind: Annotated[Optional[str], typer.Option(
        help="Which loss that column holds: mse (mean((f(x) - y)^2), perhaps on minibatches) or user (your own "
             "loss: kept as the whole series, labelled user-defined, never mixed with the recomputed MSE).",
        show_default="checked: the column must agree with the recomputed MSE")] = None,
    optimizer: Annotated[Optional[str], typer.Option(
        help="The optimizer the run was trained with (recorded, e.g. Adam).")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Its learning rate (recorded).")] = None,
    step_regex: Annotated[Optional[str], typer.Option(
        help="Regular expression on the file (or sub-folder) name; its group (or group 'step') is the step.",
        show_default="the number after 'step' (step=20), else the last number in the name; a Lightning file "
                     "without one: its global_step")] = None,
    key_prefix: Annotated[Optional[str], typer.Option(
        help="Prefix of the model's keys in the checkpoints, stripped (e.g. model. for a LightningModule holding "
             "the network as self.model); keys without it are left out.",
        show_default="none; module. (DataParallel/DDP) and _orig_mod. (torch.compile) are stripped when that "
                     "makes the keys fit")] = None,
    freqs: Annotated[Optional[str], typer.Option(
        help="Target frequencies the spectrum tracks, in Hz (cycles per unit of x: sin(k x) is k / (2 pi) Hz), e.g. "
             "1,3,7; checked against the eval grid before anything is written.",
        show_default="every DFT peak of y_eval at >= 10% of the largest, on a uniform 1-D grid")] = None,
    coords: Annotated[Optional[str], typer.Option(
        help="The coordinate the target lives on when the model's input encodes it (e.g. x under a sin/cos "
             "encoding): an array of the --data file, or a .npy file, one row per eval point; the spectrum's "
             "frequencies are read on it.")] = None,
    max_freqs: Annotated[Optional[int], typer.Option(
        help="Keep at most this many detected frequencies, the largest (the import says which it left out).",
        show_default="no limit", min=1)] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing run file (once the import is done).")] = False,
) -> None:
    """Convert a folder of checkpoints saved by another training loop into a run file.

    Predictions on the eval grid, the loss mean((f(x) - y)^2) and its gradient norm are recomputed per checkpoint.
    A --losses column that is not that MSE needs --loss-kind user (or --loss-column naming one that is).

    Checkpoints are read as data only (torch.load weights_only=True, safetensors).

    Nothing is written at OUT unless the import succeeds.
    """
    from trainer.constructor import parse_kwargs
    from trainer.byo.importer import LossOptions, TargetOptions, import_run
    from trainer.runfile.schema import check_writable_target
    from trainer.runfile.lock import check_unlocked

    kwargs = guard(parse_kwargs, model_kwargs)
    guard(check_writable_target, out, overwrite)
    guard(check_unlocked, out)
    known = {key: value for key, value in (("optimizer", optimizer), ("lr", lr)) if value is not None}
    bar = _import_progress()  # shown once checkpoints are written, never while the input is checked
    task = bar.add_task(f"import {folder.name}", total=None)

    def progress(done: int, total: int) -> None:
        if not bar.console.is_terminal:
            return  # redirected: the summary line says what was done, no stray empty line from the live bar
        if not bar.live.is_started:
            bar.start()
        bar.update(task, completed=done, total=total)

    target = TargetOptions(floats_option(freqs, "freqs"), coords, max_freqs)
    try:
        result = guard(import_run, folder, model, data, out, model_kwargs=kwargs,
                       losses=LossOptions(losses, loss_column, loss_kind), step_regex=step_regex, target=target,
                       overwrite=overwrite, optimizer=known, progress=progress, key_prefix=key_prefix)
    finally:
        if bar.live.is_started:
            bar.stop()  # transient: the bar is erased, also after an error
    if result.notes:
        typer.echo(f"import: {'; '.join(result.notes)}", err=True)
    rate = result.checkpoints / result.seconds if result.seconds > 0 else float("inf")
    typer.echo(f"{result.path}: {result.checkpoints} checkpoints (steps {result.first_step} to {result.last_step}), "
               f"{result.log_rows} log rows ({result.csv_rows} from the CSV) in {result.seconds:.1f} s "
               f"({rate:,.0f} checkpoints/s); {_target_text(result.target)}{_loss_text(result)}", err=True)


def _target_text(target: dict) -> str:
    from trainer.runfile.frequencies import detection_text

    if target["freqs_hz"]:
        return f"target frequencies {detection_text(target)}"
    return f"no target frequencies found ({target.get('freqs_note')}): the spectrum needs them (pass --freqs or --coords)"


def _loss_text(result) -> str:
    from trainer.runfile.loss_log import loss_label

    if result.csv_rows == 0:
        return "; loss: the recomputed MSE"
    label = loss_label(result.loss.to_dict()).removeprefix("training loss ")
    diff = result.csv_max_rel_diff
    return (f"; loss: CSV column {result.loss.column!r} {label}" +
            ("" if math.isnan(diff) else f", up to {diff:.2g} relative from the recomputed MSE at the checkpoints"))


def _import_progress():
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("checkpoints"), TimeRemainingColumn(), console=Console(stderr=True), transient=True)
