"""`train`: thin typer commands over `trainer.loop` (the default study, one run, resume, presets) and `import`."""

from __future__ import annotations

import dataclasses
import math
import sys
from contextlib import contextmanager
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
    from trainer.runlock import check_unlocked

    _guard(check_writable_target, out, overwrite)  # refuse before showing a progress bar
    _guard(check_unlocked, out)
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
) -> None:
    """With no command: train the default study (baseline, wide, deep, sgd; seed 0) into data/runs/.

    It is a sweep (see `train sweep`) over the four presets, run in parallel on a local Dask cluster.
    """
    if ctx.invoked_subcommand is not None:
        return
    from trainer.config import DEFAULT_STUDY
    from trainer.runfile import check_writable_target
    from trainer.sweep_plan import plan_sweep

    runs = _guard(plan_sweep, DEFAULT_STUDY, (0,), {"epochs": (epochs,)} if epochs is not None else {})
    if not skip_existing:
        for run in runs:
            _guard(check_writable_target, out_dir / run.file, overwrite)  # refuse before training anything
    _sweep(out_dir, runs, overwrite=overwrite, manifest=False)


def _sweep(folder: Path, runs, *, overwrite: bool, manifest: bool, scheduler: Optional[str] = None,
           workers: Optional[int] = None, retries: int = 2, json_out: bool = False) -> None:
    """Run a planned sweep under a progress bar over runs; print the summary; exit 130 / 1 / 0."""
    from trainer.sweep import run_sweep

    with _sweep_progress(len(runs)) as (on_outcome, on_step):
        summary = _guard(run_sweep, folder, runs, overwrite=overwrite, scheduler=scheduler, workers=workers,
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


@app.command("sweep")
def sweep_command(
    out: Annotated[Path, typer.Option(help="Sweep folder: one run file per run, plus sweep.json.", file_okay=False)],
    presets: Annotated[str, typer.Option(help="Comma-separated presets.")] = "baseline,wide,deep,sgd",
    seeds: Annotated[str, typer.Option(help="Seeds: 0-7, 0,2,5 or 0-3,8.")] = "0",
    replicates: Annotated[Optional[str], typer.Option(
        help="Perturbation seeds (with --perturb): same seed, init perturbed; files NAME-sS-pR.h5.")] = None,
    lr: Annotated[Optional[str], typer.Option(help="Learning rate(s), e.g. 0.01,0.001.")] = None,
    epochs: Annotated[Optional[str], typer.Option(help="Epochs (comma list: a grid axis).")] = None,
    optimizer: Annotated[Optional[str], typer.Option(help="adam and/or sgd.")] = None,
    width: Annotated[Optional[str], typer.Option(help="Hidden units per layer.")] = None,
    depth: Annotated[Optional[str], typer.Option(help="Hidden layers.")] = None,
    activation: Annotated[Optional[str], typer.Option(help="Activation(s), see `train run --help`.")] = None,
    init: Annotated[Optional[str], typer.Option(help="default, xavier and/or kaiming.")] = None,
    dtype: Annotated[Optional[str], typer.Option(help="float32 and/or float64.")] = None,
    n_train: Annotated[Optional[str], typer.Option(help="Training points.")] = None,
    ckpt_every: Annotated[Optional[str], typer.Option(help="Store parameters every N steps.")] = None,
    pred_every: Annotated[Optional[str], typer.Option(help="Store predictions every N steps.")] = None,
    perturb: Annotated[Optional[str], typer.Option(help="Relative init perturbation, e.g. 1e-7 (noise floor).")] = None,
    workers: Annotated[Optional[int], typer.Option(
        help="Local worker processes, one thread each [default: one per core].", min=1)] = None,
    scheduler: Annotated[Optional[str], typer.Option(
        help="Use an existing Dask cluster: tcp://HOST:PORT or a scheduler file.")] = None,
    retries: Annotated[int, typer.Option(help="Dask retries of a run whose attempt raised.", min=0)] = 2,
    overwrite: Annotated[bool, typer.Option(help="Retrain runs whose files exist.")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="Print the summary as JSON on stdout.")] = False,
) -> None:
    """Train presets x seeds x config values on Dask; a rerun keeps finished runs and resumes killed ones.

    Comma lists make a grid, e.g. --lr 0.01,0.001 doubles the runs; files are named from the varied
    values (baseline-s3-lr0.001.h5). Exit 0 when every run finished (diverged counts), 1 if any failed.
    """
    from trainer.sweep_plan import parse_grid_values, parse_int_set, plan_sweep

    texts = {"lr": lr, "epochs": epochs, "optimizer": optimizer, "width": width, "depth": depth,
             "activation": activation, "init": init, "dtype": dtype, "n-train": n_train, "ckpt-every": ckpt_every,
             "pred-every": pred_every, "perturb": perturb}
    grid = {name: _guard(parse_grid_values, name, text) for name, text in texts.items() if text is not None}
    seed_list = _guard(parse_int_set, seeds, "seeds")
    replicate_list = _guard(parse_int_set, replicates, "replicates") if replicates is not None else None
    runs = _guard(plan_sweep, [p for p in presets.replace(" ", "").split(",") if p], seed_list, grid, replicate_list)
    _sweep(out, runs, overwrite=overwrite, manifest=True, scheduler=scheduler, workers=workers, retries=retries,
           json_out=json_out)


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
    target: Annotated[Optional[str], typer.Option(
        help="Target kind: sines (1-D, --freqs) or harmonics (inputs on the sphere S^(d-1), --degrees).",
        show_default="the preset's, sines")] = None,
    input_dim: Annotated[Optional[int], typer.Option(help="harmonics: input dimension d (sphere S^(d-1)).",
                                                     show_default="3")] = None,
    degrees: Annotated[Optional[str], typer.Option(help="harmonics: spherical-harmonic degrees, e.g. 1,2,4.")] = None,
    target_seed: Annotated[Optional[int], typer.Option(
        help="harmonics: seed of the sample points and of each degree's random harmonic.", show_default="0")] = None,
    freqs: Annotated[Optional[str], typer.Option(help="Target frequencies in Hz, e.g. 1,3,7,15.")] = None,
    amps: Annotated[Optional[str], typer.Option(help="Target amplitudes, one per frequency.")] = None,
    phases: Annotated[Optional[str], typer.Option(help="Target phases in radians, one per frequency.")] = None,
    n_train: Annotated[Optional[int], typer.Option(help="Training points (uniform grid on [0, 1)).")] = None,
    n_eval: Annotated[Optional[int], typer.Option(help="Evaluation grid points.", show_default="the training grid")] = None,
    dtype: Annotated[Optional[str], typer.Option(help="float32 or float64.")] = None,
    device: Annotated[Optional[str], typer.Option(help="cpu or cuda.")] = None,
    ckpt_every: Annotated[Optional[int], typer.Option(help="Store parameters every N steps.")] = None,
    pred_every: Annotated[Optional[int], typer.Option(help="Store eval-grid predictions every N steps.")] = None,
    model: Annotated[Optional[str], typer.Option(help="mlp or diag-linear (known-answer model).")] = None,
    features: Annotated[Optional[int], typer.Option(help="diag-linear: number of Fourier frequencies K.")] = None,
    feature_decay: Annotated[Optional[float], typer.Option(help="diag-linear: feature scales k^-p.")] = None,
    init_scale: Annotated[Optional[float], typer.Option(help="diag-linear: initial u = v.")] = None,
    perturb: Annotated[Optional[float], typer.Option(
        help="Perturb the init: w -> w (1 + perturb e), e ~ N(0, 1); e.g. 1e-7 (noise-floor replicate).")] = None,
    perturb_seed: Annotated[Optional[int], typer.Option(help="Seed of the perturbation e.")] = None,
    freeze_hidden: Annotated[bool, typer.Option(
        "--freeze-hidden", help="Train only the output layer; hidden layers keep their initial values (a model "
                                "linear in its trained parameters: the NTK known-answer case).")] = False,
    out: Annotated[Optional[Path], typer.Option(
        help="Run file.", show_default="data/runs/PRESET-sSEED.h5, -pSEED added when perturbed, -frozen with "
                                       "--freeze-hidden, then -harmonics for harmonics targets")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing run file.")] = False,
    engine: EngineOption = "auto",
) -> None:
    """Train one run from a preset, with any setting overridden."""
    from trainer.config import get_preset, validate

    config = _guard(get_preset, preset)
    if target == "harmonics":
        config = dataclasses.replace(config, target=_harmonics_target(input_dim, degrees, amps, freqs, phases))
    elif target not in (None, "sines"):
        fail(f"unknown target {target!r}; choose sines or harmonics")
    elif input_dim is not None or degrees is not None or target_seed is not None:
        fail("--input-dim, --degrees and --target-seed are for --target harmonics")
    target_changes = {k: v for k, v in {"n_train": n_train, "n_eval": n_eval, "seed": target_seed}.items()
                      if v is not None}
    if config.target.kind == "sines":
        target_changes.update({k: v for k, v in {"freqs_hz": _floats(freqs, "freqs"), "amps": _floats(amps, "amps"),
                                                 "phases": _floats(phases, "phases")}.items() if v is not None})
    if "freqs_hz" in target_changes and "amps" not in target_changes:
        if len(target_changes["freqs_hz"]) != len(config.target.amps):
            fail(f"{len(target_changes['freqs_hz'])} frequencies given; give --amps with one amplitude per frequency")
    model_changes = {k: v for k, v in {"width": width, "depth": depth, "activation": activation, "init": init,
                                       "kind": model, "features": features, "feature_decay": feature_decay,
                                       "init_scale": init_scale, "in_dim": config.target.input_dim}.items()
                     if v is not None}
    run_changes = {k: v for k, v in {"seed": seed, "epochs": epochs, "lr": lr, "optimizer": optimizer,
                                     "dtype": dtype, "device": device, "ckpt_every": ckpt_every,
                                     "pred_every": pred_every, "perturb": perturb,
                                     "perturb_seed": perturb_seed,
                                     "freeze_hidden": freeze_hidden or None}.items() if v is not None}
    config = dataclasses.replace(config, target=dataclasses.replace(config.target, **target_changes),
                                 model=dataclasses.replace(config.model, **model_changes), **run_changes)
    _guard(validate, config)
    if out is None:
        from trainer.sweep_plan import run_stem

        kind = "-harmonics" if config.target.kind == "harmonics" else ""
        out = RUNS_DIR / f"{run_stem(config, {})}{kind}.h5"
    _train_one(config, out, overwrite, engine)


