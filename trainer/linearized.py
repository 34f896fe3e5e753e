"""The linearised twin of a network: f_lin(x; theta) = f(x; theta_0) + J(x; theta_0)(theta - theta_0).

One jvp of the network at theta_0 along theta - theta_0 gives both terms (its primal output is f(x; theta_0),
its tangent J(x; theta_0)(theta - theta_0)). The twin has the network's parameters, under the network's names
and in its flat layout, so its checkpoints are theta like any run's and every tool that evaluates a model at a
flat parameter vector (`functional_forward`, torch.func) evaluates the twin unchanged. Its MSE is a convex
quadratic in theta with Hessian (2 / (N o)) J_0^T J_0 and its kernel J_0 J_0^T does not move.

The run file records a twin twice (docs/run-file.md): the config's `linearize: true` and the model spec's
`linearized` record, which names where theta_0 is stored (the step-0 checkpoint).
"""

from __future__ import annotations

import functools

import torch
from torch import nn

from trainer.models import ParamLayout, param_layout, unflatten

THETA0 = "theta0"  # the twin's buffer holding theta_0 as a flat vector
THETA0_STEP = 0  # theta_0 is the run's checkpoint at this step (the loop always stores step 0)


def linearized_record() -> dict:
    """The model spec's `linearized` entry of a twin: where its theta_0 is stored."""
    return {"theta0": {"dataset": "/ckpt/params", "step": THETA0_STEP}}


def linearized_outputs(network: nn.Module, theta0: dict[str, torch.Tensor], theta: dict[str, torch.Tensor],
                       x: torch.Tensor, buffers: dict[str, torch.Tensor] | None = None) -> torch.Tensor:
    """f_lin(x; theta) by one jvp of `network` at theta_0 along theta - theta_0 (differentiable in theta)."""
    delta = {name: theta[name] - value for name, value in theta0.items()}

    def forward(params: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.func.functional_call(network, (params, buffers or {}), (x,))

    out, tangent = torch.func.jvp(forward, (theta0,), (delta,))
    return out + tangent


class Linearized(nn.Module):
    """The twin of `network` as a module with the network's parameter names, layout and values (theta).

    It adopts the network's submodules, direct parameters and buffers (shared, not copied) so that its
    `named_parameters()` are the network's and `functional_call(twin, params)` sets theta; the network itself is
    kept outside the module tree and only ever called functionally, at theta_0 with a tangent.
    """

    def __init__(self, network: nn.Module, theta0: torch.Tensor):
        super().__init__()
        self.layout: ParamLayout = param_layout(network)
        for name, child in network.named_children():
            self.add_module(name, child)
        for name, param in network.named_parameters(recurse=False):
            self.register_parameter(name, param)
        for name, buffer in network.named_buffers(recurse=False):
            self.register_buffer(name, buffer)
        if hasattr(self, THETA0):
            raise ValueError(f"the network already has an attribute {THETA0!r}; its twin cannot hold theta_0 there")
        object.__setattr__(self, "network", network)  # not a submodule: its parameters are this module's
        like = next(network.parameters())
        self.register_buffer(THETA0, theta0.detach().reshape(-1).to(like.device, like.dtype).clone())
        if param_layout(self) != self.layout or self.theta0.numel() != self.layout.n_params:
            raise ValueError("the twin's parameters differ from its network's layout")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        # theta as currently set, also when functional_call has swapped in plain tensors
        theta = {name: functools.reduce(getattr, name.split("."), self) for name in self.layout.names}
        buffers = {name: b for name, b in self.named_buffers() if name != THETA0}
        return linearized_outputs(self.network, unflatten(self.layout, self.theta0), theta, x, buffers)

    def extra_repr(self) -> str:
        return f"linearised at theta_0 ({self.layout.n_params} parameters)"
