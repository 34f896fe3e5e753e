"""The harmonics analysis: rate fits, the closed-form NTK eigenvalues, and runs on the sphere (exact and trained)."""

from __future__ import annotations

import dataclasses
import shutil
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
from helpers import small_config, sphere_config

import analyzer
from analyzer.analyses.harmonics import HarmonicsParams, compute, convergence_rate, section
from analyzer.analyses.harmonics.ntk_reference import funk_hecke, init_variances, relu_ntk_eigenvalues, relu_ntk_kernel
from analyzer.errors import BadInputError
from trainer import harmonics
from trainer.engines.loop import train


def test_rate_of_an_exact_exponential_is_recovered():
    steps = np.arange(0, 1000, 5)
    fit = convergence_rate(steps, 3.0 * np.exp(-0.01 * steps))
    assert fit.rate == pytest.approx(0.01, rel=1e-10) and fit.reached_fit_to
    assert fit.start_step == 15 and fit.end_step == 235  # first steps at or below 90 % and 10 % of the start


def test_partial_and_missing_rates():
    steps = np.arange(200)
    partial = convergence_rate(steps, np.exp(-0.005 * steps))  # ends at 37 %: fitted to the end, flagged
    assert partial.rate == pytest.approx(0.005, rel=1e-10) and not partial.reached_fit_to
    assert np.isnan(convergence_rate(steps, np.ones(200)).rate)  # never falls to 90 %
    assert np.isnan(convergence_rate(steps, np.zeros(200)).rate)


@pytest.mark.parametrize("input_dim", [2, 3, 5])
def test_funk_hecke_of_a_zonal_kernel_is_one_on_its_degree(input_dim):
    """The reproducing kernel Z_2 of H_2 has eigenvalue 1 on H_2 and 0 elsewhere (uniform probability measure)."""
    eigenvalues = [funk_hecke(lambda t: harmonics.zonal(input_dim, 2, t), input_dim, degree) for degree in range(5)]
    np.testing.assert_allclose(eigenvalues, [0, 0, 1, 0, 0], atol=1e-9)


@pytest.mark.parametrize("input_dim,init", [(3, "default"), (5, "xavier"), (3, "kaiming")])
def test_eigenvalues_rebuild_the_kernel(input_dim, init):
    """Mercer on the sphere: K(t) = sum_l mu_l N(d, l) P_l(t); checked inside (-1, 1) with degrees up to 80."""
    width = 50
    eigenvalues = relu_ntk_eigenvalues(input_dim, range(81), width, init)
    t = np.array([-0.6, 0.0, 0.45])
    series = sum(mu * harmonics.zonal(input_dim, degree, t) for degree, mu in enumerate(eigenvalues))
    np.testing.assert_allclose(series, relu_ntk_kernel(t, width, *init_variances(init, input_dim, width)), rtol=2e-3)


def test_closed_form_kernel_matches_random_features():
    """K(t) / width against a Monte-Carlo NTK of 400,000 Gaussian units (errors ~ 2e-3)."""
    rng = np.random.default_rng(0)
    input_dim, units = 3, 400_000
    weight_var, bias_var, out_var = 0.2, 0.1, 0.5
    x, y = harmonics.sample_sphere(2, input_dim, rng)
    weights = rng.normal(0, np.sqrt(weight_var), (units, input_dim))
    biases = rng.normal(0, np.sqrt(bias_var), units)
    out = rng.normal(0, np.sqrt(out_var), units)
    zx, zy = weights @ x + biases, weights @ y + biases
    per_unit = np.maximum(zx, 0) * np.maximum(zy, 0) + out ** 2 * (zx > 0) * (zy > 0) * (x @ y + 1)
    closed_per_unit = relu_ntk_kernel(x @ y, 1, weight_var, bias_var, out_var) - 1.0  # width 1, less the output bias
    assert per_unit.mean() == pytest.approx(closed_per_unit, rel=1e-2)


@pytest.fixture(scope="module")
def degree_two_run(tmp_path_factory):
    path = tmp_path_factory.mktemp("sphere") / "deg2.h5"
    train(sphere_config(amps=(3.0,)), path)
    return path


