"""What the `train` commands share: one-line errors, progress bars, the engine option, one run trained under a bar."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

RUNS_DIR = Path("data/runs")


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def guard(fn, *args, **kwargs):
    from trainer.errors import TrainerError

    try:
        return fn(*args, **kwargs)
    except TrainerError as err:
        fail(str(err))


def floats_option(text: Optional[str], name: str) -> Optional[tuple[float, ...]]:
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.replace(" ", "").split(",") if v != "")
    except ValueError:
        fail(f"--{name} takes comma-separated numbers, got {text!r}")


def progress_bar():
    """A rich progress bar on stderr showing step, loss and steps/s."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("loss {task.fields[loss]:.3e}"), TextColumn("{task.fields[rate]} steps/s"),
                    TimeRemainingColumn(), console=Console(stderr=True))


def with_progress(label: str, total: int, fn, *args, **kwargs):
    """Run fn(*args, progress=callback, **kwargs) under a progress bar; trainer errors exit 2."""
    with progress_bar() as bar:
        task = bar.add_task(label, total=total, loss=float("nan"), rate="-")

        def update(step: int, loss: float) -> None:
            if step % 50 == 0 or step == total:
                speed = bar.tasks[0].speed
                bar.update(task, completed=step, loss=loss, rate=f"{speed:,.0f}" if speed else "-")

        result = guard(fn, *args, progress=update, **kwargs)
    report_result(result)
    return result


ENGINE_HELP = "Training step: auto (fused where it applies), fused (ReLU MLP on CPU) or torch (autograd + torch.optim)."
EngineOption = Annotated[str, typer.Option(help=ENGINE_HELP)]


def train_one(config, out: Path, overwrite: bool, engine: str = "auto"):
    from trainer.engines.engine import choose_engine
    from trainer.engines.loop import train
    from trainer.runfile.schema import check_writable_target
    from trainer.runfile.lock import check_unlocked

    guard(check_writable_target, out, overwrite)  # refuse before showing a progress bar
    guard(check_unlocked, out)
    guard(choose_engine, config, engine)
    return with_progress(f"{config.preset} s{config.seed}", config.epochs, train, config, out, overwrite=overwrite,
                          engine=engine)


def report_result(result) -> None:
    typer.echo(f"{result.path}: {result.status} after {result.steps} steps in {result.seconds:.1f} s "
               f"(final loss {result.final_loss:.3e})", err=True)
    if result.status == "interrupted":
        raise typer.Exit(130)