def _harmonics_target(input_dim: Optional[int], degrees: Optional[str], amps: Optional[str], freqs: Optional[str],
                      phases: Optional[str]):
    """The TargetSpec of `--target harmonics` (one amplitude per degree, 1 each by default)."""
    from trainer.config import TargetSpec

    if freqs is not None or phases is not None:
        fail("--freqs and --phases are for sines targets; a harmonics target takes --degrees and --amps")
    if degrees is None:
        fail("--target harmonics needs --degrees, e.g. --degrees 1,2,4")
    degree_values = _floats(degrees, "degrees")
    if any(d != int(d) for d in degree_values):
        fail(f"--degrees takes whole numbers, got {degrees!r}")
    degree_tuple = tuple(int(d) for d in degree_values)
    amp_tuple = _floats(amps, "amps") if amps is not None else (1.0,) * len(degree_tuple)
    return TargetSpec(kind="harmonics", freqs_hz=(), amps=amp_tuple, degrees=degree_tuple,
                      input_dim=3 if input_dim is None else input_dim)


@app.command()
def resume(run: Annotated[Path, typer.Argument(help="A killed or interrupted run file.", dir_okay=False)],
           engine: EngineOption = "auto") -> None:
    """Continue a killed or interrupted run from its last committed checkpoint (bitwise identical).

    Refused (exit 2) while another process is writing the run (lock file RUN.lock).
    """
    from trainer.config import TrainConfig
    from trainer.loop import resume as resume_run
    from trainer.runfile import check_resumable, check_trainer_run, open_swmr_reader
    from trainer.runlock import check_unlocked

    def read_config() -> TrainConfig:
        check_unlocked(run)  # refuse before showing a progress bar; the writer's own lock is what counts
        with open_swmr_reader(run) as f:
            check_resumable(f, run)
            check_trainer_run(f, run)
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


