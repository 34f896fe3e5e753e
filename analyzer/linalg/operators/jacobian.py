"""The Jacobian J of any function of a flat parameter tensor as a curvature operator: J and J^T products, J never
formed."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from analyzer.linalg.operators.base import CurvatureOperator


class JacobianOperator(CurvatureOperator):
    """J (rows x P) of `function` at `point`: J V by vmapped jvps (forward mode), J^T U by vmapped vjps (reverse)."""

    symmetric = False

    def __init__(self, function: Callable[[torch.Tensor], torch.Tensor], point: torch.Tensor, rows: int,
                 on_product: Callable[[int], None] | None = None):
        self.function, self.point = function, point
        super().__init__((rows, point.numel()), on_product)

    def times(self, tangents: torch.Tensor) -> torch.Tensor:
        """J T for T of shape (P, m): m jvps vmapped (uncounted: the torch-level product the operators share)."""
        def one(t):
            return torch.func.jvp(self.function, (self.point,), (t,))[1]

        return torch.func.vmap(one, in_dims=1, out_dims=1)(tangents)

    def transpose_times(self, vectors: torch.Tensor) -> torch.Tensor:
        """J^T V for V of shape (rows, m): m vjps vmapped over one linearisation (uncounted, as `times`)."""
        _, vjp = torch.func.vjp(self.function, self.point)
        return torch.func.vmap(lambda v: vjp(v)[0], in_dims=1, out_dims=1)(vectors)

    def _block(self, block: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.times(block_tensor(block, self.shape[1])).numpy()

    def _transpose_block(self, block: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.transpose_times(block_tensor(block, self.shape[0])).numpy()


def block_tensor(block: np.ndarray, rows: int) -> torch.Tensor:
    """A float64 (rows, k) tensor sharing a contiguous copy of `block`."""
    return torch.as_tensor(np.ascontiguousarray(block, dtype=np.float64).reshape(rows, -1))
