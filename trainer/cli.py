"""`train`: thin typer commands over `trainer.loop` (the default study, one run, resume, presets)."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

app = typer.Typer(add_completion=False, invoke_without_command=True,
                  help="Train MLPs on synthetic targets; one crash-safe HDF5 run file per run.")

RUNS_DIR = Path("data/runs")


def fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _guard(fn, *args, **kwargs):
    from trainer.errors import TrainerError

    try:
        return fn(*args, **kwargs)
    except TrainerError as err:
        fail(str(err))


def _floats(text: Optional[str], name: str) -> Optional[tuple[float, ...]]:
    if text is None:
        return None
    try:
        return tuple(float(v) for v in text.replace(" ", "").split(",") if v != "")
    except ValueError:
        fail(f"--{name} takes comma-separated numbers, got {text!r}")


def _progress_bar():
    """A rich progress bar on stderr showing step, loss and steps/s."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("loss {task.fields[loss]:.3e}"), TextColumn("{task.fields[rate]} steps/s"),
                    TimeRemainingColumn(), console=Console(stderr=True))


def _with_progress(label: str, total: int, fn, *args, **kwargs):
    """Run fn(*args, progress=callback, **kwargs) under a progress bar; trainer errors exit 2."""
    with _progress_bar() as bar:
        task = bar.add_task(label, total=total, loss=float("nan"), rate="-")

        def update(step: int, loss: float) -> None:
            if step % 50 == 0 or step == total:
                speed = bar.tasks[0].speed
                bar.update(task, completed=step, loss=loss, rate=f"{speed:,.0f}" if speed else "-")

        result = _guard(fn, *args, progress=update, **kwargs)
    _report(result)
    return result


ENGINE_HELP = "Training step: auto (fused where it applies), fused (ReLU MLP on CPU) or torch (autograd + torch.optim)."
EngineOption = Annotated[str, typer.Option(help=ENGINE_HELP)]


def _train_one(config, out: Path, overwrite: bool, engine: str = "auto"):
    from trainer.engine import choose_engine
    from trainer.loop import train
    from trainer.runfile import check_writable_target

    _guard(check_writable_target, out, overwrite)  # refuse before showing a progress bar
    _guard(choose_engine, config, engine)
    return _with_progress(f"{config.preset} s{config.seed}", config.epochs, train, config, out, overwrite=overwrite,
                          engine=engine)


def _report(result) -> None:
    typer.echo(f"{result.path}: {result.status} after {result.steps} steps in {result.seconds:.1f} s "
               f"(final loss {result.final_loss:.3e})", err=True)
    if result.status == "interrupted":
        raise typer.Exit(130)


