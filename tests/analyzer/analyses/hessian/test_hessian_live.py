"""The live subnetwork (dead ReLU units removed) against the full network's dense float64 Hessian."""

from __future__ import annotations


import numpy as np
import pytest
import torch

from hessian_oracles import FakeRun

from analyzer.analyses.hessian import HessianParams
from analyzer.curvature.eigen import hessian_eigenpairs
from analyzer.curvature.live import live_subnetwork
from analyzer.curvature.saddle import saddle_metrics
from analyzer.linalg.operators.hessian import HessianOperator
from hessian_oracles import oracle_eigenvalues
from trainer.models import ModelSpec, flatten




def killed_point(depth: int, width: int, activation: str = "relu", seed: int = 0, kill=((0, 1), (0, 4), (1, 2))):
    """A perturbed init with the listed (layer, unit) hidden units made dead: bias -1e3 on every input."""
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(40, 1, generator=gen, dtype=torch.float64).numpy() * 2 - 1
    run = FakeRun(ModelSpec(depth=depth, width=width, activation=activation), x, np.sin(3 * x))
    theta = flatten(run.model) + 0.3 * torch.randn(run.layout_obj.n_params, generator=gen, dtype=torch.float64)
    sizes = [int(np.prod(s)) for s in run.layout_obj.shapes]
    offsets = np.concatenate([[0], np.cumsum(sizes)])
    for layer, unit in kill:
        theta[offsets[2 * layer + 1] + unit] = -1e3
    return run, theta


@pytest.mark.parametrize("activation", ["relu", "relu2"])
def test_dead_rows_are_zero_and_the_live_block_is_the_rest(activation):
    run, theta = killed_point(3, 7, activation)
    live = live_subnetwork(run, theta)
    assert live is not None and live.n_full == theta.numel()
    assert live.dead_units[0] >= 2 and live.dead_units[1] >= 1
    hess = torch.func.hessian(run.loss_fn())(theta).numpy()
    dead = np.setdiff1d(np.arange(theta.numel()), live.keep)
    assert len(dead) > 0 and np.all(hess[dead] == 0) and np.all(hess[:, dead] == 0)
    block = torch.func.hessian(live.loss_fn)(live.theta).numpy()
    np.testing.assert_allclose(block, hess[np.ix_(live.keep, live.keep)], rtol=0, atol=1e-12 * np.abs(hess).max())
    assert float(live.loss_fn(live.theta)) == pytest.approx(float(run.loss_fn()(theta)), rel=1e-14)


@pytest.mark.parametrize("depth,width,seed", [(2, 8, 0), (3, 7, 1), (5, 5, 2)])
def test_certified_spectrum_on_the_live_block_equals_dense(depth, width, seed):
    run, theta = killed_point(depth, width, seed=seed)
    loss_fn = run.loss_fn()
    exact = oracle_eigenvalues(loss_fn, theta)
    scale, n = np.abs(exact).max(), len(exact)
    op = HessianOperator(loss_fn, theta)
    live = live_subnetwork(run, theta)
    spectrum = hessian_eigenpairs(loss_fn, theta, "lanczos", k=n - 1, op=op, live=live)
    assert spectrum.method == "exhaustive" and spectrum.subspace.n == n
    np.testing.assert_allclose(spectrum.all_eigenvalues, exact, rtol=0, atol=1e-9 * scale)
    assert np.all(np.abs(spectrum.bottom - exact[: n - 1]) <= spectrum.bottom_residual + 1e-13 * scale)
    row = saddle_metrics(spectrum, op, HessianParams(), grad_scale=1.0)
    assert row["index_low"] == row["index_high"] == row["index_count"] == int(np.sum(exact < -1e-6 * scale))
    assert row["null_multiplicity"] == int(np.sum(np.abs(exact) <= row["zero_tol"]))
    assert row["n_hvp"] > 0  # the live block's products are counted
    assert row["grad_norm"] == pytest.approx(float(torch.linalg.vector_norm(torch.func.grad(loss_fn)(theta))))


