"""The NTK analysis against independent oracles (float64): the closed-form GD dynamics of a --freeze-hidden
run, eig(K) = svd(J)^2, and the Jacobian, layer and matrix-free routes against each other."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch
from ntk_runs import adam, all_layers_gd, frozen_gd, oracle_jacobian, tiny_config  # noqa: F401 (fixtures)

from analyzer.analyses.ntk.compute import compute
from analyzer.linalg.gd_dynamics import observed_rates, predicted_rates
from analyzer.analyses.ntk.params import NtkParams
from analyzer.analyses.ntk.result import OBSERVED_ONLY
from analyzer.errors import BadInputError
from analyzer.io import ntk_net as ntk
from analyzer.io.run import open_run
from trainer.config import PRESETS
from trainer.models import build_model, flatten, param_layout


def frozen_oracle(path):
    """Stored residuals, K from the oracle Jacobian at step 0, and the run's lr and N."""
    config = tiny_config(freeze_hidden=True)
    with open_run(path) as run:
        theta = run.params_at(0)
        x, y = run.data("x_train"), run.data("y_train").reshape(-1)
        residuals = run.pred.reshape(len(run.pred_steps), -1) - y
    jac = oracle_jacobian(config, theta, x, trained_from=len(theta) - (config.model.width + 1))
    return residuals, jac, config.lr, len(y)


def closed_form(kernel: np.ndarray, r0: np.ndarray, rate: float, steps: int) -> np.ndarray:
    step_matrix = np.eye(len(r0)) - rate * kernel
    out, r = [r0], r0
    for _ in range(steps):
        r = step_matrix @ r
        out.append(r)
    return np.asarray(out)


def test_frozen_gd_predictions_equal_the_closed_form_with_rate_2a_over_n(frozen_gd):
    residuals, jac, lr, n = frozen_oracle(frozen_gd)
    kernel = jac @ jac.T
    predicted = closed_form(kernel, residuals[0], 2 * lr / n, len(residuals) - 1)
    np.testing.assert_allclose(residuals, predicted, rtol=0, atol=1e-10)
    # the constant is checked, not assumed: a / N (no factor 2 from the square) misses by far
    wrong = closed_form(kernel, residuals[0], lr / n, len(residuals) - 1)
    assert np.abs(residuals - wrong).max() > 1e-3


def test_eigenvalues_are_the_squared_singular_values_of_the_oracle_jacobian(frozen_gd, all_layers_gd):
    for path, freeze in ((frozen_gd, True), (all_layers_gd, False)):
        config = tiny_config(freeze_hidden=freeze)
        with open_run(path) as run:
            result = compute(run, NtkParams(top_k=0))
            theta, x = run.params_at(0), run.data("x_train")
        start = len(theta) - (config.model.width + 1) if freeze else 0
        singular = np.linalg.svd(oracle_jacobian(config, theta, x, start), compute_uv=False)
        expected = np.zeros(len(result.eigenvalues))
        expected[:len(singular)] = singular ** 2
        np.testing.assert_allclose(result.eigenvalues, expected, rtol=0, atol=1e-10 * expected[0])


def test_frozen_gd_observed_rates_equal_predicted(frozen_gd):
    with open_run(frozen_gd) as run:
        result = compute(run, NtkParams(top_k=0))
    table = result.table.dropna(subset=["observed_rate"])
    assert len(table) >= 5 and result.rates == "predicted and observed" and result.trained == "output layer"
    np.testing.assert_allclose(table["observed_rate"], table["predicted_rate"], rtol=1e-6, atol=1e-12)
    assert np.all(result.drift["relative_change"] == 0)  # hidden layers fixed: the kernel never moves


def test_adam_run_answers_with_rates_observed_only(adam):
    with open_run(adam) as run:
        result = compute(run, NtkParams())
    assert result.rates == OBSERVED_ONLY and "observed only" in result.headline()
    assert result.table["predicted_rate"].isna().all() and result.table["observed_rate"].notna().sum() > 5


