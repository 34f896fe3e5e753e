"""Target frequencies detected from y_eval: every DFT bin at >= 10 % of the largest, adjacent bins included, no silent
cap; checked against a numpy FFT oracle, and shown by `train import` and `analyze info`."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from byo_models import TinyNet
from typer.testing import CliRunner

from analyzer.cli import app as analyze_app
from trainer import RunWriter
from trainer.runfile.frequencies import DETECT_FRACTION, detect, detect_freqs, detection_text
from trainer.runfile.records import describe_target
from trainer.cli import app as train_app

runner = CliRunner()
G = 256


def grid(n: int = G) -> np.ndarray:
    return (np.arange(n, dtype=np.float64) / n)[:, None]


def sines(freqs, amps, n: int = G, phases=None) -> np.ndarray:
    x = grid(n)[:, 0]
    phases = np.zeros(len(freqs)) if phases is None else phases
    return sum(a * np.sin(2 * np.pi * f * x + p) for f, a, p in zip(freqs, amps, phases))[:, None]


def oracle(y: np.ndarray, fraction: float = DETECT_FRACTION) -> list[float]:
    """The bins whose |rfft| is at least `fraction` of the largest (DC and Nyquist left out), on a grid of length 1."""
    amplitude = np.abs(np.fft.rfft(y[:, 0]))
    inner = amplitude[1:(len(y) - 1) // 2 + 1]
    return [float(k + 1) for k in np.flatnonzero(inner >= fraction * inner.max() * (1 - 1e-9))]


def test_ten_equal_sines_in_adjacent_bins_are_all_found():
    """The issue's case: 1..10 Hz at amplitude 0.1 each; strict local maxima of rounding noise gave [1, 3, 7]."""
    y = sines(range(1, 11), [0.1] * 10)
    assert detect_freqs(grid(), y) == oracle(y) == [float(f) for f in range(1, 11)]
    assert detect_freqs(grid().astype(np.float32), y.astype(np.float32).astype(np.float64)) == oracle(y)


def test_ten_equal_sines_five_hz_apart_are_all_found_without_a_cap():
    """5..50 Hz, ten equal amplitudes: the old cap of 8 dropped 35 and 45 Hz silently."""
    freqs = list(range(5, 55, 5))
    y = sines(freqs, [1.0] * 10, phases=np.random.default_rng(0).uniform(0, 2 * np.pi, 10))
    found, how = detect(grid(), y)
    assert found == oracle(y) == [float(f) for f in freqs]
    assert how["max_freqs"] is None and how["left_out_hz"] == [] and how["min_fraction"] == 0.1


@pytest.mark.parametrize("relative, kept", [(0.099, False), (0.101, True), (0.1, True)])
def test_a_sine_just_under_or_over_ten_percent(relative, kept):
    y = sines([3, 4, 11, 40], [1.0, 0.6, relative, 0.3])
    found = detect_freqs(grid(), y)
    assert found == oracle(y)
    assert (11.0 in found) == kept and {3.0, 4.0, 40.0} <= set(found)


def test_random_line_spectra_match_the_fft_oracle():
    rng = np.random.default_rng(1)
    for _ in range(20):
        freqs = rng.choice(np.arange(1, G // 2), size=rng.integers(1, 15), replace=False)
        amps = rng.uniform(0.01, 1.0, len(freqs))
        y = sines(freqs, amps, phases=rng.uniform(0, 2 * np.pi, len(freqs))) + 0.3  # a DC offset is no frequency
        assert detect_freqs(grid(), y) == oracle(y) == sorted(float(f) for f in freqs[amps >= 0.1 * amps.max()])


def test_a_limit_is_an_option_and_says_what_it_left_out():
    y = sines(range(5, 55, 5), np.linspace(1.0, 0.5, 10))
    found, how = detect(grid(), y, max_freqs=8)
    assert found == [5.0, 10.0, 15.0, 20.0, 25.0, 30.0, 35.0, 40.0] and how["left_out_hz"] == [45.0, 50.0]
    target = describe_target({"x_train": grid(), "y_train": y, "x_eval": grid(), "y_eval": y}, "float64",
                             max_freqs=8)
    assert "limited to the 8 largest, left out 45, 50 Hz" in detection_text(target)


def test_no_peak_on_a_constant_or_an_ungridded_target():
    assert detect_freqs(grid(), np.full((G, 1), 2.0)) == []
    assert detect_freqs(np.sort(np.random.default_rng(0).random((G, 1)), axis=0), sines([3], [1.0])) == []


def test_logged_run_records_and_shows_how_the_frequencies_were_found(tmp_path):
    """All ten targets through RunWriter.for_model; `analyze info` and the spectrum say how they were found."""
    x = grid(128)
    y = sines(range(5, 55, 5), [0.1] * 10, n=128)
    model = TinyNet(width=6)
    path = tmp_path / "ten.h5"
    with RunWriter.for_model(path, model, x, y, constructor_kwargs={"width": 6}) as run:
        for step in range(3):
            run.checkpoint(step, model)
            run.log_predictions(step)
            with torch.no_grad():
                pred = model(torch.tensor(x, dtype=torch.float32))
            run.log_step(step, float(torch.mean((pred - torch.tensor(y, dtype=torch.float32)) ** 2)))
    info = runner.invoke(analyze_app, ["info", str(path), "--json"])
    assert info.exit_code == 0, info.output
    import json

    shown = json.loads(info.stdout)["target_freqs"]
    assert shown["freqs_hz"] == [float(f) for f in range(5, 55, 5)] and shown["coordinate"] == "x_eval"
    assert shown["how"] == "detected on x_eval: every DFT bin of y_eval at >= 10% of the largest"
    table = runner.invoke(analyze_app, ["info", str(path)])
    letters = "".join(ch for ch in table.output if ch.isalnum() or ch == "%")  # the table wraps its cells
    assert "targetfrequencies5101520" in letters and "at10%ofthelargest" in letters
    spectrum = runner.invoke(analyze_app, ["spectrum", str(path), "--no-cache", "--json"])
    assert spectrum.exit_code == 0, spectrum.output
    result = json.loads(spectrum.stdout)
    assert result["target_freqs_hz"] == shown["freqs_hz"] and result["targets_found"] == shown["how"]


def test_the_import_prints_the_detected_frequencies_and_the_rule(tmp_path):
    x = grid(64)
    y = sines([2, 3, 4], [0.5, 0.4, 0.3], n=64)
    np.savez(tmp_path / "data.npz", x_train=x, y_train=y)
    (tmp_path / "ckpts").mkdir()
    torch.save(TinyNet(width=6).state_dict(), tmp_path / "ckpts" / "step_0.pt")
    torch.save(TinyNet(width=6).state_dict(), tmp_path / "ckpts" / "step_5.pt")
    result = runner.invoke(train_app, ["import", str(tmp_path / "ckpts"), "--model", "byo_models:TinyNet",
                                       "--model-kwargs", '{"width": 6}', "--data", str(tmp_path / "data.npz"),
                                       "-o", str(tmp_path / "run.h5"), "--max-freqs", "2"])
    assert result.exit_code == 0, result.output
    assert "target frequencies 2, 3 Hz (detected on x_eval: every DFT bin of y_eval at >= 10% of the largest; " \
           "limited to the 2 largest, left out 4 Hz)" in result.output
