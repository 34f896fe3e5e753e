"""Models: every activation, exact rebuild from spec + flat parameters, functional calls."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
import torch

from trainer.config import ModelSpec
from trainer.errors import ConfigError
from trainer.models import (ACTIVATIONS, DiagLinearFourier, build_model, flatten, functional_forward, load_flat,
                            param_layout, unflatten)
from trainer.targets import uniform_grid

X = torch.linspace(-2, 2, 41, dtype=torch.float64)[:, None]


@pytest.mark.parametrize("activation", sorted(ACTIVATIONS))
def test_every_activation_builds_and_runs(activation):
    model = build_model(ModelSpec(activation=activation, width=8), seed=1, dtype=torch.float64)
    out = model(X)
    assert out.shape == (41, 1) and torch.isfinite(out).all()


def test_activation_values():
    z = torch.tensor([-1.0, 0.0, 2.0], dtype=torch.float64)
    torch.testing.assert_close(ACTIVATIONS["relu2"](z), torch.tensor([0.0, 0.0, 4.0], dtype=torch.float64))
    torch.testing.assert_close(ACTIVATIONS["sinc"](z), torch.tensor([math.sin(1.0), 1.0, math.sin(2.0) / 2],
                                                                  dtype=torch.float64))
    torch.testing.assert_close(ACTIVATIONS["gaussian"](z), torch.exp(-0.5 * z**2))


@pytest.mark.parametrize("spec", [ModelSpec(), ModelSpec(depth=5, width=7, activation="tanh"),
                                  ModelSpec(kind="diag-linear", features=5)])
def test_rebuild_from_spec_and_flat_vector_is_exact(spec):
    trained = build_model(spec, seed=3, dtype=torch.float64)
    with torch.no_grad():
        for p in trained.parameters():
            p.add_(torch.randn_like(p))  # parameters no init would produce
    theta = flatten(trained)
    rebuilt = load_flat(build_model(dataclasses.replace(spec), seed=99, dtype=torch.float64), theta)
    torch.testing.assert_close(rebuilt(X), trained(X), rtol=0, atol=0)
    layout = param_layout(trained)
    torch.testing.assert_close(functional_forward(rebuilt, layout, theta, X), trained(X), rtol=0, atol=0)
    assert layout.n_params == theta.numel()


def test_flatten_order_is_named_parameters_order():
    model = build_model(ModelSpec(width=3, depth=1), dtype=torch.float64)
    layout = param_layout(model)
    assert layout.names == ("0.weight", "0.bias", "2.weight", "2.bias")
    pieces = unflatten(layout, flatten(model))
    for name, param in model.named_parameters():
        torch.testing.assert_close(pieces[name], param.detach(), rtol=0, atol=0)
    with pytest.raises(ConfigError, match="parameter vector"):
        unflatten(layout, torch.zeros(3))


def test_seed_fixes_init_without_touching_global_rng():
    torch.manual_seed(123)
    before = torch.rand(1)
    torch.manual_seed(123)
    a = flatten(build_model(ModelSpec(), seed=5))
    after = torch.rand(1)
    assert torch.equal(before, after)
    assert torch.equal(a, flatten(build_model(ModelSpec(), seed=5)))
    assert not torch.equal(a, flatten(build_model(ModelSpec(), seed=6)))


def test_seed_preset_parameter_counts():
    counts = {name: param_layout(build_model(spec)).n_params for name, spec in
              {"baseline": ModelSpec(), "wide": ModelSpec(width=100), "deep": ModelSpec(depth=5)}.items()}
    assert counts == {"baseline": 2701, "wide": 10401, "deep": 10351}


def test_diag_linear_features_are_orthonormal_and_model_is_its_formula():
    spec = ModelSpec(kind="diag-linear", features=6, feature_decay=0.5, init_scale=0.3)
    model = build_model(spec, dtype=torch.float64)
    x = torch.from_numpy(uniform_grid(64))
    phi = model.features(x)
    torch.testing.assert_close(phi.T @ phi / 64, torch.eye(12, dtype=torch.float64), atol=1e-12, rtol=0)
    k = np.repeat(np.arange(1, 7), 2)
    expected = phi.numpy() @ (k**-0.5 * 0.3 * 0.3)
    np.testing.assert_allclose(model(x).detach().numpy()[:, 0], expected, atol=1e-14)
    assert isinstance(model, DiagLinearFourier)
