"""Targets: the DFT of the sampled target holds exactly the configured amplitudes and phases."""

from __future__ import annotations

import numpy as np
import pytest

from trainer.config import TargetSpec, TrainConfig, validate
from trainer.errors import ConfigError
from trainer.targets import evaluate, make_data, uniform_grid


def single_sided(y: np.ndarray) -> np.ndarray:
    return np.fft.rfft(y.reshape(-1)) * 2 / len(y)


def test_default_target_has_exactly_the_seed_amplitudes():
    data = make_data(TargetSpec())
    coeffs = single_sided(data["y_train"])
    amplitude = np.abs(coeffs)
    expected = np.zeros_like(amplitude)
    expected[[1, 3, 7, 15]] = [1.0, 0.8, 0.6, 0.4]
    np.testing.assert_allclose(amplitude, expected, atol=1e-12)


def test_phases_and_custom_frequencies():
    target = TargetSpec(freqs_hz=(2.0, 5.0), amps=(0.5, 2.0), phases=(0.3, -1.0), n_train=64)
    coeffs = single_sided(evaluate(target, uniform_grid(64)))
    # a sin(2 pi f x + phi) has complex coefficient a * exp(i (phi - pi/2))
    np.testing.assert_allclose(coeffs[2], 0.5 * np.exp(1j * (0.3 - np.pi / 2)), atol=1e-12)
    np.testing.assert_allclose(coeffs[5], 2.0 * np.exp(1j * (-1.0 - np.pi / 2)), atol=1e-12)
    assert np.abs(np.delete(coeffs, [2, 5])).max() < 1e-12


def test_eval_grid_defaults_to_training_grid_and_can_differ():
    same = make_data(TargetSpec(n_train=100))
    np.testing.assert_array_equal(same["x_eval"], same["x_train"])
    other = make_data(TargetSpec(n_train=100, n_eval=256))
    assert other["x_eval"].shape == (256, 1)
    np.testing.assert_allclose(other["x_eval"][1, 0], 1 / 256)


@pytest.mark.parametrize(
    "target, message",
    [
        (TargetSpec(freqs_hz=(1.0, 500.0), amps=(1.0, 1.0)), "Nyquist"),
        (TargetSpec(freqs_hz=(1.0, 40.0), amps=(1.0, 1.0), n_train=1000, n_eval=64), "Nyquist"),
        (TargetSpec(freqs_hz=(1.0, 3.0), amps=(1.0,)), "one amplitude per frequency"),
        (TargetSpec(freqs_hz=(0.0,), amps=(1.0,)), "positive"),
        (TargetSpec(n_train=0), "n-train must be positive"),
        (TargetSpec(freqs_hz=(1.0,), amps=(1.0,), phases=(0.0, 1.0)), "phases"),
    ],
)
def test_bad_targets_are_refused(target, message):
    with pytest.raises(ConfigError, match=message):
        validate(TrainConfig(target=target))
