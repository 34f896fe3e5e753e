"""Certified subspace spectrum (null space, every k, index bounds) against the dense float64 oracle."""

from __future__ import annotations

import dataclasses
import json

import numpy as np
import pytest
import torch

from analyzer.analyses.hessian import HessianParams
from analyzer.curvature.eigen import hessian_eigenpairs
from analyzer.curvature.saddle import saddle_metrics
from analyzer.io.model import loss_closure
from analyzer.linalg.operators.hessian import HessianOperator
from analyzer.linalg.solvers import dense_hessian, dense_eigenpairs
from analyzer.linalg.subspace import PROBE_FACTOR, subspace_run
from hessian_oracles import mlp_loss, oracle_eigenvalues, quadratic
from trainer.config import PRESETS, ModelSpec

EVERY_K_TOL = 1e-6  # the requirement, relative to lambda_max; we also check a 1e-9 margin


@pytest.fixture(scope="module")
def width12_run(tmp_path_factory):
    """The issue's case: a width-12 baseline trained 300 steps (P = 193, negatives and a large null space)."""
    from trainer.engines.loop import train

    config = dataclasses.replace(PRESETS["baseline"], epochs=300, ckpt_every=150, model=ModelSpec(width=12))
    path = tmp_path_factory.mktemp("w12") / "w12.h5"
    train(config, path, overwrite=True)
    return path


def trained_point(path, step):
    from analyzer.io.run import open_run

    with open_run(path) as run:
        return loss_closure(run), torch.from_numpy(np.asarray(run.params_at(step))).double()


def assert_every_k_matches(loss_fn, theta):
    """All P eigenvalues, and so top-k and bottom-k for every k, equal the dense oracle's."""
    exact = oracle_eigenvalues(loss_fn, theta)
    scale, n = np.abs(exact).max(), len(exact)
    op = HessianOperator(loss_fn, theta)
    spectrum = hessian_eigenpairs(loss_fn, theta, "lanczos", k=n - 1, op=op)
    assert spectrum.method == "exhaustive"
    np.testing.assert_allclose(spectrum.all_eigenvalues, exact, rtol=0, atol=1e-9 * scale)
    np.testing.assert_allclose(spectrum.bottom, exact[: n - 1], rtol=0, atol=EVERY_K_TOL * scale)
    np.testing.assert_allclose(spectrum.top, exact[::-1][: n - 1], rtol=0, atol=EVERY_K_TOL * scale)
    assert np.all(np.abs(spectrum.bottom - exact[: n - 1]) <= spectrum.bottom_residual + 1e-13 * scale)
    row = saddle_metrics(spectrum, op, HessianParams(), grad_scale=1.0)
    truth = int(np.sum(exact < -1e-6 * scale))
    assert row["index_low"] == row["index_high"] == row["index_count"] == truth and row["index_certified"]
    assert row["null_multiplicity"] == int(np.sum(np.abs(exact) <= row["zero_tol"]))
    return exact, spectrum, row


@pytest.mark.parametrize("step", [0, 150, 300])
def test_trained_checkpoints_every_k_equals_dense(width12_run, step):
    exact, spectrum, row = assert_every_k_matches(*trained_point(width12_run, step))
    if step == 300:  # the checkpoint: negatives, then a large null space, then positives
        negatives = int(np.sum(exact < -1e-6 * np.abs(exact).max()))
        assert negatives > 0 and row["null_multiplicity"] > len(exact) // 2
        # bottom-k runs from the negatives straight into the zeros (the old code skipped them)
        zeros = spectrum.bottom[negatives: negatives + row["null_multiplicity"]]
        assert np.all(np.abs(zeros) <= row["zero_tol"]) and spectrum.bottom[negatives - 1] < -row["zero_tol"]


@pytest.mark.parametrize("depth,width,seed", [(2, 8, 0), (2, 8, 1), (5, 5, 0), (5, 5, 2)])
def test_random_points_every_k_equals_dense(depth, width, seed):
    assert_every_k_matches(*mlp_loss(depth, width, seed=seed))


def test_repeated_eigenvalue_beyond_the_block_size_is_certified():
    """40 copies of -2 with blocks of 8: the Krylov space breaks down early; the probes find the rest."""
    eigenvalues = np.concatenate([[-2.0] * 40, np.zeros(140), np.linspace(1.0, 3.0, 20)])
    loss_fn, theta = quadratic(eigenvalues), torch.zeros(200, dtype=torch.float64)
    run = subspace_run(HessianOperator(loss_fn, theta), max_dim=200, block=8)
    assert run.certified and run.dim < 200
    assert run.index_bounds(-1e-6 * 3.0) == (40, 40)
    np.testing.assert_allclose(run.all_eigenvalues(), np.sort(eigenvalues), atol=1e-9 * 3.0)


