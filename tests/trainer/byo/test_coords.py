"""Coordinates apart from the model's inputs: a model fed a 12-D sin/cos encoding of x in [0, 1), logged through
RunWriter.for_model(coords=x) or imported with --coords; the spectrum reads the target's frequencies on x."""

from __future__ import annotations

import json
import warnings

import h5py
import numpy as np
import pytest
import torch
from torch import nn
from typer.testing import CliRunner

import analyzer
from analyzer.cli import app as analyze_app
from trainer import RunWriter
from trainer.cli import app as train_app

runner = CliRunner()
G = 128
TARGET_HZ = (2, 5, 9, 10)  # 9 and 10 Hz in adjacent bins


def encode(x: np.ndarray, n_freqs: int = 6) -> np.ndarray:
    """The 12-D positional encoding [sin(2 pi k x), cos(2 pi k x)], k = 1..6, of x (N, 1)."""
    k = np.arange(1, n_freqs + 1)
    return np.concatenate([np.sin(2 * np.pi * k * x), np.cos(2 * np.pi * k * x)], axis=1)


class EncodedNet(nn.Module):
    """A ReLU MLP on the encoding (the spectral-bias reproductions' layout: the encoding is the model's input)."""

    def __init__(self, width: int = 24, in_dim: int = 12):
        super().__init__()
        self.f = nn.Sequential(nn.Linear(in_dim, width), nn.ReLU(), nn.Linear(width, 1))

    def forward(self, z: torch.Tensor) -> torch.Tensor:
        return self.f(z)


def data():
    x = (np.arange(G) / G)[:, None]
    y = sum(0.5 * np.sin(2 * np.pi * f * x + f) for f in TARGET_HZ)
    return x, encode(x), y


def encoded_loop(path, *, coords=True, steps: int = 60):
    x, z, y = data()
    torch.manual_seed(0)
    model = EncodedNet()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    zt, yt = torch.tensor(z, dtype=torch.float32), torch.tensor(y, dtype=torch.float32)
    options = {"coords": x} if coords else {}
    with RunWriter.for_model(path, model, zt, yt, constructor="test_coords:EncodedNet", optimizer=optimizer,
                             **options) as run:
        for step in range(steps):
            if step % 5 == 0:
                run.checkpoint(step, model, optimizer)
                run.log_predictions(step)
            loss = torch.mean((model(zt) - yt) ** 2)
            optimizer.zero_grad()
            loss.backward()
            run.log_step(step, loss)
            optimizer.step()
        run.checkpoint(steps, model)
        run.log_predictions(steps)
    return model


@pytest.fixture(scope="module")
def encoded_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("coords") / "encoded.h5"
    model = encoded_loop(path)
    return path, model


