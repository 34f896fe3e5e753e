"""The exact Hessian route of a linearised twin (method "twin-gram": (2 / (N o)) J_0^T J_0 from one Jacobian and one
eigh, analyzer/linalg/gram.py, analyzer/curvature/twin.py) against an independent float64 oracle: the dense
Hessian of the twin's loss written out from plain autograd of a hand-written MLP (tests/trainer/test_twins.py's oracle),
torch.autograd.functional.hessian and numpy.linalg.eigh. Both Gram sides (N o < P and P < N o), `analyze hessian`
(API and CLI, `--at grid`), the escape analysis' eigensystem, the cost plan, and networks keeping their route."""

from __future__ import annotations

import dataclasses
import json
import shutil

import numpy as np
import pytest
import torch
from helpers import small_config
from twin_oracle import oracle
from typer.testing import CliRunner

from analyzer.io.run import open_run
from trainer.engines.loop import train

U = np.finfo(np.float64).eps / 2
# float64 GD twins: 2 hidden x 8 ReLU on 32 points (P = 97 > N o: G = J J^T), 2 hidden x 4 on 64 (P = 33: J^T J)
WIDE = small_config("sgd", linearize=True, dtype="float64", lr=0.05, epochs=300, ckpt_every=10,
                    model=dataclasses.replace(small_config().model, width=8),
                    target=dataclasses.replace(small_config().target, n_train=32))
TALL = dataclasses.replace(WIDE, model=dataclasses.replace(WIDE.model, width=4),
                           target=dataclasses.replace(WIDE.target, n_train=64), epochs=100)


@pytest.fixture(scope="module")
def twins(tmp_path_factory):
    folder = tmp_path_factory.mktemp("twins")
    paths = {"wide": folder / "wide-twin.h5", "tall": folder / "tall-twin.h5"}
    for name, config in (("wide", WIDE), ("tall", TALL)):
        assert train(config, paths[name]).status == "complete"
    return paths


def dense_oracle(path) -> dict:
    """The twin's loss from the oracle's pieces, its dense Hessian (autograd) and eigenvalues (numpy eigh)."""
    o = oracle(path)

    def loss(theta):
        return torch.mean((o["f0"] + o["J0"] @ (theta - o["theta0"]) - o["y"]) ** 2)

    hessian = torch.autograd.functional.hessian(loss, o["theta0"]).numpy()
    values = np.linalg.eigh((hessian + hessian.T) / 2)[0]
    return {**o, "loss": loss, "hessian": hessian, "values": values, "scale": float(np.abs(values).max()),
            "c": 2.0 / o["y"].numel()}


@pytest.mark.parametrize("name, side", [("wide", "rows"), ("tall", "params")])
def test_spectrum_is_the_dense_hessians_to_1e_10(twins, name, side):
    from analyzer.curvature.twin import TwinHessian, twin_jacobian

    o = dense_oracle(twins[name])
    with open_run(twins[name]) as run:
        jacobian, c = twin_jacobian(run, 1.0)
        spectrum = TwinHessian(run, 1.0).spectrum
    assert c == o["c"] and spectrum.side == side and spectrum.n_params == len(o["values"])
    np.testing.assert_allclose(jacobian, o["J0"].numpy(), rtol=0, atol=1e-12 * np.abs(jacobian).max())
    gauss_newton = c * jacobian.T @ jacobian  # H = (2 / (N o)) J_0^T J_0 is the oracle's Hessian
    assert np.max(np.abs(o["hessian"] - gauss_newton)) <= 1e-10 * np.max(np.abs(gauss_newton))
    values = spectrum.all_eigenvalues()
    assert np.max(np.abs(values - o["values"])) <= 1e-10 * o["scale"]
    # the certified bound holds (the oracle's own eigh is within P u scale of the truth)
    assert np.max(np.abs(values - o["values"])) <= spectrum.error + len(values) * U * o["scale"]
    assert 0 < spectrum.error < 1e-11 * o["scale"]
    np.testing.assert_allclose(spectrum.trace, c * np.sum(o["J0"].numpy() ** 2), rtol=1e-12)
    assert (values >= 0).all() and spectrum.clipped_min <= 0 and -spectrum.clipped_min <= spectrum.error
    if side == "rows":  # P - N o exact zeros beyond the Gram side's
        assert np.sum(values == 0) >= len(values) - o["y"].numel()


