"""The twin engine: full-batch training of a network's linearised twin (trainer/linearized.py) with torch.func.

Per step one jvp of the network at theta_0 along theta - theta_0 gives the twin's outputs, and one vjp at
theta_0 gives the gradient J_0^T dL/df: the vjp's graph at theta_0 is built once (the Jacobian never moves) and
each step reuses it, one backward pass. The optimizer is the network's own torch.optim (Adam or SGD) on the
network's parameters, which hold theta, so checkpoints and the resume state are laid out as the network's.
"""

from __future__ import annotations

import numpy as np
import torch

from trainer.config import TrainConfig
from trainer.engines.engine import TorchEngine
from trainer.linearized import linearized_outputs
from trainer.models import flatten, param_layout, trained_names, unflatten


class TwinEngine(TorchEngine):
    """theta in `model`'s parameters (the torch engine's optimizer, checkpoints and resume state), theta_0 (a copy
    of the initial parameters, or the run file's step-0 checkpoint on resume) and the twin's step."""

    def __init__(self, config: TrainConfig, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor,
                 theta0: np.ndarray | None = None):
        super().__init__(config, model, x, y)
        self.trained = trained_names(model, config.freeze_hidden)
        flat0 = (flatten(model) if theta0 is None else torch.from_numpy(np.asarray(theta0))).to(x.device, x.dtype)
        self.theta0 = {name: t.clone() for name, t in unflatten(param_layout(model), flat0).items()}
        self.buffers = dict(model.named_buffers())
        _, self._vjp = torch.func.vjp(self._network_at, self.theta0)  # J_0^T u for any u: one backward each

    def _network_at(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        return torch.func.functional_call(self.model, (params, self.buffers), (self.x,))

    def _outputs(self, x: torch.Tensor) -> torch.Tensor:
        theta = {name: p.detach() for name, p in self.model.named_parameters()}
        with torch.no_grad():
            return linearized_outputs(self.model, self.theta0, theta, x, self.buffers)

    def evaluate(self) -> tuple[float, float, torch.Tensor]:
        """Loss, gradient norm and outputs at the current theta (the gradient left in .grad for `update`)."""
        out = self._outputs(self.x)
        residual = out - self.y
        loss = torch.mean(residual ** 2)
        (grads,) = self._vjp(residual * (2.0 / residual.numel()))  # d mean(r^2) / d out = 2 r / (N o)
        for name, param in zip(self.trained, self.params):
            param.grad = grads[name]
        grad_norm = torch.linalg.vector_norm(torch.cat([grads[name].reshape(-1) for name in self.trained]))
        return loss.item(), grad_norm.item(), out

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        return self._outputs(x)
