"""Hessian-vector products of any scalar `loss(theta)` as an operator (torch.func), for every eigensolver."""

from __future__ import annotations

import numpy as np
import torch
from scipy.sparse.linalg import LinearOperator

from analyzer.core import progress


class HessianOperator:
    """Hessian-vector products of `loss_fn` at `theta`, counting how many were made.

    mode "rev" (default): reverse-over-reverse; the gradient graph is built once per point and each
    product is one extra backward pass, ~3x faster on the seed MLPs than "fwd" (forward-over-reverse,
    `torch.func.jvp` of `torch.func.grad`), which re-runs the whole gradient per product.
    Both are exact; the tests check them against each other and against the dense Hessian.
    """

    def __init__(self, loss_fn, theta: torch.Tensor, mode: str = "rev"):
        self.theta = theta.detach()
        self.n = int(self.theta.numel())
        self.dtype = self.theta.dtype
        self.n_hvp = 0
        grad_fn = torch.func.grad(loss_fn)
        if mode == "rev":
            self.grad, vjp_fn = torch.func.vjp(grad_fn, self.theta)
            self._apply = lambda v: vjp_fn(v)[0]  # H is symmetric, so v^T H = H v
        elif mode == "fwd":
            self.grad = grad_fn(self.theta)
            self._apply = lambda v: torch.func.jvp(grad_fn, (self.theta,), (v,))[1]
        else:
            raise ValueError(f"unknown HVP mode {mode!r}; use rev or fwd")
        self.grad = self.grad.detach()

    def hvp(self, v: torch.Tensor) -> torch.Tensor:
        self.n_hvp += 1
        progress.tick()  # the open progress display, if any, moves within a checkpoint
        return self._apply(v.to(self.dtype)).detach()

    def matvec(self, v: np.ndarray) -> np.ndarray:
        out = self.hvp(torch.from_numpy(np.ascontiguousarray(v, dtype=np.float64)).reshape(-1))
        return out.to(torch.float64).numpy()

    def linear_operator(self, shift: float = 0.0) -> LinearOperator:
        """scipy operator for H - shift*I; the explicit dtype avoids scipy's hidden int8 probe matvec."""
        return LinearOperator((self.n, self.n), matvec=lambda v: self.matvec(v.reshape(-1)) - shift * v.reshape(-1),
                              dtype=np.float64)