@app.callback()
def default_study(
    ctx: typer.Context,
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder for the run files.")] = RUNS_DIR,
    epochs: Annotated[Optional[int], typer.Option(help="Override the presets' 10,000 epochs.")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace existing run files.")] = False,
    skip_existing: Annotated[bool, typer.Option(
        help="Keep complete runs, resume interrupted or killed ones, train the rest.")] = False,
    engine: EngineOption = "auto",
) -> None:
    """With no command: train the default study (baseline, wide, deep, sgd; seed 0) into data/runs/."""
    if ctx.invoked_subcommand is not None:
        return
    from trainer.config import DEFAULT_STUDY, get_preset, validate
    from trainer.runfile import check_writable_target

    configs = []
    for name in DEFAULT_STUDY:
        config = get_preset(name)
        if epochs is not None:
            config = dataclasses.replace(config, epochs=epochs)
        _guard(validate, config)
        out = out_dir / f"{name}-s{config.seed}.h5"
        if not (skip_existing and out.exists()):
            _guard(check_writable_target, out, overwrite)  # refuse before training anything
        configs.append((config, out))
    for config, out in configs:
        if skip_existing and out.exists():
            _continue_existing(config, out, engine)
        else:
            _train_one(config, out, overwrite, engine)


def _continue_existing(config, out: Path, engine: str = "auto") -> None:
    """--skip-existing: a complete run with the same config is kept, a killed one resumed."""
    from trainer.config import TrainConfig
    from trainer.loop import resume
    from trainer.runfile import open_swmr_reader

    with _guard(open_swmr_reader, out) as f:
        stored, status = TrainConfig.from_json(f.attrs["config"]), str(f.attrs["status"])
    if stored != config:
        fail(f"{out} holds a different configuration; pass --overwrite to retrain it")
    if status == "complete":
        typer.echo(f"{out}: complete, kept", err=True)
    elif status in ("running", "interrupted"):
        _with_progress(f"resume {out.name}", config.epochs, resume, out, engine=engine)
    else:
        fail(f"{out} is {status}; pass --overwrite to retrain it")


@app.command("run")
def run_command(
    preset: Annotated[str, typer.Option(help="Preset to start from (see `train presets`).")] = "baseline",
    seed: Annotated[Optional[int], typer.Option(help="Random seed for the initialisation.")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="Full-batch optimizer steps.")] = None,
    lr: Annotated[Optional[float], typer.Option(help="Learning rate.")] = None,
    width: Annotated[Optional[int], typer.Option(help="Hidden units per layer.")] = None,
    depth: Annotated[Optional[int], typer.Option(help="Number of hidden layers.")] = None,
    activation: Annotated[Optional[str], typer.Option(help="relu, tanh, gelu, silu, sin, relu2, sinc, gaussian.")] = None,
    init: Annotated[Optional[str], typer.Option(help="default (PyTorch), xavier or kaiming.")] = None,
    optimizer: Annotated[Optional[str], typer.Option(help="adam or sgd.")] = None,
    freqs: Annotated[Optional[str], typer.Option(help="Target frequencies in Hz, e.g. 1,3,7,15.")] = None,
    amps: Annotated[Optional[str], typer.Option(help="Target amplitudes, one per frequency.")] = None,
    phases: Annotated[Optional[str], typer.Option(help="Target phases in radians, one per frequency.")] = None,
    n_train: Annotated[Optional[int], typer.Option(help="Training points (uniform grid on [0, 1)).")] = None,
    n_eval: Annotated[Optional[int], typer.Option(help="Evaluation grid points [default: the training grid].")] = None,
    dtype: Annotated[Optional[str], typer.Option(help="float32 or float64.")] = None,
    device: Annotated[Optional[str], typer.Option(help="cpu or cuda.")] = None,
    ckpt_every: Annotated[Optional[int], typer.Option(help="Store parameters every N steps.")] = None,
    pred_every: Annotated[Optional[int], typer.Option(help="Store eval-grid predictions every N steps.")] = None,
    model: Annotated[Optional[str], typer.Option(help="mlp or diag-linear (known-answer model).")] = None,
    features: Annotated[Optional[int], typer.Option(help="diag-linear: number of Fourier frequencies K.")] = None,
    feature_decay: Annotated[Optional[float], typer.Option(help="diag-linear: feature scales k^-p.")] = None,
    init_scale: Annotated[Optional[float], typer.Option(help="diag-linear: initial u = v.")] = None,
    out: Annotated[Optional[Path], typer.Option(help="Run file [default: data/runs/PRESET-sSEED.h5].")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing run file.")] = False,
    engine: EngineOption = "auto",
) -> None:
    """Train one run from a preset, with any setting overridden."""
    from trainer.config import get_preset, validate

    config = _guard(get_preset, preset)
    target_changes = {k: v for k, v in {"freqs_hz": _floats(freqs, "freqs"), "amps": _floats(amps, "amps"),
                                        "phases": _floats(phases, "phases"), "n_train": n_train,
                                        "n_eval": n_eval}.items() if v is not None}
    if "freqs_hz" in target_changes and "amps" not in target_changes:
        if len(target_changes["freqs_hz"]) != len(config.target.amps):
            fail(f"{len(target_changes['freqs_hz'])} frequencies given; give --amps with one amplitude per frequency")
    model_changes = {k: v for k, v in {"width": width, "depth": depth, "activation": activation, "init": init,
                                       "kind": model, "features": features, "feature_decay": feature_decay,
                                       "init_scale": init_scale}.items() if v is not None}
    run_changes = {k: v for k, v in {"seed": seed, "epochs": epochs, "lr": lr, "optimizer": optimizer,
                                     "dtype": dtype, "device": device, "ckpt_every": ckpt_every,
                                     "pred_every": pred_every}.items() if v is not None}
    config = dataclasses.replace(config, target=dataclasses.replace(config.target, **target_changes),
                                 model=dataclasses.replace(config.model, **model_changes), **run_changes)
    _guard(validate, config)
    out = out if out is not None else RUNS_DIR / f"{config.preset}-s{config.seed}.h5"
    _train_one(config, out, overwrite, engine)


@app.command()
def resume(run: Annotated[Path, typer.Argument(help="A killed or interrupted run file.", dir_okay=False)],
           engine: EngineOption = "auto") -> None:
    """Continue a killed or interrupted run from its last committed checkpoint (bitwise identical)."""
    from trainer.config import TrainConfig
    from trainer.loop import resume as resume_run
    from trainer.runfile import check_resumable, open_swmr_reader

    def read_config() -> TrainConfig:
        with open_swmr_reader(run) as f:
            check_resumable(f, run)
            return TrainConfig.from_json(f.attrs["config"])

    config = _guard(read_config)
    _with_progress(f"resume {run.name}", config.epochs, resume_run, run, engine=engine)


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


@app.command("ensemble")
def ensemble_command(
    preset: Annotated[str, typer.Option(help="Preset every member starts from.")] = "baseline",
    seeds: Annotated[str, typer.Option(help="Seeds, e.g. 0-7 or 0,3,5: one member (and run file) each.")] = "0-7",
    out_dir: Annotated[Path, typer.Option("--out-dir", help="Folder for the run files PRESET-sSEED.h5.")] = RUNS_DIR,
    epochs: Annotated[Optional[int], typer.Option(help="Full-batch optimizer steps.")] = None,
    n_train: Annotated[Optional[int], typer.Option(help="Training points.")] = None,
    dtype: Annotated[Optional[str], typer.Option(help="float32 or float64.")] = None,
    device: Annotated[Optional[str], typer.Option(help="cpu or cuda.")] = None,
    batch: Annotated[Optional[bool], typer.Option(
        "--batch/--no-batch", help="One vectorized loop for all members (default: only on a GPU).")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace existing run files.")] = False,
) -> None:
    """Train one preset over several seeds together; every member writes its own ordinary run file."""
    from trainer.config import get_preset
    from trainer.ensemble import train_ensemble

    base = _guard(get_preset, preset)
    changes = {k: v for k, v in {"epochs": epochs, "dtype": dtype, "device": device}.items() if v is not None}
    if n_train is not None:
        changes["target"] = dataclasses.replace(base.target, n_train=n_train)
    configs = [dataclasses.replace(base, seed=seed, **changes) for seed in _seed_list(seeds)]
    paths = [out_dir / f"{preset}-s{c.seed}.h5" for c in configs]
    with _progress_bar() as bar:
        total = configs[0].epochs * len(configs)
        task = bar.add_task(f"{preset} x {len(configs)} seeds", total=total, loss=float("nan"), rate="-")

        def update(step: int, loss: float) -> None:
            if step % 50 == 0 or step == total:
                bar.update(task, completed=step, loss=loss, rate=f"{bar.tasks[0].speed or 0:,.0f}")

        results = _guard(train_ensemble, configs, paths, batch=batch, overwrite=overwrite, progress=update)
    for result in results:
        _report(result)


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


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
