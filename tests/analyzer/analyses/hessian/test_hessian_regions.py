"""Two points per linear region stand in for a ReLU MLP's samples in its Hessian-vector products: exact, checked
against the per-sample products and the dense float64 autograd Hessian."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from analyzer.curvature.live import live_subnetwork
from analyzer.linalg import regions
from analyzer.linalg.operators.mlp_hessian import MLPHessian
from analyzer.linalg.regions import region_points
from hessian_oracles import FakeRun
from trainer.models import ModelSpec, flatten


def test_two_points_carry_each_regions_moments():
    rng = np.random.default_rng(0)
    x = rng.uniform(-1, 1, (300, 1))
    x[:20] = x[20:40]  # repeated inputs
    x[50] = 0.5  # a lone sample in its region: x > 0.49 and x < 0.51 below
    region = np.digitize(x[:, 0], [-0.3, 0.2, 0.49, 0.51, 0.7])
    slopes = np.stack([region % 2, region // 2 % 2, region // 4 % 2], axis=1).astype(float)  # 6 distinct patterns
    residual = rng.standard_normal((300, 2))
    points = region_points(x, slopes, residual)
    assert len(points.x) < len(x)
    for pattern in np.unique(slopes, axis=0):
        mine, theirs = np.all(slopes == pattern, axis=1), np.all(points.pattern == pattern, axis=1)
        xs, ps, w, rho = x[mine, 0], points.x[theirs, 0], points.weight[theirs], points.residual[theirs]
        assert xs.min() <= ps.min() and ps.max() <= xs.max()  # inside the region
        for power in (0, 1, 2):  # Gauss-Newton part: quadratic in x
            np.testing.assert_allclose(np.sum(w * ps ** power), np.sum(xs ** power), rtol=1e-13)
        for power in (0, 1):  # residual part: r times an affine function of x
            np.testing.assert_allclose((rho * ps[:, None] ** power).sum(0), (residual[mine] * xs[:, None] ** power)
                                       .sum(0), rtol=1e-12, atol=1e-12)


def relu_point(n: int = 400, out_dim: int = 2, seed: int = 4):
    gen = torch.Generator().manual_seed(seed)
    x = (torch.rand(n, 1, generator=gen, dtype=torch.float64) * 2 - 1).numpy()
    x[: n // 10] = x[n // 10: n // 5]  # repeated inputs
    y = np.concatenate([np.sin(3 * x), np.cos(5 * x)][:out_dim], axis=1)
    run = FakeRun(ModelSpec(depth=3, width=8, out_dim=out_dim), x, y)
    theta = flatten(run.model) + 0.3 * torch.randn(run.layout_obj.n_params, generator=gen, dtype=torch.float64)
    return run, theta


@pytest.mark.parametrize("out_dim", [1, 2])
def test_region_products_equal_the_per_sample_ones_and_the_dense_hessian(out_dim):
    run, theta = relu_point(out_dim=out_dim)
    live = live_subnetwork(run, theta)
    fast = live.operator()
    slow = MLPHessian(live.weights, live.biases, live.activation, live.x, live.y)
    assert live.piecewise_linear and fast.n_samples < slow.n_samples == 400  # the compression is used
    dense = torch.func.hessian(live.loss_fn)(live.theta)
    gen = torch.Generator().manual_seed(7)
    for _ in range(4):
        v = torch.randn(live.n, generator=gen, dtype=torch.float64)
        expected = dense @ v
        assert torch.linalg.vector_norm(fast.apply(v) - expected) <= 1e-12 * torch.linalg.vector_norm(expected)
        assert torch.linalg.vector_norm(fast.apply(v) - slow.apply(v)) <= 1e-13 * torch.linalg.vector_norm(expected)
    np.testing.assert_array_equal(fast.grad.numpy(), slow.grad.numpy())  # the gradient stays per sample


def test_smooth_activations_and_several_inputs_keep_the_samples():
    gen = torch.Generator().manual_seed(1)
    x = torch.rand(50, 1, generator=gen, dtype=torch.float64).numpy()
    tanh = FakeRun(ModelSpec(depth=2, width=6, activation="tanh"), x, np.sin(3 * x))
    assert live_subnetwork(tanh, flatten(tanh.model)).operator().n_samples == 50
    x3 = torch.rand(50, 3, generator=gen, dtype=torch.float64).numpy()
    wide_input = FakeRun(ModelSpec(depth=2, width=6, in_dim=3), x3, np.sin(x3[:, :1]))
    assert live_subnetwork(wide_input, flatten(wide_input.model)).operator().n_samples == 50


def test_a_point_off_its_regions_pattern_keeps_the_samples(monkeypatch):
    run, theta = relu_point(out_dim=1)
    live = live_subnetwork(run, theta)
    honest = region_points

    def shifted(x, slopes, residual):  # every point moved to the first sample: most leave their region
        points = honest(x, slopes, residual)
        points.x[:] = x.min()
        return points

    monkeypatch.setattr(regions, "region_points", shifted)
    op = live.operator()
    assert op.n_samples == 400
    dense = torch.func.hessian(live.loss_fn)(live.theta)
    v = torch.randn(live.n, dtype=torch.float64)
    assert torch.linalg.vector_norm(op.apply(v) - dense @ v) <= 1e-12 * torch.linalg.vector_norm(dense @ v)