def test_certificate_bounds_hold_against_the_dense_hessian():
    """offdiag_bound >= ||(I - QQ^T) H Q||, complement_bound >= ||H (I - QQ^T)||, also when capped."""
    loss_fn, theta = mlp_loss(5, 5, seed=3)
    op = HessianOperator(loss_fn, theta)
    hess = dense_hessian(op).numpy()
    for max_dim in (24, 500):
        run = subspace_run(HessianOperator(loss_fn, theta), max_dim=max_dim, block=8)
        q = run.basis.T
        outside = np.eye(op.n) - q @ q.T
        assert np.linalg.norm(outside @ hess @ q, 2) <= run.offdiag_bound
        slack = 1e-12 * np.abs(hess).max()  # this check's own rounding
        assert np.linalg.norm(hess @ outside, 2) <= run.complement_bound + slack
        exact = np.linalg.eigvalsh(hess)
        for tol in (1e-6, 1e-2):
            low, high = run.index_bounds(-tol * np.abs(exact).max())
            assert low <= int(np.sum(exact < -tol * np.abs(exact).max())) <= high
        assert run.certified == (max_dim == 500)


def test_probe_bound_exceeds_the_norm():
    """HMT Lemma 4.1 with alpha = 10: never below ||B|| in 300 draws (failure probability 1e-10 each)."""
    rng = np.random.default_rng(0)
    for trial in range(300):
        b = rng.standard_normal((30, 3)) @ rng.standard_normal((3, 30)) * rng.uniform(0.1, 10)
        probes = rng.standard_normal((30, 10))
        assert PROBE_FACTOR * np.max(np.linalg.norm(b @ probes, axis=0)) >= np.linalg.norm(b, 2)


def test_capped_run_is_an_honest_uncertified_bracket():
    loss_fn, theta = mlp_loss(2, 24, seed=0)  # P = 673 > the quadrature's 500 steps, rank > the cap of 16
    exact = oracle_eigenvalues(loss_fn, theta)
    op = HessianOperator(loss_fn, theta)
    spectrum = hessian_eigenpairs(loss_fn, theta, "lanczos", k=3, op=op, krylov_steps=16)
    row = saddle_metrics(spectrum, op, HessianParams(k=3), grad_scale=1.0)
    truth = int(np.sum(exact < -1e-6 * np.abs(exact).max()))
    assert spectrum.method == "lanczos" and not row["index_certified"]
    assert row["index_low"] <= truth <= row["index_high"]
    assert row["index_low"] >= int(np.sum(spectrum.subspace.ritz < -1e-6 * spectrum.scale))  # Cauchy floor
    assert np.isnan(row["null_multiplicity"])


def test_dense_path_reports_error_bound_and_null_space():
    loss_fn, theta = mlp_loss(2, 8, seed=0)
    exact = oracle_eigenvalues(loss_fn, theta)
    op = HessianOperator(loss_fn, theta)
    spectrum = dense_eigenpairs(op, 4)
    assert spectrum.top_vectors is None and np.all(spectrum.top_residual == spectrum.error)
    assert np.max(np.abs(spectrum.all_eigenvalues - exact)) <= spectrum.error
    row = saddle_metrics(spectrum, op, HessianParams(k=4), grad_scale=1.0)
    assert row["index_certified"] and row["certificate_failure_prob"] == 0.0
    assert row["null_multiplicity"] == int(np.sum(np.abs(exact) <= row["zero_tol"]))


def test_cli_json_lists_the_zeros(width12_run):
    from typer.testing import CliRunner

    from analyzer.cli import app

    out = CliRunner().invoke(app, ["hessian", str(width12_run), "--steps", "300", "--k", "60", "--json",
                                   "--no-cache", "--method", "lanczos"])
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    row, bottom = payload["table"][0], payload["eigenvalues_bottom"][0]
    exact = oracle_eigenvalues(*trained_point(width12_run, 300))
    assert row["method"] == "exhaustive" and row["index_certified"] and row["zero_tol"] > 0
    assert row["null_multiplicity"] == int(np.sum(np.abs(exact) <= row["zero_tol"]))
    np.testing.assert_allclose(bottom, exact[:60], rtol=0, atol=EVERY_K_TOL * np.abs(exact).max())
    zeros = sum(abs(value) <= row["zero_tol"] for value in bottom)
    assert zeros == min(60 - row["index_count"], row["null_multiplicity"])