def test_the_spectrum_finds_the_target_frequencies_via_coords(encoded_run):
    path, model = encoded_run
    x, z, y = data()
    with analyzer.open_run(path) as run:
        assert run.data("x_eval").shape == (G, 12)
        np.testing.assert_array_equal(run.coords, x)
        assert run.target["freqs_hz"] == [float(f) for f in TARGET_HZ] and run.target["coords"] == {"dims": 1}
        result = analyzer.spectrum(run)
        pred = run.pred[:, :, 0].astype(np.float64)
        steps = run.pred_steps
    np.testing.assert_array_equal(result.target_modes, TARGET_HZ)
    assert result.targets_found == "detected on coords: every DFT bin of y_eval at >= 10% of the largest"
    # oracle: numpy's FFT of the stored predictions and the target on the coordinate grid (bin k is k Hz on [0, 1))
    y_hat, pred_hat = np.fft.rfft(y[:, 0].astype(np.float32).astype(np.float64)), np.fft.rfft(pred, axis=1)
    bins = np.array(TARGET_HZ)
    expected = np.abs(pred_hat[:, bins] - y_hat[bins]) / np.abs(y_hat[bins])
    np.testing.assert_array_equal(result.steps, steps)
    np.testing.assert_allclose(result.rel_error, expected, rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(result.target_amplitude[bins], 0.5, rtol=1e-5)


def test_the_cli_spectrum_and_info_on_an_encoded_run(encoded_run):
    path, _ = encoded_run
    result = runner.invoke(analyze_app, ["spectrum", str(path), "--no-cache", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["target_freqs_hz"] == [float(f) for f in TARGET_HZ]
    info = json.loads(runner.invoke(analyze_app, ["info", str(path), "--json"]).stdout)
    assert info["target_freqs"]["coordinate"] == "coords (1-D)"


def test_a_multi_d_input_without_coords_says_how_to_give_them(tmp_path):
    path = tmp_path / "no-coords.h5"
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        encoded_loop(path, coords=False, steps=10)
    assert any("x_eval is 12-D" in str(w.message) and "coords=" in str(w.message) for w in caught)
    with analyzer.open_run(path) as run:
        assert run.coords is None and run.target["freqs_hz"] == []
    result = runner.invoke(analyze_app, ["spectrum", str(path), "--no-cache"])
    assert result.exit_code == 2 and result.output.count("\n") == 1, result.output
    assert "x_eval has shape (128, 12)" in result.output
    assert "RunWriter.for_model(..., coords=x)" in result.output and "train import --coords" in result.output


def test_coords_must_match_the_eval_points(tmp_path):
    x, z, y = data()
    with pytest.raises(Exception, match="coords have 64 rows but x_train"):
        RunWriter.for_model(tmp_path / "bad.h5", EncodedNet(), z, y, constructor="test_coords:EncodedNet",
                            coords=x[:64])
    assert not (tmp_path / "bad.h5").exists()


@pytest.mark.parametrize("how", ["array", "npy"])
def test_train_import_with_coords(tmp_path, encoded_run, how):
    """The same model's checkpoints imported: --coords names an array of the data file, or a .npy file."""
    _, model = encoded_run
    x, z, y = data()
    folder = tmp_path / "ckpts"
    folder.mkdir()
    for step in (0, 10, 20):
        torch.save(model.state_dict(), folder / f"step_{step}.pt")
    arrays = {"x_train": z, "y_train": y}
    if how == "array":
        arrays["x_unit"] = x
        coords = "x_unit"
    else:
        np.save(tmp_path / "x.npy", x[:, 0])
        coords = str(tmp_path / "x.npy")
    np.savez(tmp_path / "data.npz", **arrays)
    out = tmp_path / "imported.h5"
    result = runner.invoke(train_app, ["import", str(folder), "--model", "test_coords:EncodedNet", "--data",
                                       str(tmp_path / "data.npz"), "--coords", coords, "-o", str(out)])
    assert result.exit_code == 0, result.output
    assert "target frequencies 2, 5, 9, 10 Hz (detected on coords" in result.output
    with h5py.File(out, "r") as f:
        assert f["data/coords_eval"].shape == (G, 1) and f["data/coords_eval"].dtype == np.float64
    spectrum = runner.invoke(analyze_app, ["spectrum", str(out), "--no-cache", "--json"])
    assert spectrum.exit_code == 0, spectrum.output
    assert json.loads(spectrum.stdout)["target_freqs_hz"] == [float(f) for f in TARGET_HZ]


def test_train_import_refuses_coords_it_cannot_find(tmp_path):
    x, z, y = data()
    np.savez(tmp_path / "data.npz", x_train=z, y_train=y)
    (tmp_path / "ckpts").mkdir()
    torch.save(EncodedNet().state_dict(), tmp_path / "ckpts" / "step_0.pt")
    result = runner.invoke(train_app, ["import", str(tmp_path / "ckpts"), "--model", "test_coords:EncodedNet",
                                       "--data", str(tmp_path / "data.npz"), "--coords", "x_unit",
                                       "-o", str(tmp_path / "run.h5")])
    assert result.exit_code == 2 and "--coords x_unit: neither an array of" in result.output
    assert not (tmp_path / "run.h5").exists()


# ---- a target on the sphere, seen by the model through an encoding ------------------------------------
def sphere_data(n_points: int = 300, seed: int = 0):
    """Points on S^2, a target of degrees 1 and 3 (trainer.harmonics components), the model's input a 9-D encoding."""
    from trainer import harmonics

    rng = np.random.default_rng(seed)
    points = harmonics.sample_sphere(n_points, 3, rng)
    y = (harmonics.random_component(3, 1, rng)(points) + 0.5 * harmonics.random_component(3, 3, rng)(points))
    encoding = np.concatenate([points, np.sin(np.pi * points), np.cos(np.pi * points)], axis=1)
    return points, encoding, y[:, None]


def test_sphere_coords_are_read_on_harmonic_degrees(tmp_path):
    """Degrees 1 and 3 found on the coords (least-squares oracle on the degree blocks), the spectrum on degrees."""
    from trainer.runfile.degrees import degree_norms, highest_degree

    points, encoding, y = sphere_data()
    model = EncodedNet(width=16, in_dim=9).double()
    path = tmp_path / "sphere.h5"
    zt, yt = torch.tensor(encoding), torch.tensor(y)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    with RunWriter.for_model(path, model, zt, yt, constructor="test_coords:EncodedNet",
                             constructor_kwargs={"width": 16, "in_dim": 9}, coords=points) as run:
        for step in range(12):
            run.checkpoint(step, model)
            run.log_predictions(step)
            loss = torch.mean((model(zt) - yt) ** 2)
            optimizer.zero_grad()
            loss.backward()
            run.log_step(step, loss)
            optimizer.step()
    # closed form: unit-norm components (under the uniform measure), so the degree norms are 1 and 0.5 exactly
    norms = degree_norms(points, y, highest_degree(3, len(points)))
    np.testing.assert_allclose(norms[[1, 3]], [1.0, 0.5], rtol=1e-9)
    assert np.all(np.delete(norms, [1, 3]) < 1e-9)
    with analyzer.open_run(path) as run:
        assert run.target["degrees"] == [1, 3] and run.target["freqs_hz"] == []
        result = analyzer.spectrum(run)
    assert result.mode_name == "degree" and list(result.target_modes) == [1, 3]
    assert result.targets_found.startswith("detected on sphere coords: every spherical-harmonic degree")
    np.testing.assert_allclose(result.target_amplitude[[1, 3]], [1.0, 0.5], rtol=1e-6)
    info = json.loads(runner.invoke(analyze_app, ["info", str(path), "--json"]).stdout)
    assert info["target_freqs"]["degrees"] == [1, 3] and info["target_freqs"]["text"].startswith("degrees 1, 3")


def test_resuming_a_logged_run_keeps_its_coords(tmp_path, encoded_run):
    _, model = encoded_run
    x, z, y = data()
    path = tmp_path / "resumed.h5"
    run = RunWriter.for_model(path, model, z, y, constructor="test_coords:EncodedNet", coords=x)
    run.checkpoint(0, model)
    run.log_predictions(0)
    run.commit()
    run.close("interrupted")
    writer, meta, _ = RunWriter.resume(path)
    writer.close("interrupted")
    np.testing.assert_array_equal(meta.data["coords_eval"], x)
    with analyzer.open_run(path) as reopened:
        np.testing.assert_array_equal(reopened.coords, x)
