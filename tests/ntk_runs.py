"""Tiny float64 runs and an independent NTK oracle shared by tests/analyzer/analyses/ntk/test_ntk.py and tests/analyzer/analyses/mask/test_mask.py."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from helpers import small_config

from trainer.engines.loop import train
from trainer.models import build_model, functional_forward, param_layout

EPOCHS = 150


def tiny_config(**changes):
    """64 points, 2 hidden x 8 ReLU, float64, GD: a run in well under a second."""
    config = small_config("sgd", dtype="float64", epochs=EPOCHS, **changes)
    return dataclasses.replace(config, model=dataclasses.replace(config.model, width=8),
                               target=dataclasses.replace(config.target, n_train=64))


def make_run(tmp_path_factory, name: str, **changes):
    path = tmp_path_factory.mktemp("ntk") / f"{name}.h5"
    train(tiny_config(**changes), path)
    return path


@pytest.fixture(scope="module")
def frozen_gd(tmp_path_factory):
    return make_run(tmp_path_factory, "frozen-gd", freeze_hidden=True)


@pytest.fixture(scope="module")
def all_layers_gd(tmp_path_factory):
    return make_run(tmp_path_factory, "gd")


@pytest.fixture(scope="module")
def adam(tmp_path_factory):
    return make_run(tmp_path_factory, "adam", optimizer="adam")


def oracle_jacobian(config, theta: np.ndarray, x: np.ndarray, trained_from: int) -> np.ndarray:
    """J row by row with plain autograd (one backward per sample), independent of analyzer.linalg."""
    model = build_model(config.model, config.seed, torch.float64)
    layout = param_layout(model)
    inputs = torch.as_tensor(x, dtype=torch.float64)
    rows = []
    for n in range(len(inputs)):
        weights = torch.tensor(theta, dtype=torch.float64, requires_grad=True)
        output = functional_forward(model, layout, weights, inputs[n:n + 1]).sum()
        (grad,) = torch.autograd.grad(output, weights)
        rows.append(grad[trained_from:].numpy())
    return np.asarray(rows)