def test_gram_spectrum_on_random_jacobians_against_eigh():
    """linalg/gram.py alone: both sides, a rank-deficient J (duplicated rows: computed zeros of either sign), its
    range eigenpairs orthonormal with small true residuals."""
    from analyzer.linalg.gram import gram_spectrum, range_pairs

    rng = np.random.default_rng(0)
    for rows, cols in ((12, 40), (40, 12)):
        jac = rng.standard_normal((rows, cols))
        jac[rows // 2:] = jac[:rows - rows // 2]  # rank <= rows - rows // 2
        c = 2.0 / rows
        dense = c * jac.T @ jac
        expected = np.linalg.eigh(dense)[0]
        scale = np.abs(expected).max()
        spectrum = gram_spectrum(jac, c, with_vectors=True)
        values = spectrum.all_eigenvalues()
        assert np.max(np.abs(values - expected)) <= spectrum.error + cols * U * scale
        rank = np.linalg.matrix_rank(jac)
        zero_tol = max(1e-9 * scale, spectrum.error)
        assert np.sum(np.abs(values) <= zero_tol) == cols - rank
        pair_values, vectors, residual = range_pairs(spectrum, jac, c, zero_tol)
        assert len(pair_values) == rank and residual <= 1e-12 * scale
        np.testing.assert_allclose(vectors.T @ vectors, np.eye(rank), rtol=0, atol=1e-12)
        np.testing.assert_allclose(dense @ vectors, vectors * pair_values, rtol=0, atol=1e-12 * scale)
        np.testing.assert_allclose(pair_values, expected[expected > zero_tol], rtol=0, atol=1e-12 * scale)


def test_analyze_hessian_grid_takes_the_exact_route_with_index_0(twins, tmp_path, monkeypatch):
    """`--at grid`: every row twin-gram, no HVP (the HVP operator refused), certified index 0, lambda_min >= -1e-8
    lambda_max, extremes, trace, null space and gradient those of the oracle; the same columns as an HVP row."""
    from analyzer.core.runner import analyze
    from analyzer.curvature import saddle

    o = dense_oracle(twins["wide"])
    path = shutil.copy2(twins["wide"], tmp_path / "twin.h5")

    def refuse(*args, **kwargs):
        raise AssertionError("the twin route made an HVP operator")

    with monkeypatch.context() as patched:
        patched.setattr(saddle, "HessianOperator", refuse)
        table = analyze(path, "hessian", at="grid", per_decade=2, k=4).table
    assert list(table.step) == [0, 10, 30, 100, 300]
    assert (table.method == "twin-gram").all() and (table.n_hvp == 0).all()
    assert table.index_certified.all() and (table.index_kind == "certified").all()
    assert (table.index_count == 0).all() and (table.index_high == 0).all()
    assert (table.lambda_min >= -1e-8 * table.lambda_max).all()
    np.testing.assert_allclose(table.lambda_max, o["values"][-1], rtol=1e-10)
    np.testing.assert_allclose(table.trace, o["values"].sum(), rtol=1e-10)
    rank = int(np.sum(np.abs(o["values"]) > 1e-9 * o["scale"]))
    assert (table.null_multiplicity == len(o["values"]) - rank).all()
    assert table.converged.all() and (table.eigenvalue_error < 1e-11 * o["scale"]).all()
    with open_run(path) as run:
        for step, grad_norm in zip(table.step, table.grad_norm):
            theta = torch.from_numpy(run.params_at(int(step)))
            expected = float(torch.linalg.vector_norm(torch.func.grad(o["loss"])(theta)))
            assert grad_norm == pytest.approx(expected, rel=1e-10)
    hvp_route = analyze(path, "hessian", steps=(300,), method="lanczos", k=4).table  # asked for: the HVP route
    assert hvp_route.method.tolist() == ["exhaustive"] and (hvp_route.n_hvp > 0).all()
    assert set(hvp_route.columns) == set(table.columns)
    np.testing.assert_allclose(hvp_route.lambda_max, table.lambda_max.iloc[-1], rtol=1e-8)


def test_cli_hessian_grid_json_on_a_twin_and_twin_gram_refused_on_a_network(twins, small_run, tmp_path):
    from analyzer.cli import app

    runner = CliRunner()
    path = shutil.copy2(twins["tall"], tmp_path / "twin.h5")
    ok = runner.invoke(app, ["hessian", str(path), "--at", "grid", "--per-decade", "1", "--json", "--no-cache"])
    assert ok.exit_code == 0, ok.output
    rows = json.loads(ok.stdout)["table"]
    assert [r["step"] for r in rows] == [0, 10, 100]
    assert all(r["method"] == "twin-gram" and r["n_hvp"] == 0 and r["index_certified"] and r["index_count"] == 0
               and r["lambda_min"] >= -1e-8 * r["lambda_max"] for r in rows)
    bad = runner.invoke(app, ["hessian", str(small_run), "--steps", "0", "--method", "twin-gram", "--no-cache"])
    assert bad.exit_code != 0 and "needs a linearised twin" in bad.output and "Traceback" not in bad.output
    assert len(bad.output.strip().splitlines()) == 1


def test_a_network_keeps_its_hvp_route(small_run):
    from analyzer.core.runner import analyze

    table = analyze(small_run, "hessian", steps=(0, 150), use_cache=False).table
    assert set(table.method) <= {"dense", "exhaustive", "lanczos", "slq"} and "twin-gram" not in set(table.method)
    assert (table.n_hvp > 0).all() and (table.clipped_negatives == 0).all()


def test_cost_plan_knows_the_twin_route_is_cheap(twins, small_run):
    from analyzer.analyses.hessian import HessianParams
    from analyzer.analyses.hessian.estimate import estimate
    from analyzer.curvature.cost import checkpoint_budget, method_label

    params = HessianParams()
    assert checkpoint_budget(params, 10_351, twin=True) == 0 and checkpoint_budget(params, 10_351) > 1000
    assert method_label(params, 10_351, twin=True).startswith("exact eigenvalues of the twin's")
    assert checkpoint_budget(HessianParams(method="lanczos"), 10_351, twin=True) > 1000  # asked for: HVPs
    with open_run(twins["wide"]) as twin_run, open_run(small_run) as network_run:
        twin_plan = estimate(twin_run, {"at": "grid"}, use_cache=False)
        network_plan = estimate(network_run, {"at": "grid"}, use_cache=False)
    assert "linearised twin, no HVP" in twin_plan.text and "HVPs expected" in network_plan.text
    assert 0 < twin_plan.seconds < 1.0 and twin_plan.n_checkpoints == network_plan.n_checkpoints > 0


def test_escape_eigensystem_of_a_twin_is_exact_and_shared(twins, monkeypatch):
    """The escape analysis' eigenpairs of a twin: the oracle's non-zero eigenpairs (orthonormal vectors), at any
    checkpoint, computed once per run."""
    import importlib

    from analyzer.analyses.escape.eigensystem import eigensystem
    from analyzer.analyses.escape.params import EscapeParams

    escape_compute = importlib.import_module("analyzer.analyses.escape.compute")  # the package exports compute()
    o = dense_oracle(twins["wide"])
    params = EscapeParams()
    with open_run(twins["wide"]) as run:
        system = eigensystem(run, torch.from_numpy(run.params_at(300)), params)
        assert system.method == "twin-gram" and system.n_hvp == 0
        nonzero = o["values"][np.abs(o["values"]) > system.zero_tol]
        np.testing.assert_allclose(system.values, nonzero, rtol=0, atol=1e-10 * o["scale"])
        np.testing.assert_allclose(system.all_eigenvalues(), o["values"], rtol=0, atol=1e-10 * o["scale"])
        vectors = system.vectors
        np.testing.assert_allclose(vectors.T @ vectors, np.eye(len(nonzero)), rtol=0, atol=1e-10)
        np.testing.assert_allclose(o["hessian"] @ vectors, vectors * system.values, rtol=0, atol=1e-10 * o["scale"])
        calls = []
        monkeypatch.setattr(escape_compute, "eigensystem", lambda *a: calls.append(a) or eigensystem(*a))
        systems: dict = {}
        first = escape_compute._system(run, params, 0, systems)
        assert escape_compute._system(run, params, 300, systems) is first and len(calls) == 1


def test_a_twins_scheduling_cost_ignores_its_depth(twins):
    """The study starts the costliest runs first (core.parallel.file_cost: size x depth^2 for the Hessian's HVPs);
    a twin's Hessian does not grow with depth, so its cost is its size."""
    from analyzer.core.parallel import file_cost

    path = twins["wide"]
    with open_run(path) as run:
        spec = dict(run.model_spec)
    assert spec["depth"] == 2
    assert file_cost(path) == path.stat().st_size // 1000
    assert file_cost(path, {k: v for k, v in spec.items() if k != "linearized"}) == 4 * (path.stat().st_size // 1000)
