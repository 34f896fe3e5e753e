"""The batched step: R ReLU MLPs of one architecture trained together, parameters stacked on a run axis.

The fused engine's formulas (trainer/engines/fused.py) with batched matmuls: a Linear is one `baddbmm` over
(R, out, in) weights, a backward matmul one `bmm`, and the optimizer record's functional step
(trainer/optim/) runs over the stacked tensors with `torch._foreach_*`. Members never mix: a row's loss,
gradient and update depend on that row only, so a member can diverge or be dropped without changing the
others. On CPU every member is bitwise equal to its single run (the vector-shaped layers run per member,
see `_per_member`; tests/trainer/sweep/test_ensemble.py); on a GPU batched kernels round as they like, so equality there is to rounding, untested.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from trainer import optim
from trainer.config import TrainConfig


class BatchedMLP:
    """Stacked parameters, gradients, optimizer moments and activations of R runs; one step for all."""

    def __init__(self, configs: list[TrainConfig], models: list[nn.Module], x: torch.Tensor, y: torch.Tensor):
        config = configs[0]
        self.optimizer = optim.get(config.optimizer)
        self.n_tensors = len(list(models[0].parameters()))
        per_model = [[p.detach() for p in model.parameters()] for model in models]
        # weights (R, out, in); biases (R, 1, out) so that they broadcast over the grid in baddbmm
        self.params = [torch.stack([ps[i] for ps in per_model]).reshape(len(models), *_stacked_shape(per_model, i))
                       for i in range(self.n_tensors)]
        self.grads = [torch.zeros_like(p) for p in self.params]
        self.state = self.optimizer.init_state(self.params)
        self.lrs = torch.tensor([float(c.lr) for c in configs], dtype=torch.float64)
        self.shared_lr = bool((self.lrs == self.lrs[0]).all())
        self.x_single, self.y_single = x, y
        self.exact = x.device.type == "cpu"
        self.depth, self.width = config.model.depth, config.model.width
        self._allocate()

    def _allocate(self) -> None:
        """Work buffers for the current number of members."""
        runs = self.params[0].shape[0]
        (n, out_dim), like = self.y_single.shape, dict(dtype=self.y_single.dtype, device=self.y_single.device)
        self.x = self.x_single.expand(runs, *self.x_single.shape)
        self.y = self.y_single.expand(runs, *self.y_single.shape)
        self.hidden = [torch.empty(runs, n, self.width, **like) for _ in range(self.depth)]
        self.out, self.residual, self.squared, self.grad_out = (torch.empty(runs, n, out_dim, **like) for _ in range(4))
        self.grad_hidden, self.grad_pre = (torch.empty(runs, n, self.width, **like) for _ in range(2))
        self.grad_scale = 2.0 * float(torch.ones((), **like) / self.y_single.numel())
        # the rate the optimizer's step takes: one float, or the members' float64 rates on the training device
        self.step_lr = float(self.lrs[0]) if self.shared_lr else self.lrs.to(self.y_single.device)

    @property
    def runs(self) -> int:
        return self.params[0].shape[0]

    # ---- one step ------------------------------------------------------------------------------
    def evaluate(self) -> tuple[list[float], list[float], torch.Tensor]:
        """Per-member losses and gradient norms, and the (R, N, out) predictions; gradients kept."""
        out = self.forward(self.x, self.hidden, self.out)
        torch.sub(out, self.y, out=self.residual)
        torch.pow(self.residual, 2, out=self.squared)
        losses = torch.mean(self.squared, dim=(1, 2))
        self._backward()
        flat_grad = torch.cat([g.reshape(self.runs, -1) for g in self.grads], dim=1)
        grad_norms = torch.linalg.vector_norm(flat_grad, dim=1)
        return losses.tolist(), grad_norms.tolist(), out

    def forward(self, x: torch.Tensor, hidden: list[torch.Tensor] | None = None,
                out: torch.Tensor | None = None) -> torch.Tensor:
        n_layers, h = len(self.params) // 2, x
        for layer in range(n_layers - 1):
            h = self._linear(layer, h, None if hidden is None else hidden[layer]).relu_()
        return self._linear(n_layers - 1, h, out)

    def _linear(self, layer: int, h: torch.Tensor, out: torch.Tensor | None) -> torch.Tensor:
        weight, bias = self.params[2 * layer], self.params[2 * layer + 1]
        if not self._per_member(weight):
            return torch.baddbmm(bias, h, weight.transpose(1, 2), out=out)
        if out is None:
            out = h.new_empty(self.runs, h.shape[1], weight.shape[1])
        for row in range(self.runs):
            out[row].copy_(torch.addmm(_aligned(bias[row, 0]), _aligned(h[row]), _aligned(weight[row]).t()))
        return out

    def _per_member(self, weight: torch.Tensor) -> bool:
        """On CPU a vector-shaped layer (1 input or 1 output) runs per member, as in a single run.

        Batched MKL gemm rounds differently from the gemv-like path a single run takes for these
        shapes (the other layers agree bit for bit), and Adam amplifies a last-bit difference to an
        O(1) one within ~1,000 steps even in float64. R small calls per such layer keep every member
        bitwise equal to its single run; on a GPU the batched kernels are the point, so no split. Each
        call reads and writes freshly allocated tensors, as the single run does: a member's row of a
        stacked tensor starts at an arbitrary offset, and on some CPUs a matmul rounds by alignment
        (trainer/engines/fused.py).
        """
        return self.exact and min(weight.shape[1:]) == 1

    def _backward(self) -> None:
        torch.mul(self.residual, self.grad_scale, out=self.grad_out)
        grad, inputs = self.grad_out, [self.x, *self.hidden]
        for layer in range(len(inputs) - 1, -1, -1):
            self._weight_grad(grad, inputs[layer], self.grads[2 * layer])
            torch.sum(grad, 1, keepdim=True, out=self.grads[2 * layer + 1])
            if layer == 0:
                break
            torch.bmm(grad, self.params[2 * layer], out=self.grad_hidden)
            torch.ops.aten.threshold_backward.grad_input(self.grad_hidden, inputs[layer], 0,
                                                         grad_input=self.grad_pre)
            grad = self.grad_pre

    def _weight_grad(self, grad: torch.Tensor, inputs: torch.Tensor, out: torch.Tensor) -> None:
        if not self._per_member(out):
            torch.bmm(grad.transpose(1, 2), inputs, out=out)
            return
        for row in range(self.runs):
            out[row].copy_(torch.mm(_aligned(grad[row]).t(), _aligned(inputs[row])))

    def update(self) -> None:
        """The optimizer's step on every member at once; a shared lr uses the single-run formulas exactly."""
        self.optimizer.step(self.params, self.grads, self.state, self.step_lr)

    # ---- members and state ---------------------------------------------------------------------
    def keep(self, rows: list[int]) -> None:
        """Continue with these members only (the others diverged); the kept ones, gradients included, are unchanged."""
        index = torch.tensor(rows, device=self.params[0].device)
        for name in ("params", "grads"):
            setattr(self, name, [t.index_select(0, index) for t in getattr(self, name)])
        for key, buffers in self.state.moments.items():
            self.state.moments[key] = [t.index_select(0, index) for t in buffers]
        self.lrs = self.lrs[index.cpu()]
        self._allocate()

    def flat_params(self) -> torch.Tensor:
        """(R, P): each member's parameters in `named_parameters()` order, as `trainer.models.flatten`."""
        return torch.cat([p.reshape(self.runs, -1) for p in self.params], dim=1)

    def pack_state(self, row: int) -> np.ndarray:
        """Member `row`'s resume vector, in the torch engine's format."""
        moments = [torch.cat([t[row].reshape(-1) for t in buffers]) for buffers in self.state.moments.values()]
        return self.optimizer.pack(moments, np.full(self.n_tensors, float(self.state.step)))

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        """(R, G, out) predictions on any grid, in fresh tensors."""
        return self.forward(x.expand(self.runs, *x.shape))


def _stacked_shape(per_model: list[list[torch.Tensor]], i: int) -> tuple[int, ...]:
    """A weight keeps its (out, in); a bias (out,) becomes (1, out)."""
    shape = tuple(per_model[0][i].shape)
    return shape if len(shape) == 2 else (1, *shape)


def _aligned(tensor: torch.Tensor) -> torch.Tensor:
    """`tensor` itself if it is contiguous and starts on a 64-byte boundary (as torch allocates), else a copy."""
    if tensor.is_contiguous() and tensor.data_ptr() % 64 == 0:
        return tensor
    return tensor.clone(memory_format=torch.contiguous_format)
