"""`train run`: one run from a preset, any setting overridden; its training options are generated from the
settings declared in trainer/config.py (trainer/cli/options.py)."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Optional

import typer

from trainer.cli.common import RUNS_DIR, EngineOption, fail, floats_option, guard, train_one
from trainer.cli.options import run_option, run_settings, with_options

HARMONICS_SHAPE = ("target", "input-dim", "degrees")  # the options _harmonics_target reads


def run_command(
    *,
    preset: Annotated[str, typer.Option(help="Preset to start from (see `train presets`).")] = "baseline",
    out: Annotated[Optional[Path], typer.Option(
        help="Run file.", show_default="data/runs/PRESET-sSEED.h5, -pSEED added when perturbed, -frozen with "
                                       "--freeze-hidden, -twin with --linearize, then -harmonics for harmonics "
                                       "targets")] = None,
    overwrite: Annotated[bool, typer.Option(help="Replace an existing run file.")] = False,
    engine: EngineOption = "auto",
    **values,
) -> None:
    """Train one run from a preset, with any setting overridden."""
    from trainer.config import get_preset, validate

    config = guard(get_preset, preset)
    target = values["target"]
    if target == "harmonics":
        config = dataclasses.replace(config, target=_harmonics_target(values["input_dim"], values["degrees"],
                                                                      values["amps"], values["freqs"], values["phases"]))
    elif target not in (None, "sines"):
        fail(f"unknown target {target!r}; choose sines or harmonics")
    elif any(values[name] is not None for name in ("input_dim", "degrees", "target_seed")):
        fail("--input-dim, --degrees and --target-seed are for --target harmonics")
    changes: dict[str, dict] = {"run": {}, "target": {}, "model": {"in_dim": config.target.input_dim}}
    for item in run_settings():
        value = values[item.python_name]
        if value is None or value is False or item.flag in HARMONICS_SHAPE:
            continue  # left out (a flag not given), or already in the harmonics target
        if item.kind == "floats":
            if config.target.kind != "sines":
                continue  # a harmonics target took its amplitudes above; frequencies and phases were refused
            value = floats_option(value, item.flag)
        changes[item.part][item.attribute] = value
    if "freqs_hz" in changes["target"] and "amps" not in changes["target"]:
        if len(changes["target"]["freqs_hz"]) != len(config.target.amps):
            fail(f"{len(changes['target']['freqs_hz'])} frequencies given; give --amps with one amplitude per frequency")
    config = dataclasses.replace(config, target=dataclasses.replace(config.target, **changes["target"]),
                                 model=dataclasses.replace(config.model, **changes["model"]), **changes["run"])
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


with_options(run_command, [run_option(item) for item in run_settings()], trailing=("out", "overwrite", "engine"))