def test_kernel_drift_of_an_all_layers_run_matches_the_oracle(all_layers_gd):
    config = tiny_config()
    with open_run(all_layers_gd) as run:
        result = compute(run, NtkParams(drift_every=5))
        last = int(run.ckpt_steps[::5][-1])
        first_jac = oracle_jacobian(config, run.params_at(0), run.data("x_train"), 0)
        last_jac = oracle_jacobian(config, run.params_at(last), run.data("x_train"), 0)
    reference = first_jac @ first_jac.T
    expected = np.linalg.norm(last_jac @ last_jac.T - reference) / np.linalg.norm(reference)
    assert result.drift["step"].iloc[-1] == last and result.drift["relative_change"].iloc[0] == 0
    assert result.drift["relative_change"].iloc[-1] == pytest.approx(expected, rel=1e-10) and expected > 1e-3
    ratios = result.table["ratio"].to_numpy()
    assert np.isfinite(ratios[:3]).all()  # Bowman & Montúfar's damped deviations: observed / predicted per index


def networks():
    """(net, theta) for an all-layers MLP, its output layer alone, and a non-MLP (diag-linear) model."""
    x = np.linspace(0, 1, 40, endpoint=False)[:, None]
    mlp_spec = dataclasses.replace(PRESETS["baseline"].model, width=6, depth=2)
    out = []
    for spec, freeze in ((mlp_spec, False), (mlp_spec, True), (PRESETS["diag-linear"].model, False)):
        model = build_model(dataclasses.replace(spec, features=5) if spec.kind == "diag-linear" else spec, 3,
                            torch.float64)
        theta = flatten(model).numpy() + (0.3 if spec.kind == "diag-linear" else 0.0)  # off diag-linear's saddle
        out.append((ntk.make_net(model, param_layout(model), x, freeze), theta))
    return out


@pytest.mark.parametrize("which", [0, 1, 2], ids=["mlp", "output-layer", "diag-linear"])
def test_jacobian_layer_and_matrix_free_routes_agree(which):
    net, theta = networks()[which]
    reference = ntk.autograd_jacobian(net, theta)
    assert net.is_mlp == (which < 2)
    np.testing.assert_allclose(ntk.jacobian(net, theta), reference, rtol=0, atol=1e-13)
    kernel = reference @ reference.T
    np.testing.assert_allclose(ntk.kernel(net, theta), kernel, rtol=0, atol=1e-12 * np.abs(kernel).max())
    probes = np.random.default_rng(0).standard_normal((net.n_rows, 3))
    operator = ntk.kernel_operator(net, theta)
    np.testing.assert_allclose(operator.matmat(probes), kernel @ probes, rtol=0, atol=1e-10 * np.abs(kernel).max())
    dense = ntk.kernel_eigen(net, theta, route="jacobian", top_k=4)
    free = ntk.kernel_eigen(net, theta, route="matrix-free", top_k=4)
    assert free.method == "matrix-free" and dense.method == "jacobian"
    np.testing.assert_allclose(free.top, dense.top, rtol=0, atol=1e-10 * dense.top[0])
    # projectors, not vectors: diag-linear's sin/cos pairs have equal eigenvalues (top 4 = two whole pairs)
    np.testing.assert_allclose(free.top_vectors @ free.top_vectors.T, dense.top_vectors @ dense.top_vectors.T,
                               atol=1e-8)


def test_auto_route_goes_matrix_free_when_the_jacobian_does_not_fit(all_layers_gd):
    with open_run(all_layers_gd) as run:
        dense = compute(run, NtkParams(top_k=5, drift_every=10))
        free = compute(run, NtkParams(top_k=5, drift_every=10, max_jacobian_gb=1e-9))
    assert dense.route == "jacobian" and free.route == "matrix-free" and "sketched" in free.drift_method
    np.testing.assert_allclose(free.eigenvalues, dense.eigenvalues, rtol=0, atol=1e-10 * dense.eigenvalues[0])
    np.testing.assert_allclose(free.table["observed_rate"].abs(), dense.table["observed_rate"].abs(), rtol=1e-6)
    assert np.all(np.isfinite(free.drift["relative_change"]))


