"""The fused engine against the torch engine (autograd + torch.optim): same bits, fallbacks, resume."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from helpers import small_config
from crash_helpers import CONFIG as KILL_CONFIG
from run_arrays import arrays, assert_same_arrays
from typer.testing import CliRunner

from crash_helpers import assert_interrupted_run_resumes_bit_for_bit

from trainer.cli import app
from trainer.config import PRESETS
from trainer.engines.engine import TorchEngine, choose_engine
from trainer.optim import pack_optimizer_state
from trainer.errors import ConfigError
from trainer.engines.fused import FusedMLP, unsupported_reason
from trainer.engines.loop import train, training_set
from trainer.models import ACTIVATIONS, build_model
from trainer.targets import make_data

STUDY = ("baseline", "wide", "deep", "sgd")


def preset_config(preset: str, **changes):
    """A preset at its real width and depth on a small grid, for a few hundred steps."""
    config = PRESETS[preset]
    changes = {"target": dataclasses.replace(config.target, n_train=200), "epochs": 150} | changes
    return dataclasses.replace(config, **changes)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("preset", STUDY)
def test_fused_run_file_equals_torch_run_file_bit_for_bit(tmp_path, preset, dtype):
    """Measured tolerance: zero. Loss, grad norm, predictions and every checkpoint agree exactly."""
    config = preset_config(preset, dtype=dtype)
    assert choose_engine(config) == "fused"
    train(config, tmp_path / "fused.h5", engine="fused")
    train(config, tmp_path / "torch.h5", engine="torch")
    fused, reference = arrays(tmp_path / "fused.h5"), arrays(tmp_path / "torch.h5")
    assert_same_arrays(fused, reference)
    assert reference["loss"][-1] < 0.7 * reference["loss"][0]  # it trained


@pytest.mark.parametrize("n_train", [120, 333, 1000])
@pytest.mark.parametrize("preset", ["baseline", "deep"])
def test_fused_equals_torch_for_grid_sizes_that_misalign_the_flat_buffers(preset, n_train):
    """A layer's weight sits at an arbitrary offset of the flat buffer; on some CPUs a matmul rounds by its
    operands' alignment (baseline's output-weight gradient differed in the last bit at n = 120, 333 and 1,000
    on an AMD EPYC), so the matmuls work on separately allocated tensors. Every step, every bit."""
    config = preset_config(preset, target=dataclasses.replace(PRESETS[preset].target, n_train=n_train))
    engines = []
    for engine_class in (FusedMLP, TorchEngine):
        model = build_model(config.model, config.seed, torch.float32)
        engines.append(engine_class(config, model, *training_set(config, make_data(config.target))))
    fused, reference = engines
    for step in range(40):
        loss, grad_norm, out = fused.evaluate()
        expected = reference.evaluate()
        assert (loss, grad_norm) == expected[:2], step
        assert torch.equal(out, expected[2]), step
        fused.update()
        reference.update()
        assert torch.equal(fused.flat_params(), reference.flat_params()), step


def test_separate_eval_grid_and_sparse_logging_agree(tmp_path):
    config = preset_config("baseline", target=dataclasses.replace(PRESETS["baseline"].target, n_train=120, n_eval=96),
                           pred_every=7, ckpt_every=13, epochs=61)
    train(config, tmp_path / "fused.h5", engine="fused")
    train(config, tmp_path / "torch.h5", engine="torch")
    assert_same_arrays(arrays(tmp_path / "fused.h5"), arrays(tmp_path / "torch.h5"))
    assert arrays(tmp_path / "fused.h5")["pred"].shape == (len(range(0, 61, 7)) + 1, 96, 1)


def test_packed_optimizer_state_matches_torch_adam():
    config = small_config(dtype="float64")
    engines = []
    for engine_class in (FusedMLP, TorchEngine):
        model = build_model(config.model, config.seed, torch.float64)
        engines.append(engine_class(config, model, *training_set(config, make_data(config.target))))
    for _ in range(23):
        for engine in engines:
            engine.evaluate()
            engine.update()
    fused, reference = engines
    np.testing.assert_array_equal(fused.pack_state(), pack_optimizer_state(reference.optimizer))
    np.testing.assert_array_equal(fused.flat_params().numpy(), reference.flat_params().numpy())


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_activation_trains_on_the_engine_auto_picks(tmp_path, activation):
    """relu runs fused; every other activation falls back to the torch engine, with the same result."""
    config = small_config(epochs=25, model=dataclasses.replace(small_config().model, activation=activation))
    expected = "fused" if activation == "relu" else "torch"
    assert choose_engine(config, "auto") == expected
    auto = train(config, tmp_path / "auto.h5")
    train(config, tmp_path / "torch.h5", engine="torch")
    assert auto.status == "complete"
    assert_same_arrays(arrays(tmp_path / "auto.h5"), arrays(tmp_path / "torch.h5"))


def test_fused_refuses_what_it_does_not_cover():
    tanh = small_config(model=dataclasses.replace(small_config().model, activation="tanh"))
    with pytest.raises(ConfigError, match="activation 'tanh'"):
        choose_engine(tanh, "fused")
    assert choose_engine(PRESETS["diag-linear"]) == "torch"
    assert "diag-linear" in unsupported_reason(PRESETS["diag-linear"])
    assert "cuda" in unsupported_reason(dataclasses.replace(small_config(), device="cuda"))
    with pytest.raises(ConfigError, match="unknown engine"):
        choose_engine(small_config(), "jit")


@pytest.mark.parametrize("optimizer", ["adam", "sgd"])
@pytest.mark.parametrize("first, then", [("fused", "fused"), ("torch", "fused"), ("fused", "torch")])
def test_interrupted_run_resumes_bit_for_bit_on_either_engine(tmp_path, optimizer, first, then):
    assert_interrupted_run_resumes_bit_for_bit(small_config(epochs=160, optimizer=optimizer), tmp_path, first, then, 77)




def test_the_sigkill_resume_test_exercises_the_fused_engine():
    """tests/trainer/runfile/test_crash_safety.py's kill -9 / resume tests train with engine auto: it must resolve to fused."""
    assert choose_engine(KILL_CONFIG) == "fused"


def test_cli_engine_option(tmp_path):
    runner = CliRunner()
    fast = ["--epochs", "12", "--n-train", "64", "--width", "8"]
    result = runner.invoke(app, ["run", *fast, "--engine", "torch", "--out", str(tmp_path / "t.h5")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["run", *fast, "--engine", "fused", "--out", str(tmp_path / "f.h5")])
    assert result.exit_code == 0, result.output
    assert_same_arrays(arrays(tmp_path / "t.h5"), arrays(tmp_path / "f.h5"))
    for engine, fragment in (("jit", "unknown engine"), ("fused", "activation 'tanh'")):
        result = runner.invoke(app, ["run", *fast, "--activation", "tanh", "--engine", engine,
                                     "--out", str(tmp_path / "x.h5")])
        assert result.exit_code == 2 and fragment in result.output and "Traceback" not in result.output
        assert not (tmp_path / "x.h5").exists()