def test_units_are_removed_only_where_it_is_exact():
    run, theta = killed_point(2, 6, activation="tanh")
    live = live_subnetwork(run, theta)  # tanh' > 0 everywhere: no unit is dead, every parameter is kept
    assert live.n == live.n_full == theta.numel() and live.dead_units == (0, 0)
    run, theta = killed_point(2, 6, kill=())
    live = live_subnetwork(run, torch.ones_like(theta))  # every pre-activation positive: nothing to remove
    assert live.n == live.n_full and np.array_equal(live.keep, np.arange(theta.numel()))
    run, theta = killed_point(2, 6)
    run.layout["names"] = ["a.weight", *run.layout["names"][1:]]  # not the plain Linear/activation stack
    assert live_subnetwork(run, theta) is None


def test_a_unit_off_on_every_input_but_one_is_kept():
    """Dead means off on every training input: one input with a positive pre-activation keeps the unit."""
    run, theta = killed_point(2, 6, kill=())
    x = run.data("x_train")
    sizes = [int(np.prod(s)) for s in run.layout_obj.shapes]
    theta[0] = 1.0  # unit 0 of layer 0: pre = x - (max x - 1e-9), positive on the largest input only
    theta[sizes[0]] = -(float(x.max()) - 1e-9)
    live = live_subnetwork(run, theta)
    assert {0, sizes[0]} <= set(live.keep.tolist())  # its weight and bias stay
    theta[sizes[0]] = -(float(x.max()) + 1e-9)  # now off on every input: removed
    live = live_subnetwork(run, theta)
    assert live is not None and not {0, sizes[0]} & set(live.keep.tolist())


@pytest.mark.parametrize("activation", ["relu", "relu2", "tanh", "gelu", "silu", "sin", "sinc", "gaussian"])
def test_hand_made_products_equal_the_dense_hessian(activation):
    """H v by the written-out R-operator against the dense autograd Hessian, on the live block and in full."""
    run, theta = killed_point(3, 6, activation, seed=3)
    live = live_subnetwork(run, theta)
    op = live.operator()
    dense = torch.func.hessian(live.loss_fn)(live.theta)
    gen = torch.Generator().manual_seed(5)
    for _ in range(3):
        v = torch.randn(live.n, generator=gen, dtype=torch.float64)
        expected = dense @ v
        assert torch.linalg.vector_norm(op.apply(v) - expected) <= 1e-12 * torch.linalg.vector_norm(expected)
    full_grad = torch.func.grad(run.loss_fn())(theta)
    np.testing.assert_allclose(op.grad.numpy(), full_grad[live.keep].numpy(), rtol=0, atol=1e-13)
    assert op.n_products == 3 and op.n == live.n


def test_hand_made_products_with_several_inputs_and_outputs():
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(30, 3, generator=gen, dtype=torch.float64).numpy()
    y = torch.randn(30, 2, generator=gen, dtype=torch.float64).numpy()
    run = FakeRun(ModelSpec(depth=2, width=5, in_dim=3, out_dim=2), x, y)
    theta = flatten(run.model) + 0.2 * torch.randn(run.layout_obj.n_params, generator=gen, dtype=torch.float64)
    live = live_subnetwork(run, theta)
    hess = torch.func.hessian(run.loss_fn())(theta)[np.ix_(live.keep, live.keep)]
    v = torch.randn(live.n, generator=gen, dtype=torch.float64)
    assert torch.linalg.vector_norm(live.operator().apply(v) - hess @ v) <= 1e-12 * torch.linalg.vector_norm(hess @ v)
    run_1d = FakeRun(ModelSpec(depth=2, width=5, in_dim=3), x, y[:, 0])  # (N,) targets: a shape mismatch
    assert live_subnetwork(run_1d, flatten(run_1d.model)) is None
