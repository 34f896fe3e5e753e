"""A plain MLP's layers at one point, with the hidden units that fire on no training input removed, exactly.

A hidden unit with relu (or relu2) whose pre-activation is <= 0 on every training input outputs exactly 0
there, and autograd passes no derivative of any order through it (torch's relu'(z) = 0 for z <= 0). So
the training loss, and every derivative autograd computes of it, does not depend on that unit's incoming
weights, its bias or its outgoing weights: their rows and columns of the Hessian are exactly zero, and
the rest of the Hessian is the Hessian of the network with those units removed. The seed MLPs have many
such units (deep: 97-112 of 250 at its plateau checkpoints, baseline 51 of 100), so the live network has
about a third of the parameters and its Hessian-vector products cost about a third as much. Its
`operator()` makes those products by hand (analyzer/linalg/operators/mlp_hessian.py), another 1.45x faster than
autograd.
Other activations keep every unit (their derivatives are not 0 below 0) and still get the hand-made products.

The removed coordinates add exact zeros to the spectrum; nothing else changes. The live network computes
the same sums as the full one minus terms that are exactly 0 (0 activation x weight), so its values agree
with the full network's to rounding (summation order); the tests compare both against the dense Hessian.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

DEAD_WHEN_OFF = ("relu", "relu2")  # activations that are 0 with every derivative 0 for z <= 0 (autograd's)


@dataclass
class LiveNet:
    """The live layers of a plain MLP at one point, and where their parameters sit in the full flat vector."""

    weights: list  # per layer (fan-out x fan-in), live units only
    biases: list
    activation: object
    x: torch.Tensor
    y: torch.Tensor
    keep: np.ndarray  # positions of the live parameters in the full flat vector, ascending
    n_full: int
    dead_units: tuple[int, ...]  # per hidden layer
    piecewise_linear: bool = False  # relu: products on two points per linear region (analyzer/linalg/regions.py)

    @property
    def n(self) -> int:
        return len(self.keep)

    @property
    def theta(self) -> torch.Tensor:
        return torch.cat([t.reshape(-1) for pair in zip(self.weights, self.biases) for t in pair])

    def loss_fn(self, flat: torch.Tensor) -> torch.Tensor:
        """The training loss at the live parameters `flat`, as `analyzer.io.model.loss_closure` computes it."""
        sizes = [t.numel() for pair in zip(self.weights, self.biases) for t in pair]
        pieces = torch.split(flat, sizes)
        out = self.x
        for layer, weight in enumerate(self.weights):
            out = torch.nn.functional.linear(out, pieces[2 * layer].view(weight.shape), pieces[2 * layer + 1])
            if layer < len(self.weights) - 1:
                out = self.activation(out)
        return torch.mean((out - self.y) ** 2)

    def operator(self, on_product=None):
        """The Hessian of the live block as a curvature operator (analyzer/linalg/operators/mlp_hessian.py);
        `on_product`: called with the vector count of every product."""
        from analyzer.linalg.operators.mlp_hessian import MLPHessian

        return MLPHessian(self.weights, self.biases, self.activation, self.x, self.y, self.piecewise_linear,
                          on_product=on_product)


def live_subnetwork(run, theta: torch.Tensor) -> LiveNet | None:
    """The live layers of `run`'s MLP at `theta` (dead units removed for relu and relu2; none for others), or
    None when the model is not a plain MLP (Linear, activation, ..., Linear as `trainer.models.build_mlp`
    makes it; a linearised twin of one is not) or its outputs and targets differ in shape."""
    from trainer.models import ACTIVATIONS

    spec, layout = run.model_spec, run.layout
    if spec.get("kind") != "mlp" or spec.get("activation") not in ACTIVATIONS:
        return None
    if spec.get("linearized") is not None:
        return None  # a linearised twin is no plain MLP: its Hessian (2 / (N o)) J_0^T J_0 takes the autograd route
    shapes = [tuple(s) for s in layout["shapes"]]
    depth = len(shapes) // 2 - 1
    expected = [f"{2 * i}.{part}" for i in range(depth + 1) for part in ("weight", "bias")]
    if list(layout["names"]) != expected or sum(int(np.prod(s)) for s in shapes) != theta.numel():
        return None
    activation = ACTIVATIONS[spec["activation"]]
    x = torch.from_numpy(run.data("x_train")).to(theta.dtype)
    y = torch.from_numpy(run.data("y_train")).to(theta.dtype)
    weights, biases, offsets = _unflatten(theta, shapes)

    alive, h = [], x
    with torch.no_grad():  # the same F.linear and activation as the full model's forward
        for layer in range(depth):
            pre = torch.nn.functional.linear(h, weights[layer], biases[layer])
            off = (pre <= 0).all(dim=0).numpy() if spec["activation"] in DEAD_WHEN_OFF else np.zeros(pre.shape[1], bool)
            alive.append(~off)
            h = activation(pre)
        if torch.nn.functional.linear(h, weights[-1], biases[-1]).shape != y.shape:
            return None
    rows = [np.flatnonzero(mask) for mask in alive] + [np.arange(shapes[-2][0])]
    cols = [np.arange(shapes[0][1])] + rows[:-1]
    keep = []
    for layer in range(depth + 1):
        fan_in = shapes[2 * layer][1]
        keep += [(offsets[2 * layer] + rows[layer][:, None] * fan_in + cols[layer][None, :]).ravel(),
                 offsets[2 * layer + 1] + rows[layer]]
    index = [torch.from_numpy(r) for r in rows], [torch.from_numpy(c) for c in cols]
    return LiveNet(weights=[weights[k][index[0][k]][:, index[1][k]].contiguous() for k in range(depth + 1)],
                   biases=[biases[k][index[0][k]].clone() for k in range(depth + 1)], activation=activation, x=x, y=y,
                   keep=np.concatenate(keep), n_full=int(theta.numel()),
                   dead_units=tuple(int((~mask).sum()) for mask in alive),
                   piecewise_linear=spec["activation"] == "relu")


def _unflatten(theta: torch.Tensor, shapes: list[tuple]) -> tuple[list, list, list[int]]:
    sizes = [int(np.prod(s)) for s in shapes]
    offsets = np.concatenate([[0], np.cumsum(sizes)[:-1]]).astype(int).tolist()
    pieces = [p.reshape(s) for p, s in zip(torch.split(theta.detach(), sizes), shapes)]
    return pieces[0::2], pieces[1::2], offsets
