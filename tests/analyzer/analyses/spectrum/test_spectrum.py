"""Spectrum analysis: DFT against an explicit DFT sum, learned step and jumps on constructed curves, run files."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pandas as pd
import pytest

from analyzer.errors import BadInputError
from analyzer.analyses.spectrum import (SpectrumParams, detect_jumps, dft_of_predictions, learned_steps,
                                        spectrum_from_predictions)

G = 64


def _grid(n: int = G) -> np.ndarray:
    return np.arange(n) / n


def _random_predictions(seed: int = 0, n_steps: int = 37, n: int = G) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    x = _grid(n)
    y = np.sin(2 * np.pi * 3 * x) + 0.5 * np.sin(2 * np.pi * 5 * x + 0.3)
    pred = rng.standard_normal((n_steps, n)) + y
    return np.arange(n_steps) * 3, pred, y


def _explicit_dft(rows: np.ndarray) -> np.ndarray:
    """The DFT as a matrix product, independent of numpy's FFT."""
    n = rows.shape[1]
    k = np.arange(n // 2 + 1)[:, None]
    basis = np.exp(-2j * np.pi * k * np.arange(n)[None, :] / n)
    return rows @ basis.T


def test_spectrum_matches_explicit_dft_to_1e10():
    steps, pred, y = _random_predictions()
    result = spectrum_from_predictions(steps, pred, y, [3.0, 5.0])
    full = dft_of_predictions(steps, pred, dtype=np.float64)
    coef = _explicit_dft(pred)
    scale = np.full(G // 2 + 1, 2.0 / G)
    scale[[0, -1]] = 1.0 / G
    np.testing.assert_allclose(full.amplitude, np.abs(coef) * scale, rtol=0, atol=1e-10)
    np.testing.assert_allclose(np.abs(np.exp(1j * full.phase) - np.exp(1j * np.angle(coef))), 0, atol=1e-10)
    np.testing.assert_allclose(result.pred_amplitude, np.abs(coef[:, [3, 5]]) * scale[[3, 5]], rtol=1e-10)
    target = _explicit_dft(y[None, :])[0]
    expected = np.abs(coef[:, [3, 5]] - target[[3, 5]]) / np.abs(target[[3, 5]])
    np.testing.assert_allclose(result.rel_error, expected, rtol=1e-10)
    np.testing.assert_allclose(result.modes, np.arange(G // 2 + 1))
    np.testing.assert_allclose(full.modes, np.arange(G // 2 + 1))
    band = dft_of_predictions(steps, pred, max_hz=10.0, dtype=np.float64)
    np.testing.assert_array_equal(band.modes, np.arange(11))
    np.testing.assert_array_equal(band.amplitude, full.amplitude[:, :11])


def test_default_float32_arrays_and_single_sided_amplitude():
    x = _grid()
    pred = np.stack([0.7 * np.sin(2 * np.pi * 4 * x + 0.2) + 0.25, np.cos(2 * np.pi * 9 * x), x])
    result = spectrum_from_predictions([0, 1, 2], pred[:, :, None], np.sin(2 * np.pi * 4 * x), [4])
    full = dft_of_predictions([0, 1, 2], pred[:, :, None])
    assert full.amplitude.dtype == np.float32 and full.phase.dtype == np.float32
    assert full.amplitude[0, 4] == pytest.approx(0.7, abs=1e-6)
    assert result.pred_amplitude[0, 0] == pytest.approx(0.7, abs=1e-12)
    assert full.amplitude[0, 0] == pytest.approx(0.25, abs=1e-6)
    assert full.amplitude[1, 9] == pytest.approx(1.0, abs=1e-6)
    assert result.target_amplitude[4] == pytest.approx(1.0, abs=1e-12)
    assert result.learning.target_amplitude.iloc[0] == pytest.approx(1.0, abs=1e-12)
    # sin(2 pi f x + phi) has DFT phase phi - pi/2
    assert full.phase[0, 4] == pytest.approx(0.2 - np.pi / 2, abs=1e-5)


def test_learned_step_exact_on_constructed_curves():
    steps = np.arange(0, 100, 5)
    errors = np.ones((len(steps), 4))
    errors[7:, 0] = 0.05  # below from step 35 on
    errors[3:, 1] = 0.05
    errors[12, 1] = 0.2  # relapse at step 60: learned only from step 65
    errors[:, 2] = 0.05  # learned from the start
    errors[-1, 3] = 0.05  # below only at the last step
    np.testing.assert_array_equal(learned_steps(steps, errors, 0.1), [35.0, 65.0, 0.0, 95.0])
    errors[-1, 3] = 0.1  # exactly at the threshold is not below it
    assert np.isnan(learned_steps(steps, errors, 0.1)[3])



def _spiky_learning_curve(n_steps: int = 400, learned_at: int = 50) -> np.ndarray:
    """Relative error 1 until `learned_at`, then 0.05: a learned frequency."""
    errors = np.ones(n_steps)
    errors[learned_at:] = 0.05
    return errors


def test_short_spike_after_learning_keeps_the_early_learned_step():
    steps = np.arange(400) * 2
    errors = np.column_stack([_spiky_learning_curve(), _spiky_learning_curve()])
    errors[300:325, 0] = 0.5  # a 25-step spike: at most h = 25 of the default W = 51 window
    errors[[200, 203, 206], 1] = 0.3  # a cluster of single-step spikes
    errors[399, 1] = 0.4  # a spike on the final step does not unlearn
    assert SpectrumParams().spike_window == 51
    np.testing.assert_array_equal(learned_steps(steps, errors, 0.1, 51), [100.0, 100.0])
    np.testing.assert_array_equal(learned_steps(steps, errors, 0.1, 1), [650.0, np.nan])  # strict


def test_long_relapse_moves_the_learned_step_exactly():
    steps = np.arange(400) * 2
    errors = np.column_stack([_spiky_learning_curve()] * 4)
    errors[300:326, 0] = 0.5  # 26 steps = h + 1: a relapse, learned from the first step after it
    errors[200:300, 1] = 0.2  # a long relapse
    errors[120:170:2, 2] = 0.3  # 25 single-step spikes in 50 steps: never more than h in a window, ignored
    errors[220:270:2, 3] = 0.3
    errors[221:270:4, 3] = 0.3  # 38 of 50 steps above: the median is above, a relapse
    learned = learned_steps(steps, errors, 0.1, 51)
    np.testing.assert_array_equal(learned[:3], [652.0, 600.0, 100.0])
    assert 2 * 245 < learned[3] < 2 * 270, learned  # in the cluster's second half, where the median turns below
    assert errors[int(learned[3]) // 2, 3] < 0.1  # on a step whose own error is below


def test_median_rule_matches_scipy_median_filter_and_snaps_to_a_step_below():
    from scipy.ndimage import median_filter

    rng = np.random.default_rng(11)
    steps = np.arange(3000)
    errors = 0.1 * 10 ** rng.normal(-0.3, 0.25, (len(steps), 5))  # hovering around the threshold
    errors[:40] = 1.0
    for window in (3, 11, 51):
        median_below = median_filter(errors, size=(window, 1), mode="mirror") < 0.1
        stays = np.logical_and.accumulate(median_below[::-1], axis=0)[::-1]
        learned = learned_steps(steps, errors, 0.1, window)
        for k in range(errors.shape[1]):
            if not stays[-1, k]:
                assert np.isnan(learned[k])
                continue
            start = np.argmax(stays[:, k])
            expected = start + np.argmax(errors[start:, k] < 0.1)
            assert learned[k] == expected


def test_strict_mode_reproduces_the_old_rule():
    rng = np.random.default_rng(5)
    steps = np.arange(0, 5000, 5)
    errors = np.abs(rng.normal(0.05, 0.03, (len(steps), 4)))
    errors[:30] = 1.0
    expected = []
    for column in errors.T:  # the old rule, written out: the step after the last step at or above threshold
        above = np.flatnonzero(column >= 0.1)
        expected.append(np.nan if above[-1] == len(column) - 1 else steps[above[-1] + 1])
    for window in (0, 1):
        np.testing.assert_array_equal(learned_steps(steps, errors, 0.1, window), expected)


def _staged_curves(steps: np.ndarray, centres: list[float], width_decades: float = 0.1) -> np.ndarray:
    """Relative errors falling from 1 to 0.01 as a logistic in log-step centred at each given step."""
    u = np.log10(steps + 1.0)[:, None]
    centre = np.log10(np.asarray(centres) + 1.0)[None, :]
    return 10.0 ** (-2.0 / (1.0 + np.exp(-(u - centre) / width_decades * 4)))


def test_jumps_found_at_constructed_drops_and_not_at_the_edges():
    steps = np.arange(10_001)
    centres = [30.0, 300.0, 3000.0]
    errors = _staged_curves(steps, centres)
    errors[:25] *= 1.0 + 0.3 * np.cos(np.arange(25))[:, None]  # an initial transient wobble
    jumps = detect_jumps(steps, errors, np.array([1.0, 3.0, 7.0]), SpectrumParams())
    assert list(jumps.freq_hz) == [1.0, 3.0, 7.0]
    np.testing.assert_allclose(np.log10(jumps.step + 1), np.log10(np.array(centres) + 1), atol=0.06)
    assert (jumps["drop"] > 0.9).all()  # the drop is in learned fraction now (was > 1 decade of error)


def _logistic_errors(steps: np.ndarray, halves: list[float], widths: list[float]) -> np.ndarray:
    """Relative errors 1 - r of logistic escapes in linear steps, r = 1/2 at `halves`, 10-90 % over `widths`."""
    t = steps[:, None] - np.asarray(halves)[None, :]
    return 1.0 - 1.0 / (1.0 + np.exp(-t * 2 * np.log(9) / np.asarray(widths)[None, :]))


def test_jumps_sit_at_the_half_learned_step_of_logistic_escapes_with_spikes():
    """Overlapping escapes, the last near the end of the run, Adam-like spikes: each jump within 2 % of a width."""
    steps = np.arange(1700)
    halves, widths = [98.0, 160.0, 437.0, 1400.0], [30.0, 60.0, 136.0, 300.0]
    errors = _logistic_errors(steps, halves, widths)
    rng = np.random.default_rng(7)
    spiky = rng.choice(len(steps), 40, replace=False)
    errors[spiky] *= 1.0 + 3.0 * rng.uniform(size=(40, 1))  # single-step spikes up to 4x the error
    jumps = detect_jumps(steps, errors, np.array([1.0, 3.0, 7.0, 15.0]), SpectrumParams())
    assert list(jumps.freq_hz) == [1.0, 3.0, 7.0, 15.0]
    assert np.all(np.abs(jumps.step.to_numpy() - halves) <= 0.02 * np.asarray(widths) + 1), jumps


def test_no_jump_when_the_curve_only_fluctuates_below_threshold_or_barely_moves():
    steps = np.arange(5000)
    rng = np.random.default_rng(3)
    learned_noisy = 0.01 * 10 ** rng.uniform(-0.8, 0.8, len(steps))  # learned, jittering by 1.6 decades
    slow = np.linspace(1.0, 0.8, len(steps))  # never learned, barely moving
    jumps = detect_jumps(steps, np.column_stack([learned_noisy, slow]), np.array([1.0, 2.0]), SpectrumParams())
    assert jumps.empty


def test_learning_table_columns_and_nan_when_never_learned():
    steps = np.arange(2001)
    errors = _staged_curves(steps, [100.5, 1e9])  # no step sits exactly at the threshold
    x = _grid()
    y = np.sin(2 * np.pi * 1 * x) + np.sin(2 * np.pi * 2 * x)
    coef = np.fft.rfft(y)
    pred_coef = np.zeros((len(steps), G // 2 + 1), dtype=complex)
    pred_coef[:, [1, 2]] = coef[[1, 2]] * (1 - errors)  # prediction coefficient with exactly this error
    pred = np.fft.irfft(pred_coef, n=G, axis=1)
    result = spectrum_from_predictions(steps, pred, y, [1, 2])
    np.testing.assert_allclose(result.rel_error, errors, rtol=1e-9)
    learning = result.learning
    assert list(learning.columns[:5]) == ["freq_hz", "target_amplitude", "learned_step", "jump_step", "final_rel_error"]
    expected_learned = steps[np.argmax(errors[:, 0] < 0.1)]
    assert learning.learned_step.iloc[0] == expected_learned
    assert np.isnan(learning.learned_step.iloc[1]) and np.isnan(learning.jump_step.iloc[1])
    assert "learned 1 Hz" in result.headline() and "2 Hz never" in result.headline()
    assert set(result.tables()) == {"learning per target frequency", "frequency jumps"}


@pytest.mark.parametrize("freqs, message", [([2.5], "between DFT bins"), ([40.0], "Nyquist"), ([7.0], "no amplitude")])
def test_bad_target_frequencies_are_refused(freqs, message):
    steps, pred, y = _random_predictions()
    with pytest.raises(BadInputError, match=message):
        spectrum_from_predictions(steps, pred, y, freqs)


def test_sparse_predictions_are_refused():
    steps = np.array([0, 1000, 2000, 3000, 4000])
    pred = np.zeros((5, G))
    with pytest.raises(BadInputError, match="too sparsely"):
        spectrum_from_predictions(steps, pred, np.sin(2 * np.pi * _grid()), [1])


@pytest.mark.parametrize("option", [{"threshold": -0.1}, {"threshold": 0}, {"min_drop": 0},
                                    {"points_per_decade": 1}, {"window_decades": 0.01},
                                    {"spike_window": 2}, {"spike_window": -1}])
def test_out_of_range_options(option):
    from analyzer.core import registry

    with pytest.raises(BadInputError):
        registry.make_params(registry.get("spectrum"), **option)


def test_run_file_spectrum_matches_numpy_fft_and_caches(small_run, tmp_path):
    from analyzer import analyze, open_run
    from analyzer.analyses.spectrum import amplitude_spectrum

    with open_run(small_run) as run:
        pred = run.pred[:, :, 0].astype(np.float64)
        y = run.data("y_eval")[:, 0].astype(np.float64)
        freqs = run.target["freqs_hz"]
        result = analyze(run, "spectrum", use_cache=False)
        full = amplitude_spectrum(run)
    n = pred.shape[1]
    coef = np.fft.rfft(pred, axis=1)
    bins = np.asarray(freqs, dtype=int)
    target = np.fft.rfft(y)
    np.testing.assert_allclose(result.rel_error, np.abs(coef[:, bins] - target[bins]) / np.abs(target[bins]),
                               rtol=1e-10)
    np.testing.assert_allclose(full.amplitude[:, 1:-1], 2 * np.abs(coef[:, 1:-1]) / n, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(full.steps, result.steps)
    np.testing.assert_allclose(result.pred_amplitude, 2 * np.abs(coef[:, bins]) / n, rtol=1e-10)
    np.testing.assert_array_equal(result.target_modes, freqs)
    cache = tmp_path / "c.h5"
    first = analyze(small_run, "spectrum", cache=cache, threshold=0.2)
    again = analyze(small_run, "spectrum", cache=cache, threshold=0.2)
    pd.testing.assert_frame_equal(first.learning, again.learning)
    np.testing.assert_array_equal(first.rel_error, again.rel_error)


def test_cli_spectrum(small_run):
    from typer.testing import CliRunner

    from analyzer.cli import app

    runner = CliRunner()
    result = runner.invoke(app, ["spectrum", str(small_run), "--json", "--no-cache"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert [row["freq_hz"] for row in payload["learning"]] == [1.0, 3.0, 7.0, 15.0]
    assert "amplitude" not in payload and len(payload["pred_amplitude"]) == len(payload["steps"])
    bad = runner.invoke(app, ["spectrum", str(small_run), "--threshold", "-1", "--no-cache"])
    assert bad.exit_code == 2 and "threshold" in bad.output
    strict = runner.invoke(app, ["spectrum", str(small_run), "--json", "--no-cache", "--spike-window", "1"])
    assert strict.exit_code == 0, strict.output
    even = runner.invoke(app, ["spectrum", str(small_run), "--spike-window", "4", "--no-cache"])
    assert even.exit_code == 2 and "spike_window" in even.output


def test_run_with_sparse_predictions_is_refused(tmp_path):
    from helpers import small_config

    from analyzer import analyze
    from trainer.engines.loop import train

    path = tmp_path / "sparse.h5"
    train(dataclasses.replace(small_config(epochs=400), pred_every=100), path)
    with pytest.raises(BadInputError, match="too sparsely"):
        analyze(path, "spectrum", use_cache=False)


def test_late_refinement_through_the_threshold_is_a_log_scale_jump():
    """r: 1 -> 0.15 by an early escape, then a late fall 0.15 -> 0.005 that the learned fraction barely shows."""
    steps = np.arange(10_000)
    u = np.log10(steps + 1.0)
    early = 1.0 - 0.85 / (1.0 + np.exp(-(u - 2.0) / 0.05))  # half-way at step ~100
    late = np.exp(np.log(0.15) + (np.log(0.005) - np.log(0.15)) / (1.0 + np.exp(-(u - 3.5) / 0.05)))
    rel_error = np.where(u < 2.75, early, late * early / 0.15)[:, None]
    jumps = detect_jumps(steps, rel_error, np.array([7.0]), SpectrumParams())
    assert list(jumps.scale) == ["linear", "log"]
    linear_step, log_step = jumps.step.tolist()
    assert abs(np.log10(linear_step + 1) - 2.0) < 0.03
    # the geometric middle of the late fall: log10 r half-way between log10 0.15 and log10 0.005
    assert abs(np.log10(log_step + 1) - 3.5) < 0.03
    off = detect_jumps(steps, rel_error, np.array([7.0]), SpectrumParams(min_log_drop=0))
    assert list(off.scale) == ["linear"]


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_predictions_end_the_analysis_like_a_non_finite_loss(bad):
    """Everything before the first non-finite row is analysed exactly as if the run had stopped there."""
    steps, pred, y = _random_predictions(n_steps=40)
    damaged = pred.copy()
    damaged[25, 7] = bad
    damaged[31:] = np.nan
    result = spectrum_from_predictions(steps, damaged, y, [3.0, 5.0])
    prefix = spectrum_from_predictions(steps[:25], pred[:25], y, [3.0, 5.0])
    assert result.first_nonfinite_step == steps[25] and prefix.first_nonfinite_step is None
    assert f"predictions not finite from step {steps[25]}; analysed the 25 prediction steps before it" in result.note
    assert result.note in result.headline()
    np.testing.assert_array_equal(result.steps, steps[:25])
    np.testing.assert_array_equal(result.rel_error, prefix.rel_error)
    pd.testing.assert_frame_equal(result.learning, prefix.learning)
    pd.testing.assert_frame_equal(result.jumps, prefix.jumps)


@pytest.mark.parametrize("rows, message", [(0, "NaN or infinite from the first stored step"), (2, "fewer than 3")])
def test_too_few_finite_predictions_are_refused(rows, message):
    steps, pred, y = _random_predictions(n_steps=10)
    pred[rows:] = np.nan
    with pytest.raises(BadInputError, match=message):
        spectrum_from_predictions(steps, pred, y, [3.0])


@pytest.mark.parametrize("n_steps", [0, 1, 2])
def test_fewer_than_three_predictions_have_nothing_to_analyze(n_steps):
    steps, pred, y = _random_predictions(n_steps=n_steps)
    with pytest.raises(BadInputError, match="nothing to analyze"):
        spectrum_from_predictions(steps, pred, y, [3.0])