def test_checkpoint_step_and_eval_grid_other_than_the_training_grid(tmp_path):
    from trainer.engines.loop import train

    config = tiny_config(freeze_hidden=True, ckpt_every=5)
    config = dataclasses.replace(config, target=dataclasses.replace(config.target, n_eval=50))
    train(config, tmp_path / "grid.h5")
    with open_run(tmp_path / "grid.h5") as run:
        result = compute(run, NtkParams(step=20, top_k=0))
    assert result.step == 20 and result.projection_steps[0] == 20  # residuals recomputed at checkpoints
    table = result.table.dropna(subset=["observed_rate"])
    np.testing.assert_allclose(table["observed_rate"], table["predicted_rate"], rtol=1e-6, atol=1e-12)


def test_loadings_of_the_target_frequencies_sum_to_one_over_all_eigenvectors(frozen_gd):
    with open_run(frozen_gd) as run:
        result = compute(run, NtkParams(top_k=0))
    assert list(result.loadings["freq_hz"]) == [1.0, 3.0, 7.0, 15.0]
    np.testing.assert_allclose(result.loading_matrix.sum(axis=1), 1.0, atol=1e-12)


def test_rate_formulas_on_a_synthetic_exponential():
    steps = np.arange(0, 100)
    projections = np.array([2.0, -1.0, 1e-9])[None, :] * np.exp(-np.array([0.1, 0.01, 0.5])[None, :] * steps[:, None])
    rates = observed_rates(steps, projections, floor=1e-3, min_component=1e-6)
    np.testing.assert_allclose(rates[:2], [0.1, 0.01], rtol=1e-12)
    assert np.isnan(rates[2])  # its start is below min_component ||r_0||
    np.testing.assert_allclose(predicted_rates(np.array([1.0, 3.0]), 0.5), [np.log(2), -np.log(0.5)])


@pytest.mark.parametrize("field, value", [("route", "dense"), ("top_k", -1), ("rate_floor", 1.5), ("step", -3),
                                          ("max_jacobian_gb", 0.0), ("max_samples", 0),
                                          ("step", 2.5)])
def test_bad_parameters_name_the_field(field, value):
    with pytest.raises(BadInputError, match=f"ntk: {field}"):
        NtkParams(**{field: value})


def test_a_step_without_a_checkpoint_is_bad_input(frozen_gd):
    with open_run(frozen_gd) as run, pytest.raises(BadInputError, match="no checkpoint at step 7"):
        compute(run, NtkParams(step=7))


def test_report_section_has_its_figures_and_tables(frozen_gd, adam):
    from types import SimpleNamespace

    from analyzer.analyses.ntk.section import section

    for path in (frozen_gd, adam):
        with open_run(path) as run:
            result = compute(run, NtkParams())
        figs: dict = {}
        lines = section(SimpleNamespace(results={"ntk": result}, label="tiny", notes={}), figs, "p-", 3)
        assert lines[0] == "### Neural tangent kernel" and sorted(figs) == ["p-ntk-dynamics.png", "p-ntk.png"]
        assert any(line.startswith("| index | eigenvalue") for line in lines)
        assert ("observed only" in "\n".join(lines)) == (path == adam)
    missing = section(SimpleNamespace(results={}, label="tiny", notes={"ntk": "why"}), {}, "", 2)
    assert "*ntk not available: why*" in missing


