"""Hessian eigenanalysis: HVPs and solvers against the dense autograd oracle and closed forms, float64."""

from __future__ import annotations

import dataclasses
import re

import h5py
import numpy as np
import pytest
import torch

from hessian_oracles import mlp_loss, oracle_eigenvalues, quadratic

from analyzer.analyses.hessian import HessianParams
from analyzer.curvature.eigen import hessian_eigenpairs
from analyzer.curvature.saddle import saddle_metrics
from analyzer.errors import BadInputError
from analyzer.io.model import loss_closure
from analyzer.linalg.operators.hessian import HessianOperator
from analyzer.linalg.solvers import dense_eigenpairs, lanczos_eigenpairs
from trainer.config import PRESETS, ModelSpec






@pytest.mark.parametrize("depth,width", [(2, 8), (5, 5)])
def test_hvp_equals_dense_hessian_times_v(depth, width):
    loss_fn, theta = mlp_loss(depth, width)
    hess = torch.func.hessian(loss_fn)(theta)
    v = torch.randn(theta.numel(), generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    expected = hess @ v
    for mode in ("rev", "fwd"):
        got = HessianOperator(loss_fn, theta, mode=mode).apply(v)
        assert torch.linalg.vector_norm(got - expected) <= 1e-10 * torch.linalg.vector_norm(expected)


@pytest.mark.parametrize("depth,width", [(2, 8), (5, 5)])
def test_lanczos_and_dense_match_oracle(depth, width):
    loss_fn, theta = mlp_loss(depth, width)
    exact = oracle_eigenvalues(loss_fn, theta)
    scale, k = np.abs(exact).max(), 5
    assert exact[0] < -1e-6 * scale, "the test point must have negative curvature"
    lanczos = lanczos_eigenpairs(HessianOperator(loss_fn, theta), k, tol=1e-10)
    np.testing.assert_allclose(lanczos.top, exact[::-1][:k], rtol=0, atol=1e-8 * scale)
    np.testing.assert_allclose(lanczos.bottom, exact[:k], rtol=0, atol=1e-8 * scale)
    assert lanczos.converged(1e-10) and lanczos.max_rel_residual < 1e-10
    dense = dense_eigenpairs(HessianOperator(loss_fn, theta), k)
    np.testing.assert_allclose(dense.all_eigenvalues, exact, rtol=0, atol=1e-12 * scale)




def test_quadratic_with_known_spectrum_dense_and_lanczos():
    eigenvalues = np.concatenate([[-3.0, -1.0, -0.5], np.linspace(0.1, 10.0, 57)])
    loss_fn, theta = quadratic(eigenvalues), torch.zeros(60, dtype=torch.float64)
    params = HessianParams(k=3, tol=1e-10, index_tol=1e-3, krylov_steps=60)
    for method in ("dense", "lanczos"):
        op = HessianOperator(loss_fn, theta)
        spectrum = hessian_eigenpairs(loss_fn, theta, method, k=3, tol=1e-10, op=op)
        np.testing.assert_allclose(spectrum.bottom, [-3.0, -1.0, -0.5], atol=1e-8 * 10)
        np.testing.assert_allclose(spectrum.top, eigenvalues[::-1][:3], atol=1e-8 * 10)
        row = saddle_metrics(spectrum, op, params, grad_scale=1.0)
        # 60 Lanczos steps exhaust a 60-dimensional space, so the lanczos index is exact here too
        assert abs(row["index_count"] - 3) <= max(row["index_err"], 1e-6)
        assert row["trace"] == pytest.approx(eigenvalues.sum(), abs=max(3 * row["trace_err"], 1e-9))


def test_two_layer_linear_network_at_origin_has_closed_form_index():
    """f(x) = w2^T W1 x at W1 = 0, w2 = 0: eigenvalues +-2|E[y x]| (h times each), the rest zero."""
    d, h, n = 3, 4, 40
    gen = torch.Generator().manual_seed(0)
    x, y = torch.randn(n, d, generator=gen, dtype=torch.float64), torch.randn(n, generator=gen, dtype=torch.float64)

    def loss_fn(t):
        w1, w2 = t[: h * d].view(h, d), t[h * d:]
        return torch.mean((x @ w1.T @ w2 - y) ** 2)

    theta = torch.zeros(h * d + h, dtype=torch.float64)
    sigma = 2 * torch.linalg.vector_norm((y[:, None] * x).mean(0)).item()
    op = HessianOperator(loss_fn, theta)
    spectrum = hessian_eigenpairs(loss_fn, theta, "dense", k=h, op=op)
    np.testing.assert_allclose(spectrum.bottom, -sigma, rtol=1e-12)
    np.testing.assert_allclose(spectrum.top, sigma, rtol=1e-12)
    row = saddle_metrics(spectrum, op, HessianParams(k=h), grad_scale=1.0)
    assert row["index_count"] == h and row["index_err"] == 0
    assert row["grad_norm"] == 0.0 and row["saddle_candidate"]
    # a non-saddle: a positive-definite quadratic is never flagged
    convex = quadratic(np.linspace(1.0, 2.0, 10))
    theta = torch.zeros(10, dtype=torch.float64)
    op = HessianOperator(convex, theta)
    row = saddle_metrics(hessian_eigenpairs(convex, theta, "dense", k=2, op=op), op, HessianParams(k=2), 1e9)
    assert row["index_count"] == 0 and not row["saddle_candidate"]


def test_no_convergence_is_reported_not_raised():
    eigenvalues = np.concatenate([[-1e-3, -0.9e-3], np.geomspace(1e-4, 1e3, 198)])
    loss_fn, theta = quadratic(eigenvalues), torch.zeros(200, dtype=torch.float64)
    spectrum = lanczos_eigenpairs(HessianOperator(loss_fn, theta), 10, tol=1e-14, ncv=21, maxiter=1)
    assert not spectrum.converged(1e-14)


def test_bad_inputs_are_one_line_errors():
    loss_fn, theta = quadratic(np.linspace(-1, 1, 20)), torch.zeros(20, dtype=torch.float64)
    with pytest.raises(BadInputError, match="larger than the parameter count 20"):
        hessian_eigenpairs(loss_fn, theta, "dense", k=21)
    with pytest.raises(BadInputError, match="needs .* GB"):
        hessian_eigenpairs(loss_fn, theta, "dense", k=2, max_dense_gb=1e-9)
    with pytest.raises(ValueError, match="method"):
        HessianParams(method="power")
    with pytest.raises(ValueError, match="every"):
        HessianParams(at="every", every=0)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    from trainer.engines.loop import train

    config = dataclasses.replace(PRESETS["baseline"], epochs=60, model=ModelSpec(width=6),
                                 target=dataclasses.replace(PRESETS["baseline"].target, n_train=64))
    path = tmp_path_factory.mktemp("hess") / "r.h5"
    train(config, path, overwrite=True)
    return path


def test_compute_on_run_matches_dense_oracle_and_caches(small_run):
    from analyzer.core.runner import analyze
    from analyzer.io.run import open_run

    result = analyze(small_run, "hessian", at="every", every=30, k=3, method="lanczos", tol=1e-10)
    table = result.table
    assert list(table["step"]) == [0, 30, 60] and table["converged"].all()
    with open_run(small_run) as run:
        loss_fn = loss_closure(run)
        theta = torch.from_numpy(run.params_at(30)).double()
    exact = oracle_eigenvalues(loss_fn, theta)
    assert result.eigenvalues_bottom[1] == pytest.approx(exact[:3], abs=1e-8 * np.abs(exact).max())
    again = analyze(small_run, "hessian", at="every", every=30, k=3, method="lanczos", tol=1e-10)
    np.testing.assert_array_equal(again.eigenvalues_top, result.eigenvalues_top)
    assert re.search(r"\b\d+ saddle candidates?, ", result.headline())
    assert "1 saddle candidates" not in result.headline()


def test_cli_hessian_json_and_errors(small_run, tmp_path):
    import json

    from typer.testing import CliRunner

    from analyzer.cli import app

    runner = CliRunner()
    ok = runner.invoke(app, ["hessian", str(small_run), "--steps", "0,60", "--k", "2", "--json", "--no-cache"])
    assert ok.exit_code == 0, ok.output
    rows = json.loads(ok.stdout)["table"]
    assert [r["step"] for r in rows] == [0, 60] and rows[0]["method"] == "dense"
    missing = runner.invoke(app, ["hessian", str(small_run), "--steps", "7", "--no-cache"])
    assert missing.exit_code == 2 and "no checkpoint at step 7" in missing.output
    too_many = runner.invoke(app, ["hessian", str(small_run), "--steps", "0", "--k", "100000", "--no-cache"])
    assert too_many.exit_code == 2 and "larger than the parameter count" in too_many.output
    broken = tmp_path / "broken.h5"
    broken.write_bytes(small_run.read_bytes())
    with h5py.File(broken, "r+") as f:
        f["model"].attrs["spec"] = '{"kind": "transformer"}'
    bad = runner.invoke(app, ["hessian", str(broken), "--steps", "0", "--no-cache"])
    assert bad.exit_code == 2 and "cannot be rebuilt" in bad.output


def test_exhaustive_lanczos_index_equals_dense_count():
    """A seed architecture on few points has a low-rank Hessian: the Krylov run exhausts it exactly."""
    from analyzer.linalg.krylov import krylov_run

    loss_fn, theta = mlp_loss(2, 20, n=24)
    exact = oracle_eigenvalues(loss_fn, theta)
    scale = np.abs(exact).max()
    run = krylov_run(HessianOperator(loss_fn, theta), max_steps=400)
    assert run.exhausted and run.steps < theta.numel()
    for tol in (1e-6, 1e-3):
        truth = int(np.sum(exact < -tol * scale))
        assert truth > 0 and run.index_bounds(-tol * scale) == (truth, truth, truth)
    assert run.trace()[0] == pytest.approx(exact.sum(), abs=1e-9 * scale)
    # capped before exhaustion: a quadrature estimate whose bracket still covers the exact count
    capped = krylov_run(HessianOperator(loss_fn, theta), max_steps=40)
    count, low, high = capped.index_bounds(-1e-3 * scale)
    assert not capped.exhausted and low <= np.sum(exact < -1e-3 * scale) <= high and low <= count <= high


def test_repeated_negative_eigenvalue_is_counted_with_its_multiplicity():
    """One Krylov space holds a repeated eigenvalue once; the certified restart finds the other copies."""
    from analyzer.linalg.krylov import krylov_run

    eigenvalues = np.concatenate([[-2.0] * 4, np.zeros(80), np.linspace(1.0, 3.0, 16)])
    loss_fn, theta = quadratic(eigenvalues), torch.zeros(100, dtype=torch.float64)
    run = krylov_run(HessianOperator(loss_fn, theta), max_steps=100)
    assert run.exhausted and run.steps < 100
    assert run.index_bounds(-1e-6 * 3.0)[0] == 4
    op = HessianOperator(loss_fn, theta)
    row = saddle_metrics(hessian_eigenpairs(loss_fn, theta, "lanczos", k=3, op=op), op, HessianParams(k=3), 1.0)
    assert row["method"] == "exhaustive" and row["index_count"] == 4 and row["lambda_min"] == pytest.approx(-2.0)


def test_gradient_rule_is_relative_to_the_local_median():
    from analyzer.curvature.saddle import local_grad_scale

    steps = np.arange(10_000)
    grad = np.where((steps > 900) & (steps < 1100), 0.1, 1.0) * np.exp(-steps / 5000)
    assert local_grad_scale(steps, grad, 1000) == pytest.approx(np.exp(-1000 / 5000), rel=0.2)
    assert grad[1000] / local_grad_scale(steps, grad, 1000) < 0.5  # a dip: rule (a) holds
    assert grad[5000] / local_grad_scale(steps, grad, 5000) > 0.5  # smooth decay: it does not


def test_steps_or_every_alone_select_those_checkpoints():
    from analyzer.analyses.hessian import HessianParams

    assert HessianParams(steps=(0, 10)).at == "steps"
    assert HessianParams(every=100).at == "every"
    assert HessianParams().at == "plateaus"
