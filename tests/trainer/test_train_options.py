"""The training options of `train run`, `train sweep` and `train ensemble` are generated from the settings declared
in config.py: one option per setting, with its help, type and the config's default; the sweep's grid axes are the
same."""

from __future__ import annotations

import dataclasses

import pytest
import typer.main

from trainer.cli import app
from trainer.cli.options import ENSEMBLE_ORDER, RUN_ORDER, SWEEP_ORDER, ensemble_settings, run_settings, sweep_settings
from trainer.config import ModelSpec, TargetSpec, TrainConfig
from trainer.settings import declared_settings
from trainer.sweep.plan import GRID_FIELDS, TUPLE_FIELDS

# fields that are no option: the preset names itself, the model's input width follows the target, an imported
# model's constructor comes from `train import`
NOT_OPTIONS = {("run", "preset"), ("run", "target"), ("run", "model"), ("model", "in_dim"), ("model", "out_dim"),
               ("model", "constructor"), ("model", "constructor_kwargs")}
PARTS = {"run": TrainConfig, "target": TargetSpec, "model": ModelSpec}


def command_options(name: str) -> dict:
    command = typer.main.get_command(app).commands[name]
    return {param.opts[0]: param for param in command.params if param.param_type_name == "option"}


def config_field(part: str, attribute: str) -> dataclasses.Field:
    return next(f for f in dataclasses.fields(PARTS[part]) if f.name == attribute)


def test_every_config_field_is_declared_or_deliberately_no_option():
    declared = {(s.part, s.attribute) for s in declared_settings(TrainConfig).values()}
    every = {(part, f.name) for part, cls in PARTS.items() for f in dataclasses.fields(cls)}
    assert declared | NOT_OPTIONS == every
    assert not declared & NOT_OPTIONS


def test_declared_defaults_are_the_config_defaults():
    config = TrainConfig()
    for item in declared_settings(TrainConfig).values():
        value = getattr(config if item.part == "run" else getattr(config, item.part), item.attribute)
        assert item.default == value, item.flag


@pytest.mark.parametrize("item", run_settings(), ids=lambda s: s.flag)
def test_run_option_matches_its_setting(item):
    option = command_options("run")[f"--{item.flag}"]
    assert option.help == item.spec.help
    assert option.name == item.python_name
    if item.kind == "bool":
        assert option.is_flag and option.default is False
        return
    assert option.default is None  # left out: the preset's value
    expected = {"int": int, "float": float}.get(item.kind, str)  # tuples: comma lists
    assert option.type_descriptor.annotation is expected
    assert option.show_default == (item.spec.show_default if item.spec.show_default is not None else True)


@pytest.mark.parametrize("item", sweep_settings(), ids=lambda s: s.flag)
def test_sweep_option_matches_its_setting(item):
    option = command_options("sweep")[f"--{item.flag}"]
    assert option.help == item.spec.sweep
    assert option.default is None
    if item.spec.grid:
        assert option.type_descriptor.annotation is str  # a comma list: the grid axis
        assert GRID_FIELDS[item.flag] == (item.part, item.attribute, item.parser)
        config_field(item.part, item.attribute)  # the grid writes a real config field
    else:
        assert option.type_descriptor.annotation is {"int": int, "float": float}.get(item.kind, str)
        assert item.flag not in GRID_FIELDS


@pytest.mark.parametrize("item", ensemble_settings(), ids=lambda s: s.flag)
def test_ensemble_option_matches_its_setting(item):
    option = command_options("ensemble")[f"--{item.flag}"]
    assert option.help == item.spec.ensemble and option.name == item.python_name
    if item.kind == "bool":  # an on-flag, as `train run` takes it
        assert option.is_flag and option.default is False
        return
    assert option.default is None  # left out: the preset's value
    assert option.type_descriptor.annotation is {"int": int, "float": float}.get(item.kind, str)


def test_the_grid_is_the_grid_settings_and_tuples_are_the_tuple_fields():
    grid = {s.flag for s in sweep_settings() if s.spec.grid}
    assert set(GRID_FIELDS) == grid
    assert set(TUPLE_FIELDS) == {s.flag for s in sweep_settings() if s.spec.grid and s.kind in ("floats", "ints")}


def test_the_training_options_keep_their_help_order():
    run = [o for o in command_options("run") if o[2:] in declared_settings(TrainConfig)]
    sweep = [o for o in command_options("sweep") if o[2:] in declared_settings(TrainConfig)]
    assert run == [f"--{flag}" for flag in RUN_ORDER]
    assert sweep == [f"--{flag}" for flag in SWEEP_ORDER]
    ensemble = [o for o in command_options("ensemble") if o[2:] in declared_settings(TrainConfig)]
    shared_target = ["--target", "--input-dim", "--degrees", "--target-seed"]  # the harmonics options, after --overwrite
    assert ensemble == [f"--{flag}" for flag in ENSEMBLE_ORDER] + shared_target
    assert list(command_options("ensemble"))[:3] == ["--preset", "--seeds", "--out-dir"]
    assert set(RUN_ORDER) == set(declared_settings(TrainConfig))  # no setting is left to the end by accident


def test_a_generated_option_reaches_the_config(tmp_path):
    """`train run --lr --width --freqs --amps` are read from the generated options into the run's config."""
    from typer.testing import CliRunner

    out = tmp_path / "r.h5"
    result = CliRunner().invoke(app, ["run", "--epochs", "3", "--n-train", "32", "--width", "4", "--lr", "0.002",
                                      "--freqs", "1,3", "--amps", "1,0.5", "--out", str(out)])
    assert result.exit_code == 0, result.output
    import h5py

    with h5py.File(out) as f:
        config = TrainConfig.from_json(f.attrs["config"])
    assert (config.lr, config.epochs, config.model.width, config.target.n_train) == (0.002, 3, 4, 32)
    assert (config.target.freqs_hz, config.target.amps) == ((1.0, 3.0), (1.0, 0.5))


def test_the_ensemble_options_reach_every_member(tmp_path):
    """`train ensemble --epochs --n-train --dtype --device` set every member's config; the seeds differ."""
    from typer.testing import CliRunner

    result = CliRunner().invoke(app, ["ensemble", "--seeds", "2,5", "--epochs", "3", "--n-train", "32", "--dtype",
                                      "float64", "--device", "cpu", "--out-dir", str(tmp_path)])
    assert result.exit_code == 0, result.output
    import h5py

    configs = []
    for seed in (2, 5):
        with h5py.File(tmp_path / f"baseline-s{seed}.h5") as f:
            configs.append(TrainConfig.from_json(f.attrs["config"]))
    assert [(c.seed, c.epochs, c.target.n_train, c.dtype, c.device) for c in configs] == [
        (2, 3, 32, "float64", "cpu"), (5, 3, 32, "float64", "cpu")]
    assert configs[0].model == TrainConfig().model  # the baseline preset's model: untouched
