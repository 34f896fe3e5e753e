"""`train`: thin typer commands over `trainer.engines.loop`: the default study, one run, resume, presets; sweep, ensemble
and import live in cli_sweep.py and cli_import.py and are registered here."""

from __future__ import annotations

import dataclasses
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from trainer.cli.common import RUNS_DIR, EngineOption, fail, floats_option, guard, train_one, with_progress
from trainer.cli.imports import import_command
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

    config = guard(get_preset, preset)
    if target == "harmonics":
        config = dataclasses.replace(config, target=_harmonics_target(input_dim, degrees, amps, freqs, phases))
    elif target not in (None, "sines"):
        fail(f"unknown target {target!r}; choose sines or harmonics")
    elif input_dim is not None or degrees is not None or target_seed is not None:
        fail("--input-dim, --degrees and --target-seed are for --target harmonics")
    target_changes = {k: v for k, v in {"n_train": n_train, "n_eval": n_eval, "seed": target_seed}.items()
                      if v is not None}
    if config.target.kind == "sines":
        target_changes.update({k: v for k, v in {"freqs_hz": floats_option(freqs, "freqs"), "amps": floats_option(amps, "amps"),
                                                 "phases": floats_option(phases, "phases")}.items() if v is not None})
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
    guard(validate, config)
    if out is None:
        from trainer.sweep.plan import run_stem

        kind = "-harmonics" if config.target.kind == "harmonics" else ""
        out = RUNS_DIR / f"{run_stem(config, {})}{kind}.h5"
    train_one(config, out, overwrite, engine)


def _harmonics_target(input_dim: Optional[int], degrees: Optional[str], amps: Optional[str], freqs: Optional[str],
                      phases: Optional[str]):
    """The TargetSpec of `--target harmonics` (one amplitude per degree, 1 each by default)."""
    from trainer.config import TargetSpec

    if freqs is not None or phases is not None:
        fail("--freqs and --phases are for sines targets; a harmonics target takes --degrees and --amps")
    if degrees is None:
        fail("--target harmonics needs --degrees, e.g. --degrees 1,2,4")
    degree_values = floats_option(degrees, "degrees")
    if any(d != int(d) for d in degree_values):
        fail(f"--degrees takes whole numbers, got {degrees!r}")
    degree_tuple = tuple(int(d) for d in degree_values)
    amp_tuple = floats_option(amps, "amps") if amps is not None else (1.0,) * len(degree_tuple)
    return TargetSpec(kind="harmonics", freqs_hz=(), amps=amp_tuple, degrees=degree_tuple,
                      input_dim=3 if input_dim is None else input_dim)


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