def test_exact_predictions_give_the_exact_rate_and_all_energy_on_the_degree(degree_two_run, tmp_path):
    """Predictions overwritten with (1 - exp(-0.02 t)) y: the residual is -exp(-0.02 t) y, of degree 2 only."""
    path = tmp_path / "exact.h5"
    shutil.copy(degree_two_run, path)
    with h5py.File(path, "r+") as f:
        steps, y_eval = f["log/pred_step"][...], f["data/y_eval"][...].astype(np.float64)
        f["log/pred"][...] = ((1 - np.exp(-0.02 * steps))[:, None, None] * y_eval[None]).astype(f["log/pred"].dtype)
    with analyzer.open_run(path) as run:
        result = compute(run, HarmonicsParams())
    row = result.table.set_index("degree").loc[2]
    assert row.rate == pytest.approx(0.02, rel=1e-4)  # float32 predictions
    assert row.initial_energy_fraction == pytest.approx(1.0, abs=1e-6)
    others = result.table[result.table.degree != 2]
    assert (others.initial_residual < 1e-6 * row.initial_residual).all()


def test_a_trained_single_degree_run_puts_almost_all_residual_energy_on_it(degree_two_run):
    with analyzer.open_run(degree_two_run) as run:
        result = compute(run, HarmonicsParams())
    table = result.table.set_index("degree")
    assert list(table.index) == [0, 1, 2, 3, 4] and result.target_degrees == (2,)
    assert table.loc[2, "initial_energy_fraction"] > 0.98
    assert table.initial_energy_fraction.sum() <= 1.0 + 1e-9  # the remainder is outside degrees 0-4
    assert np.isfinite(table.loc[2, "ntk_eigenvalue"]) and np.isfinite(table.loc[2, "gd_rate"])
    assert result.residual_norm.shape == (81, 5) and "degree 2" in result.headline()


def test_the_reference_needs_a_one_hidden_layer_relu_net(tmp_path):
    config = sphere_config(epochs=10)
    train(dataclasses.replace(config, model=dataclasses.replace(config.model, depth=2)), tmp_path / "deep.h5")
    with analyzer.open_run(tmp_path / "deep.h5") as run:
        result = compute(run, HarmonicsParams())
    assert result.table.ntk_eigenvalue.isna().all() and "no closed form" in result.ntk_source


def test_a_sines_run_is_bad_input(small_run):
    with analyzer.open_run(small_run) as run, pytest.raises(BadInputError, match="--target harmonics"):
        compute(run, HarmonicsParams())


@pytest.mark.parametrize("changes,field", [({"fit_from": 0.0}, "fit_from"), ({"fit_to": 1.5}, "fit_to"),
                                           ({"fit_to": 0.95}, "fit_to must be below"),
                                           ({"extra_degrees": -1}, "extra_degrees")])
def test_bad_parameters_name_the_field(changes, field):
    with pytest.raises(BadInputError, match=f"harmonics: {field}"):
        HarmonicsParams(**changes)


def test_section_shows_figures_and_table(degree_two_run):
    with analyzer.open_run(degree_two_run) as run:
        result = compute(run, HarmonicsParams())
    figs: dict = {}
    lines = section(SimpleNamespace(label="run", results={"harmonics": result}, notes={}), figs, "a-", 2)
    assert lines[0] == "## Spherical-harmonic degrees" and set(figs) == {"a-harmonics.png", "a-harmonics_rates.png"}
    assert any(line.startswith("| degree |") for line in lines)
    assert result.tables()["convergence per degree"] is result.table


def test_a_report_shows_the_cached_harmonics_section_and_the_target(degree_two_run, tmp_path):
    from analyzer.report.build import build_report
    from analyzer.report.model import ReportOptions

    run = tmp_path / "deg2.h5"
    run.write_bytes(degree_two_run.read_bytes())
    before = build_report([run], ReportOptions(left_out=("hessian",))).markdown
    assert "Spherical-harmonic degrees" not in before  # not computed by the report, not yet cached
    assert "| target | 3 Y_2 on S^2 (target seed 0) |" in before
    analyzer.analyze(run, "harmonics")
    report = build_report([run], ReportOptions(left_out=("hessian",)))
    assert "## Spherical-harmonic degrees" in report.markdown and {"harmonics.png", "harmonics_rates.png"} <= set(
        report.figures)
