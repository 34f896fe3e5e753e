"""Plain SGD, no momentum: with the trainer's full batch, gradient descent at a fixed rate (theta -= lr g)."""

from __future__ import annotations

from dataclasses import dataclass

from trainer.optim.base import Optimizer, OptimState, per_member


@dataclass(frozen=True)
class SGD(Optimizer):
    """torch.optim.SGD without momentum, dampening or weight decay: no state."""

    def torch_class(self) -> type:
        import torch

        return torch.optim.SGD

    def step(self, params: list, grads: list, state: OptimState, lr) -> tuple[list, OptimState]:
        """param.add_(grad, alpha=-lr), torch.optim.SGD's single-tensor update, on every tensor."""
        import torch

        if isinstance(lr, torch.Tensor):
            # addcmul_ is add_(alpha=)'s fused multiply-add with a per-member factor: the same bits
            torch._foreach_addcmul_(params, grads, per_member(-lr, params))
        else:
            torch._foreach_add_(params, grads, alpha=-float(lr))
        state.step += 1
        return params, state


SGD_PLAIN = SGD(name="sgd", summary="plain SGD (no momentum); full-batch here, so gradient descent",
                is_plain_gd=True)
