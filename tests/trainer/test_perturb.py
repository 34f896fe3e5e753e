"""The noise-floor replicate control: init perturbed by w -> w (1 + perturb e), checked on stored checkpoints."""

from __future__ import annotations

import json

import h5py
import numpy as np
import pytest
import torch
from typer.testing import CliRunner

from trainer.cli import app
from trainer.config import TrainConfig
from trainer.engines.loop import train
from trainer.models import build_model, flatten, perturb_parameters

FLOAT32_EPS = float(np.finfo(np.float32).eps)


def stored(path, name: str) -> np.ndarray:
    with h5py.File(path, "r") as f:
        return f[name][...]


def test_zero_perturbation_is_bitwise_the_unperturbed_run(tmp_path, small):
    plain, zero = tmp_path / "plain.h5", tmp_path / "zero.h5"
    train(small(epochs=40), plain)
    train(small(epochs=40, perturb=0.0, perturb_seed=5), zero)
    for name in ("log/loss", "log/grad_norm", "log/pred", "ckpt/params"):
        assert np.array_equal(stored(plain, name), stored(zero, name)), name


def test_perturbed_init_is_a_relative_change_of_the_given_size(tmp_path, small):
    """The step-0 checkpoint differs from the seeded init by w * perturb * e, e ~ N(0, 1): the
    relative changes have standard deviation ~perturb (float32 rounding adds ~eps/sqrt(12))."""
    config = small(epochs=5, dtype="float64", perturb=1e-7, perturb_seed=3)
    train(config, tmp_path / "p.h5")
    base = flatten(build_model(config.model, config.seed, torch.float64)).numpy()
    theta0 = stored(tmp_path / "p.h5", "ckpt/params")[0]
    relative = (theta0 - base) / base
    assert np.all(np.isfinite(relative)) and relative.size > 300
    assert 0.9e-7 < relative.std() < 1.1e-7, relative.std()
    assert abs(relative.mean()) < 4 * 1e-7 / np.sqrt(relative.size)


def test_float32_perturbation_moves_weights_by_rounding_steps(tmp_path, small):
    config = small(epochs=5, perturb=1e-7, perturb_seed=1)
    train(config, tmp_path / "p.h5")
    base = flatten(build_model(config.model, config.seed, torch.float32)).numpy()
    theta0 = stored(tmp_path / "p.h5", "ckpt/params")[0]
    relative = np.abs(theta0.astype(np.float64) - base) / np.abs(base)
    assert relative.max() < 6e-7  # a few float32 rounding steps at most
    assert 0.3 < np.mean(theta0 != base) < 0.9  # most weights move, some round back to themselves


def test_perturbation_seeds_differ_and_reproduce(tmp_path, small):
    for name, seed in (("a", 1), ("b", 2), ("a2", 1)):
        train(small(epochs=5, dtype="float64", perturb=1e-7, perturb_seed=seed), tmp_path / f"{name}.h5")
    a, b, a2 = (stored(tmp_path / f"{n}.h5", "ckpt/params")[0] for n in ("a", "b", "a2"))
    assert np.array_equal(a, a2)
    assert not np.array_equal(a, b)


def test_perturbation_oracle_on_a_model(small):
    """Independent formula: numpy draws are not torch's, so rebuild e from the same torch generator."""
    config = small(dtype="float64")
    model = build_model(config.model, config.seed, torch.float64)
    base = [p.detach().clone() for p in model.parameters()]
    perturb_parameters(model, 1e-3, 7)
    generator = torch.Generator().manual_seed(7)
    for before, after in zip(base, model.parameters()):
        e = torch.randn(before.shape, generator=generator, dtype=torch.float64)
        torch.testing.assert_close(after.detach(), before * (1 + 1e-3 * e), rtol=1e-15, atol=0)


def test_resume_of_a_perturbed_run_that_committed_nothing_restarts_from_the_perturbed_init(tmp_path, small):
    from trainer.engines.loop import resume

    config = small(epochs=30, perturb=1e-7, perturb_seed=2)
    reference, killed = tmp_path / "ref.h5", tmp_path / "killed.h5"
    train(config, reference)
    train(config, killed)
    with h5py.File(killed, "r+") as f:  # as if killed before the first commit
        f.attrs["status"] = "running"
        f["commit"][:] = [0, 0, 0, -1]
    resume(killed)
    assert np.array_equal(stored(reference, "ckpt/params"), stored(killed, "ckpt/params"))


def test_old_config_json_without_perturb_fields_loads(small):
    raw = json.loads(small().to_json())
    del raw["perturb"], raw["perturb_seed"]
    config = TrainConfig.from_dict(raw)
    assert config.perturb == 0.0 and config.perturb_seed == 0 and config == small()


def test_cli_run_perturb_options(tmp_path):
    out = tmp_path / "r.h5"
    result = CliRunner().invoke(app, ["run", "--epochs", "5", "--n-train", "64", "--width", "8", "--perturb", "1e-7",
                                      "--perturb-seed", "3", "--out", str(out)])
    assert result.exit_code == 0, result.output
    with h5py.File(out, "r") as f:
        config = json.loads(f.attrs["config"])
    assert config["perturb"] == 1e-7 and config["perturb_seed"] == 3


@pytest.mark.parametrize("args, fragment", [(["--perturb", "-1e-7"], "perturb must be zero or positive"),
                                            (["--perturb-seed", "-1"], "perturb-seed must be zero or positive")])
def test_cli_run_bad_perturb(tmp_path, args, fragment):
    result = CliRunner().invoke(app, ["run", *args, "--out", str(tmp_path / "x.h5")])
    assert result.exit_code == 2 and fragment in result.output
    assert not (tmp_path / "x.h5").exists()

