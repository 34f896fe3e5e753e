"""The residual on a basis (analyzer/bases): Fourier modes against explicit sines and today's spectrum,
spherical-harmonic degrees against functions of known degree, streaming and bad input."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from helpers import small_config

import analyzer
from analyzer.bases import FourierBasis, SampledBasis, basis_for_run, harmonic_basis, project_residual
from analyzer.errors import BadInputError
from analyzer.analyses.spectrum import spectrum_from_predictions
from trainer import harmonics
from trainer.config import TargetSpec


def explicit_fourier(n_points: int) -> SampledBasis:
    """cos/sin columns written out on the grid i / G: an independent oracle for the FFT-based basis."""
    x = np.arange(n_points) / n_points
    columns, modes = [np.ones(n_points)], [0]
    for k in range(1, n_points // 2 + 1):
        if 2 * k == n_points:
            columns.append(np.cos(2 * np.pi * k * x))
            modes.append(k)
            continue
        columns += [np.sqrt(2) * np.cos(2 * np.pi * k * x), np.sqrt(2) * np.sin(2 * np.pi * k * x)]
        modes += [k, k]
    return SampledBasis("explicit", "freq_hz", np.arange(n_points // 2 + 1, dtype=np.float64),
                        np.column_stack(columns), np.asarray(modes))


@pytest.mark.parametrize("n_points", [64, 65])
def test_fourier_coefficients_equal_explicit_projections(n_points):
    values = np.random.default_rng(0).standard_normal((3, n_points))
    modes = np.arange(n_points // 2 + 1)
    fast, slow = FourierBasis(n_points).coefficients(values, modes), explicit_fourier(n_points).coefficients(values,
                                                                                                            modes)
    np.testing.assert_allclose(fast, slow, atol=1e-12)


def test_a_sinusoid_has_norm_amplitude_over_root_two_on_its_mode_only():
    x = np.arange(128) / 128
    norms = FourierBasis(128).mode_norms(0.7 * np.sin(2 * np.pi * 5 * x + 0.3))[0]
    assert norms[5] == pytest.approx(0.7 / np.sqrt(2), rel=1e-12)
    assert np.delete(norms, 5).max() < 1e-12


def test_fourier_relative_errors_are_the_spectrum_analysis_numbers(small_run):
    """On a real run: ||P_k (f - y)|| / ||P_k y|| on the basis = |h_k - y_k| / |y_k| of analyzer/spectrum.py."""
    with analyzer.open_run(small_run) as run:
        run_basis = basis_for_run(run)
        steps, pred, y_eval = run.pred_steps, run.pred, run.data("y_eval")
        reference = spectrum_from_predictions(steps, pred, y_eval, run.target["freqs_hz"])
    projection = project_residual(run_basis.basis, steps, pred, y_eval, run_basis.tracked)
    np.testing.assert_array_equal(projection.labels, reference.target_modes)
    np.testing.assert_allclose(projection.rel_error, reference.rel_error, rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(projection.pred_norm * np.sqrt(2), reference.pred_amplitude, rtol=1e-12, atol=1e-15)


def sphere_points(n_points: int = 500, input_dim: int = 3) -> np.ndarray:
    return harmonics.sample_sphere(n_points, input_dim, np.random.default_rng(7))


@pytest.mark.parametrize("input_dim", [2, 3, 5])
def test_a_function_of_one_degree_is_attributed_to_that_degree_exactly(input_dim):
    points = sphere_points(600, input_dim)
    basis = harmonic_basis(points, 4)
    component = harmonics.random_component(input_dim, 3, np.random.default_rng(1))
    norms = basis.mode_norms(2.0 * component(points))[0]
    assert norms[3] == pytest.approx(2.0, rel=1e-10)  # the population norm, exactly, from 600 points
    assert np.delete(norms, 3).max() < 1e-10
    assert basis.remainder_norms(component(points))[0] < 1e-10


def test_a_degree_outside_the_basis_is_left_in_the_remainder():
    points = sphere_points(2000)
    component = harmonics.random_component(3, 6, np.random.default_rng(2))
    basis = harmonic_basis(points, 3)
    norms, remainder = basis.mode_norms(component(points))[0], basis.remainder_norms(component(points))[0]
    assert remainder > 0.9 and norms.max() < 0.15  # degree 6 is orthogonal to 0..3 up to sampling error


def test_projection_stops_at_the_first_non_finite_prediction():
    basis = FourierBasis(32)
    x = np.arange(32) / 32
    y = np.sin(2 * np.pi * 3 * x)
    pred = np.stack([(1 - s / 10) * y for s in range(6)])
    pred[4, 5] = np.nan
    projection = project_residual(basis, np.arange(6) * 10, pred[:, :, None], y, [3.0])
    assert projection.first_nonfinite_step == 40 and len(projection.steps) == 4
    np.testing.assert_allclose(projection.rel_error[:, 0], [0.0, 0.1, 0.2, 0.3], rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(projection.residual_rms, np.array([0.0, 0.1, 0.2, 0.3]) / np.sqrt(2), rtol=1e-12, atol=1e-15)


def test_unknown_modes_and_mismatched_shapes_are_bad_input():
    basis = FourierBasis(32)
    with pytest.raises(BadInputError, match="no mode with freq_hz 2.5"):
        basis.modes_of([2.5])
    with pytest.raises(BadInputError, match="do not match"):
        project_residual(basis, [0, 1], np.zeros((2, 30, 1)), np.zeros(32), [1.0])
    with pytest.raises(BadInputError, match="too few points"):
        harmonic_basis(sphere_points(20), 4)
    with pytest.raises(BadInputError, match="not on the unit sphere"):
        harmonic_basis(2 * sphere_points(50), 1)


def test_basis_for_a_harmonics_run(tmp_path):
    from trainer.engines.loop import train

    config = small_config(epochs=30)
    target = TargetSpec(kind="harmonics", freqs_hz=(), amps=(1.0, 1.0), degrees=(1, 3), input_dim=3, n_train=100)
    config = dataclasses.replace(config, target=target, model=dataclasses.replace(config.model, in_dim=3))
    train(config, tmp_path / "h.h5")
    with analyzer.open_run(tmp_path / "h.h5") as run:
        run_basis = basis_for_run(run)
        projection = project_residual(run_basis.basis, run.pred_steps, run.pred, run.data("y_eval"), run_basis.tracked)
    np.testing.assert_array_equal(run_basis.basis.labels, [0, 1, 2, 3, 4, 5])
    np.testing.assert_array_equal(projection.labels, [1, 3])
    np.testing.assert_allclose(projection.target_norm, [1.0, 1.0], atol=0.02)  # float32-stored points and targets