def test_cli_ntk_step_json_and_bad_input(frozen_gd, tmp_path):
    """`analyze ntk RUN --step S --json`: the Optional int option parses; bad steps are one line, exit 2."""
    from typer.testing import CliRunner

    from analyzer.cli import app

    run = tmp_path / "run.h5"
    run.write_bytes(frozen_gd.read_bytes())
    runner = CliRunner()
    answer = runner.invoke(app, ["ntk", str(run), "--step", "50", "--json"])
    assert answer.exit_code == 0, answer.output
    data = json.loads(answer.stdout)
    assert data["step"] == 50 and data["rates"] == "predicted and observed"
    assert np.all(np.diff(data["eigenvalues"]) <= 0)
    assert {"index", "eigenvalue", "predicted_rate", "observed_rate"} <= set(data["table"][0])
    for step, message in (("7", "no checkpoint at step 7"), ("-3", "ntk: step must be >= 0")):
        bad = runner.invoke(app, ["ntk", str(run), "--step", step])
        assert bad.exit_code == 2 and message in bad.stderr and len(bad.stderr.strip().splitlines()) == 1


def test_notebook_api_and_report_show_the_section_once_cached(frozen_gd, tmp_path):
    """The report does not compute ntk (in_report=False); once `analyzer.ntk` has cached it, the section shows."""
    import analyzer
    from analyzer.report.build import build_report
    from analyzer.report.model import ReportOptions

    run = tmp_path / "run.h5"
    run.write_bytes(frozen_gd.read_bytes())
    options = ReportOptions(left_out=("hessian",))
    assert "Neural tangent kernel" not in build_report([run], options).markdown
    result = analyzer.ntk(run, step=50)
    assert result.step == 50
    report = build_report([run], ReportOptions(left_out=("hessian",), overrides={"ntk": {"step": 50}}))
    assert "# Neural tangent kernel" in report.markdown and any(name.endswith("ntk.png") for name in report.figures)


def test_registering_ntk_and_mask_imports_no_torch():
    """A report that finds no cached ntk/mask result only looks them up: importing them must stay light (torch
    alone took ~1 s of a 10 s cached report)."""
    import subprocess
    import sys

    code = ("import sys, analyzer.analyses.ntk, analyzer.analyses.mask\n"
            "from analyzer.analyses.ntk.params import ROUTES\n"
            "assert 'torch' not in sys.modules, 'torch imported'\n"
            "import analyzer.linalg.kernel as heavy\n"
            "assert heavy.ROUTES == ROUTES, (heavy.ROUTES, ROUTES)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert done.returncode == 0, done.stderr


def test_indices_for_90pct_is_a_count_or_not_reached_never_minus_one(frozen_gd):
    """With all eigenvectors every sine reaches 90 % (a count, checked against a numpy oracle of the shares); with
    top_k 2 the computed ones hold less for some frequency: null in --json, 'not reached' with the share printed."""
    from analyzer.core.serialize import to_jsonable

    with open_run(frozen_gd) as run:
        full = compute(run, NtkParams(top_k=0))
        few = compute(run, NtkParams(top_k=2, route="matrix-free"))
    for k, share in enumerate(full.loading_matrix):
        expected = int(np.searchsorted(np.cumsum(np.sort(share)[::-1]), 0.9) + 1)
        assert full.loadings.indices_for_90pct.iloc[k] == expected
    np.testing.assert_allclose(full.loadings.computed_share, 1.0, atol=1e-12)
    held = few.loading_matrix.sum(axis=1)
    np.testing.assert_allclose(few.loadings.computed_share, held, rtol=1e-12)
    short = held < 0.9
    assert short.any()
    loadings_json = to_jsonable(few)["loadings"]
    for row, is_short in zip(loadings_json, short):
        assert (row["indices_for_90pct"] is None) == is_short and row["indices_for_90pct"] != -1
        assert isinstance(row["indices_for_90pct"], (int, type(None)))
    shown = few.loadings_display().indices_for_90pct
    assert all(text.startswith("not reached: the 2 computed hold ") for text in shown[short])
    assert json.dumps(to_jsonable(full), allow_nan=False)
