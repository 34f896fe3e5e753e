"""`--freeze-hidden`: only the output layer trains; checkpoints keep every parameter; resume stays bitwise."""

from __future__ import annotations

import dataclasses
import json

import h5py
import numpy as np
import pytest
import torch
from helpers import small_config
from crash_helpers import assert_interrupted_run_resumes_bit_for_bit
from run_arrays import arrays, assert_same_arrays
from typer.testing import CliRunner

from trainer.cli import app
from trainer.config import PRESETS, TrainConfig, validate
from trainer.sweep.ensemble import train_ensemble
from trainer.errors import ConfigError
from trainer.engines.loop import train
from trainer.models import build_model, output_layer_names, param_layout


def frozen_config(**changes) -> TrainConfig:
    return small_config(**({"epochs": 120, "freeze_hidden": True} | changes))


def hidden_columns(config: TrainConfig) -> np.ndarray:
    """Boolean mask over the flat parameters: True for the hidden (frozen) ones."""
    model = build_model(config.model, config.seed)
    layout, trained = param_layout(model), set(output_layer_names(model))
    return np.concatenate([np.full(size, name not in trained) for name, size in zip(layout.names, layout.sizes)])


def test_config_round_trips_and_old_files_default_to_training_everything():
    config = frozen_config()
    assert TrainConfig.from_json(config.to_json()) == config
    raw = json.loads(config.to_json())
    del raw["freeze_hidden"]  # a run file written before the option existed
    assert TrainConfig.from_dict(raw).freeze_hidden is False


def test_output_layer_is_the_last_linear_and_the_tail_of_the_flat_layout():
    model = build_model(dataclasses.replace(PRESETS["deep"].model, width=4))
    assert output_layer_names(model) == ("10.weight", "10.bias")
    assert param_layout(model).names[-2:] == ("10.weight", "10.bias")


def test_freeze_hidden_needs_an_mlp():
    with pytest.raises(ConfigError, match="freeze-hidden"):
        validate(dataclasses.replace(PRESETS["diag-linear"], freeze_hidden=True))


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("engine", ["fused", "torch"])
def test_hidden_parameters_keep_their_bits_and_the_output_layer_trains(tmp_path, optimizer, engine):
    config = frozen_config(optimizer=optimizer)
    train(config, tmp_path / "run.h5", engine=engine)
    stored = arrays(tmp_path / "run.h5")
    hidden = hidden_columns(config)
    params = stored["params"]
    assert params.shape[1] == hidden.size  # every parameter is stored
    np.testing.assert_array_equal(params[:, hidden], np.broadcast_to(params[0, hidden], params[:, hidden].shape))
    moved = params[-1, ~hidden] != params[0, ~hidden]
    assert moved[-1] and moved.mean() > 0.5  # the bias and the weights of live units moved (dead ReLUs do not)
    assert stored["loss"][-1] < stored["loss"][0]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
def test_fused_engine_equals_torch_engine_bit_for_bit(tmp_path, optimizer, dtype):
    config = frozen_config(optimizer=optimizer, dtype=dtype)
    train(config, tmp_path / "fused.h5", engine="fused")
    train(config, tmp_path / "torch.h5", engine="torch")
    assert_same_arrays(arrays(tmp_path / "fused.h5"), arrays(tmp_path / "torch.h5"))
    with h5py.File(tmp_path / "fused.h5") as fused, h5py.File(tmp_path / "torch.h5") as reference:
        np.testing.assert_array_equal(fused["resume/state"][:], reference["resume/state"][:])


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("first, then", [("fused", "fused"), ("torch", "fused"), ("fused", "torch")])
def test_interrupted_frozen_run_resumes_bit_for_bit(tmp_path, optimizer, first, then):
    assert_interrupted_run_resumes_bit_for_bit(frozen_config(optimizer=optimizer), tmp_path, first, then, 57)


def test_frozen_run_differs_from_an_all_layers_run(tmp_path):
    train(frozen_config(), tmp_path / "frozen.h5")
    train(dataclasses.replace(frozen_config(), freeze_hidden=False), tmp_path / "all.h5")
    assert not np.array_equal(arrays(tmp_path / "frozen.h5")["loss"], arrays(tmp_path / "all.h5")["loss"])


def test_batched_ensemble_refuses_and_one_by_one_trains_frozen(tmp_path):
    configs = [frozen_config(seed=s, epochs=20) for s in (0, 1)]
    with pytest.raises(ConfigError, match="freeze-hidden"):
        train_ensemble(configs, [tmp_path / "a.h5", tmp_path / "b.h5"], batch=True)
    results = train_ensemble(configs, [tmp_path / "a.h5", tmp_path / "b.h5"])
    assert [r.status for r in results] == ["complete", "complete"]


def test_cli_flag_is_stored_in_the_config_and_names_the_file(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(app, ["run", "--preset", "sgd", "--epochs", "5", "--n-train", "64", "--width", "8",
                                      "--freeze-hidden"])
    assert result.exit_code == 0, result.output
    path = tmp_path / "data/runs/sgd-s0-frozen.h5"
    with h5py.File(path) as f:
        assert TrainConfig.from_json(f.attrs["config"]).freeze_hidden is True
    bad = CliRunner().invoke(app, ["run", "--preset", "diag-linear", "--freeze-hidden", "--out", "x.h5"])
    assert bad.exit_code == 2 and "freeze-hidden" in bad.output and "Traceback" not in bad.output


def test_torch_engine_leaves_no_gradient_on_hidden_parameters():
    from trainer.engines.engine import TorchEngine

    config = frozen_config(dtype="float64")
    model = build_model(config.model, config.seed, torch.float64)
    x = torch.linspace(0, 1, 16, dtype=torch.float64)[:, None]
    engine = TorchEngine(config, model, x, torch.sin(x))
    engine.evaluate()
    trained = set(output_layer_names(model))
    assert all((p.grad is None) == (n not in trained) for n, p in model.named_parameters())
