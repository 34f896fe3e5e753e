"""Adam (Kingma & Ba 2015) with torch.optim.Adam's defaults: the only place its update rule is written."""

from __future__ import annotations

from dataclasses import dataclass

from trainer.optim.base import Optimizer, OptimState, per_member


@dataclass(frozen=True)
class Adam(Optimizer):
    """torch.optim.Adam without weight decay or amsgrad; its moments and per-tensor step count are the state."""

    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8

    def torch_class(self) -> type:
        import torch

        return torch.optim.Adam

    def torch_options(self) -> dict:
        return {"betas": (self.beta1, self.beta2), "eps": self.eps}

    def step(self, params: list, grads: list, state: OptimState, lr) -> tuple[list, OptimState]:
        """torch.optim.Adam's single-tensor formulas, op for op, on every tensor of `params`.

        On a CPU `torch._foreach_*` runs the single-tensor kernel per tensor, so a list of one flat buffer,
        a list of per-layer tensors and torch.optim's own loop give the same bits (tests/trainer/test_optim.py).
        """
        import torch

        exp_avg, exp_avg_sq = state.moments["exp_avg"], state.moments["exp_avg_sq"]
        state.step += 1
        step = float(state.step)
        torch._foreach_lerp_(exp_avg, grads, 1 - self.beta1)
        torch._foreach_mul_(exp_avg_sq, self.beta2)
        torch._foreach_addcmul_(exp_avg_sq, grads, grads, value=1 - self.beta2)
        bias_correction1 = 1 - self.beta1 ** step
        denom = torch._foreach_sqrt(exp_avg_sq)
        torch._foreach_div_(denom, (1 - self.beta2 ** step) ** 0.5)
        torch._foreach_add_(denom, self.eps)
        if isinstance(lr, torch.Tensor):
            # addcdiv_ computes param + (value * exp_avg) / denom with value rounded once: the same, per member
            scaled = torch._foreach_mul(exp_avg, per_member(-(lr / bias_correction1), params))
            torch._foreach_div_(scaled, denom)
            torch._foreach_add_(params, scaled)
        else:
            torch._foreach_addcdiv_(params, exp_avg, denom, value=-(float(lr) / bias_correction1))
        return params, state


ADAM = Adam(name="adam", summary="Adam (torch defaults: betas 0.9, 0.999, eps 1e-8)", is_plain_gd=False,
            moments=("exp_avg", "exp_avg_sq"), counts_steps=True)
