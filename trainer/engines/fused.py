"""The fused engine: a hand-written full-batch step for ReLU MLPs on preallocated buffers.

Forward, MSE loss and backward are written out as the same ATen kernels that autograd calls, on the same
operands in the same order (see the comments at each step), and the update is the optimizer record's
functional step (trainer/optim/), torch.optim's single-tensor formulas, so on a CPU the fused engine
reproduces the torch engine bit for bit (tests/trainer/test_fused.py) while making ~30 tensor calls per step
instead of building a graph and looping over parameters in Python. Parameters, gradients and the optimizer's
moments live in flat buffers, so a checkpoint is one copy and the update runs on whole buffers.

The matmuls never read or write those flat buffers directly: a layer's weight inside the flat vector starts
at an arbitrary offset, and on some CPUs (seen on an AMD EPYC with torch 2.13's CPU kernels) a matmul's
rounding depends on its operands' memory alignment, so a view at offset 2,650 gave the output weight's
gradient a different last bit than autograd's freshly allocated (64-byte aligned) tensor. Each layer
therefore has its own allocated weight, bias and gradient tensors, like the torch engine's; one
`_foreach_copy_` after each update brings the parameters in, one after the backward pass sends the
gradients out.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from trainer import optim
from trainer.config import TrainConfig
from trainer.models import flatten, param_layout, trained_names


def unsupported_reason(config: TrainConfig) -> str | None:
    """Why the fused engine cannot train `config` (None: it can)."""
    if config.linearize:
        return "the linearised twin (--linearize; the fused step is the network's own)"
    if config.model.kind != "mlp":
        return f"model kind {config.model.kind!r} (fused: mlp only)"
    if config.model.activation != "relu":
        return f"activation {config.model.activation!r} (fused: relu only)"
    if config.device != "cpu":
        return f"device {config.device!r} (fused: cpu only; untested elsewhere)"
    return None


class FusedMLP:
    """One run's parameters, gradients, activations and optimizer state, and its training step."""

    def __init__(self, config: TrainConfig, model: nn.Module, x: torch.Tensor, y: torch.Tensor):
        reason = unsupported_reason(config)
        if reason is not None:
            raise ValueError(f"the fused engine does not cover {reason}")
        self.optimizer, self.lr = optim.get(config.optimizer), float(config.lr)
        self.x, self.y = x, y
        self.theta = flatten(model).clone()
        self.grad = torch.zeros_like(self.theta)
        # flat moment buffers; `step` is torch.optim's per-tensor count (equal for every trained tensor, 0 for
        # frozen ones)
        self.state = self.optimizer.init_state([self.theta])
        layout = param_layout(model)
        self.n_tensors = len(layout.names)
        # freeze_hidden: only the output layer (the tail of the flat buffer) gets a gradient; the hidden part of
        # `grad` stays zero, so SGD and Adam leave those parameters bit for bit where they are (zero moments too)
        self.freeze_hidden = config.freeze_hidden
        trained = set(trained_names(model, config.freeze_hidden))
        self.trained_tensors = np.array([name in trained for name in layout.names])
        self.trained_start = sum(size for name, size in zip(layout.names, layout.sizes) if name not in trained)
        # flat-buffer views and the separately allocated tensors the matmuls use (see the module docstring)
        theta_weights, theta_biases = _layer_views(model, self.theta)
        grad_weights, grad_biases = _layer_views(model, self.grad)
        self._theta_views, self._grad_views = theta_weights + theta_biases, grad_weights + grad_biases
        self.weights, self.biases = [v.clone() for v in theta_weights], [v.clone() for v in theta_biases]
        self._layer_params = self.weights + self.biases
        self.grad_weights = [torch.zeros_like(v) for v in grad_weights]
        self.grad_biases = [torch.zeros_like(v) for v in grad_biases]
        self._layer_grads = self.grad_weights + self.grad_biases
        n, width, out_dim = x.shape[0], config.model.width, config.model.out_dim
        like = dict(dtype=x.dtype, device=x.device)
        self.hidden = [torch.empty(n, width, **like) for _ in range(config.model.depth)]
        self.out = torch.empty(n, out_dim, **like)
        self.residual = torch.empty(n, out_dim, **like)
        self.squared = torch.empty(n, out_dim, **like)
        self.grad_out = torch.empty(n, out_dim, **like)
        self.grad_hidden = torch.empty(n, width, **like)
        self.grad_pre = torch.empty(n, width, **like)
        # autograd's mean backward divides 1 by numel in the training dtype; pow backward doubles (exact)
        self.grad_scale = 2.0 * float(torch.ones((), **like) / y.numel())

    # ---- one step ------------------------------------------------------------------------------
    def evaluate(self) -> tuple[float, float, torch.Tensor]:
        """Loss, gradient norm and predictions at the current parameters; leaves the gradient in `grad`."""
        out = self.forward(self.x)
        torch.sub(out, self.y, out=self.residual)
        torch.pow(self.residual, 2, out=self.squared)
        loss = torch.mean(self.squared)
        self._backward()
        # == norm of the concatenated per-tensor grads of the trained parameters (a contiguous tail)
        grad_norm = torch.linalg.vector_norm(self.grad[self.trained_start:] if self.freeze_hidden else self.grad)
        return loss.item(), grad_norm.item(), out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """nn.Linear is addmm(b, h, W.t()); ReLU is clamp_min(., 0), done in place (its result is kept)."""
        h = x
        for weight, bias, hidden in zip(self.weights, self.biases, self.hidden):
            torch.addmm(bias, h, weight.t(), out=hidden)
            h = hidden.relu_()
        return torch.addmm(self.biases[-1], h, self.weights[-1].t(), out=self.out)

    def _backward(self) -> None:
        """Autograd's formulas: dW = g.t() @ h, db = g.sum(0), dh = g @ W, ReLU' = threshold_backward."""
        torch.mul(self.residual, self.grad_scale, out=self.grad_out)
        grad = self.grad_out
        inputs = [self.x, *self.hidden]
        for layer in range(len(self.weights) - 1, -1, -1):
            torch.mm(grad.t(), inputs[layer], out=self.grad_weights[layer])
            torch.sum(grad, 0, out=self.grad_biases[layer])
            if layer == 0 or self.freeze_hidden:
                break
            torch.mm(grad, self.weights[layer], out=self.grad_hidden)
            torch.ops.aten.threshold_backward.grad_input(self.grad_hidden, inputs[layer], 0,
                                                         grad_input=self.grad_pre)
            grad = self.grad_pre
        torch._foreach_copy_(self._grad_views, self._layer_grads)

    def _load_layers(self) -> None:
        """Bring the flat parameters into the layers' own tensors."""
        torch._foreach_copy_(self._layer_params, self._theta_views)

    def update(self) -> None:
        """One optimizer step with the gradient from `evaluate` (the record's functional step on the flat buffer)."""
        self.optimizer.step([self.theta], [self.grad], self.state, self.lr)
        self._load_layers()

    # ---- state ---------------------------------------------------------------------------------
    def flat_params(self) -> torch.Tensor:
        """The live flat parameter buffer (the writer copies what it keeps)."""
        return self.theta

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """Predictions at the current parameters on any grid, in fresh tensors (the step's buffers are kept)."""
        h = x
        for weight, bias in zip(self.weights[:-1], self.biases[:-1]):
            h = torch.addmm(bias, h, weight.t()).relu_()
        return torch.addmm(self.biases[-1], h, self.weights[-1].t())

    def pack_state(self) -> np.ndarray:
        """The torch engine's resume vector (the record's layout: moments over P, then a step count per tensor)."""
        steps = np.where(self.trained_tensors, float(self.state.step), 0.0)
        return self.optimizer.pack([buffers[0] for buffers in self.state.moments.values()], steps)

    def load(self, params: np.ndarray, state: np.ndarray | None) -> None:
        """Restore a checkpoint's parameters and the optimizer state packed with it."""
        self.theta.copy_(torch.from_numpy(np.asarray(params)))
        self._load_layers()
        if state is None:
            return
        moments, steps = self.optimizer.unpack(state, self.theta.numel(), self.n_tensors)
        trained_steps = steps[self.trained_tensors]
        if not (trained_steps == trained_steps[0]).all():
            raise ValueError("the fused engine needs one step count for every trained tensor")
        for buffers, saved in zip(self.state.moments.values(), moments):
            buffers[0].copy_(torch.from_numpy(saved))
        self.state.step = int(trained_steps[0])


def _layer_views(model: nn.Module, flat: torch.Tensor) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
    """Views of `flat` shaped like each Linear's weight and bias, in `named_parameters()` order."""
    layout = param_layout(model)
    views, offset = {}, 0
    for name, shape, size in zip(layout.names, layout.shapes, layout.sizes):
        views[name] = flat[offset:offset + size].view(shape)
        offset += size
    linears = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    return [views[f"{n}.weight"] for n in linears], [views[f"{n}.bias"] for n in linears]

