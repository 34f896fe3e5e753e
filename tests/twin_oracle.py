"""The twin oracle: theta_0, f_0 and J_0 of a twin run by plain autograd, shared by the twin tests."""

from __future__ import annotations

import json

import h5py
import numpy as np
import torch


def oracle(path) -> dict:
    """theta_0, f_0, J_0 (plain autograd of `mlp_outputs`) and the training set of a twin run, float64."""
    with h5py.File(path, "r") as f:
        shapes = [tuple(s) for s in json.loads(f["model"].attrs["layout"])["shapes"]]
        theta0 = torch.from_numpy(f["ckpt/params"][0].astype(np.float64))
        assert f["ckpt/step"][0] == 0
        x, y = (torch.from_numpy(f["data"][k][...].astype(np.float64)) for k in ("x_train", "y_train"))
    jacobian = torch.autograd.functional.jacobian(lambda t: mlp_outputs(t, shapes, x), theta0)
    return {"theta0": theta0, "f0": mlp_outputs(theta0, shapes, x), "J0": jacobian, "x": x, "y": y.reshape(-1),
            "shapes": shapes}


def mlp_outputs(theta: torch.Tensor, shapes: list, x: torch.Tensor) -> torch.Tensor:
    """A ReLU MLP written out from its flat parameters (weights, bias per layer), outputs flattened."""
    sizes = [int(np.prod(s)) for s in shapes]
    pieces = [p.reshape(s) for p, s in zip(torch.split(theta, sizes), shapes)]
    h = x
    for layer in range(len(pieces) // 2):
        h = h @ pieces[2 * layer].T + pieces[2 * layer + 1]
        if layer < len(pieces) // 2 - 1:
            h = torch.relu(h)
    return h.reshape(-1)