@app.command("import")
def import_command(
    folder: Annotated[Path, typer.Argument(help="Folder of checkpoints: *.pt / *.pth state dicts, *.safetensors.")],
    model: Annotated[str, typer.Option(help="The model: package.module:callable (imported and called: runs your "
                                            "code), or preset:NAME for one of ours (see `train presets`).")],
    data: Annotated[Path, typer.Option(help=".npz with x_train, y_train (optional x_eval, y_eval: the eval grid).",
                                       dir_okay=False)],
    out: Annotated[Path, typer.Option("--out", "-o", help="Run file to write.", dir_okay=False)],
    model_kwargs: Annotated[Optional[str], typer.Option(
        help="JSON object of keyword arguments for the constructor (with preset:NAME: model spec fields).")] = None,
    losses: Annotated[Optional[Path], typer.Option(
        help="CSV with step,loss columns: per-step losses merged between the checkpoints.", dir_okay=False)] = None,
    step_regex: Annotated[Optional[str], typer.Option(
        help="Regular expression on the file name; its group (or group 'step') is the step.",
        show_default="the last number in the name")] = None,
    freqs: Annotated[Optional[str], typer.Option(
        help="Target frequencies in Hz the spectrum tracks, e.g. 1,3,7.",
        show_default="the dominant DFT peaks of y_eval on a uniform 1-D grid")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing run file (once the import is done).")] = False,
) -> None:
    """Convert a folder of checkpoints saved by another training loop into a run file.

    Predictions on the eval grid, the loss mean((f(x) - y)^2) and its gradient norm are recomputed per checkpoint.

    Checkpoints are read as data only (torch.load weights_only=True, safetensors).

    Nothing is written at OUT unless the import succeeds.
    """
    from trainer.constructor import parse_kwargs
    from trainer.importer import import_run
    from trainer.runfile import check_writable_target
    from trainer.runlock import check_unlocked

    kwargs = _guard(parse_kwargs, model_kwargs)
    _guard(check_writable_target, out, overwrite)
    _guard(check_unlocked, out)
    with _import_progress() as bar:
        task = bar.add_task(f"import {folder.name}", total=None)
        result = _guard(import_run, folder, model, data, out, model_kwargs=kwargs, losses=losses,
                        step_regex=step_regex, freqs_hz=_floats(freqs, "freqs"), overwrite=overwrite,
                        progress=lambda done, total: bar.update(task, completed=done, total=total))
    rate = result.checkpoints / result.seconds if result.seconds > 0 else float("inf")
    agreement = ("" if math.isnan(result.csv_max_rel_diff) else
                 f"; the CSV's losses differ from the recomputed ones by up to {result.csv_max_rel_diff:.1e} relative")
    freqs = ", ".join(f"{f:g}" for f in result.target["freqs_hz"])
    tracked = (f"target frequencies {freqs} Hz ({result.target['freqs_source']})" if freqs else
               "no target frequencies found: the spectrum needs them (pass --freqs)")
    typer.echo(f"{result.path}: {result.checkpoints} checkpoints (steps {result.first_step} to {result.last_step}), "
               f"{result.log_rows} log rows ({result.csv_rows} from the CSV) in {result.seconds:.1f} s "
               f"({rate:,.0f} checkpoints/s); {tracked}{agreement}", err=True)


def _import_progress():
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    return Progress(TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("checkpoints"), TimeRemainingColumn(), console=Console(stderr=True))


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
