"""Small losses with known Hessians and the dense autograd + eigh oracle, shared by the Hessian tests."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from trainer.config import ModelSpec
from trainer.models import build_model, flatten, functional_forward, param_layout


def mlp_loss(depth: int, width: int, seed: int = 0, n: int = 48):
    """A seed-preset architecture at a small width, on a fixed regression set, at a perturbed init."""
    model = build_model(ModelSpec(depth=depth, width=width), seed=seed, dtype=torch.float64)
    layout = param_layout(model)
    gen = torch.Generator().manual_seed(seed)
    x = torch.rand(n, 1, generator=gen, dtype=torch.float64)
    y = torch.sin(2 * torch.pi * 3 * x)
    theta = flatten(model) + 0.3 * torch.randn(layout.n_params, generator=gen, dtype=torch.float64)
    return (lambda t: torch.mean((functional_forward(model, layout, t, x) - y) ** 2)), theta


def oracle_eigenvalues(loss_fn, theta) -> np.ndarray:
    hess = torch.func.hessian(loss_fn)(theta)
    return np.linalg.eigvalsh(((hess + hess.T) / 2).numpy())


def quadratic(eigenvalues: np.ndarray, seed: int = 0):
    """0.5 theta^T A theta + b^T theta with A = Q diag(eigenvalues) Q^T: Hessian A everywhere."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.standard_normal((len(eigenvalues), len(eigenvalues))))
    a = torch.from_numpy(q @ np.diag(eigenvalues) @ q.T)
    b = torch.from_numpy(rng.standard_normal(len(eigenvalues)))
    return lambda t: 0.5 * t @ a @ t + b @ t


class FakeRun:
    """What live_subnetwork reads of a run: spec, layout and training data."""

    def __init__(self, spec: ModelSpec, x: np.ndarray, y: np.ndarray):
        model = build_model(spec, seed=0, dtype=torch.float64)
        layout = param_layout(model)
        self.model, self.layout_obj = model, layout
        self.model_spec = dataclasses.asdict(spec)
        self.layout = {"names": list(layout.names), "shapes": [list(s) for s in layout.shapes]}
        self._data = {"x_train": x, "y_train": y}

    def data(self, name: str) -> np.ndarray:
        return self._data[name]

    def loss_fn(self):
        x, y = (torch.from_numpy(self._data[k]) for k in ("x_train", "y_train"))
        return lambda t: torch.mean((functional_forward(self.model, self.layout_obj, t, x) - y) ** 2)
