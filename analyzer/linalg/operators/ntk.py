"""The empirical neural tangent kernel K = J J^T as a curvature operator, model-independent: any differentiable
function of a flat parameter tensor (building it from a trained network is analyzer/io/ntk_net.py)."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from analyzer.linalg.operators.base import CurvatureOperator
from analyzer.linalg.operators.jacobian import JacobianOperator, block_tensor


class KernelOperator(CurvatureOperator):
    """v -> K v = J (J^T v), J the Jacobian of `function` at `point` (rows x P), without forming J: one vjp
    (reverse) and one jvp (forward mode) per product."""

    def __init__(self, function: Callable[[torch.Tensor], torch.Tensor], point: torch.Tensor, rows: int,
                 on_product: Callable[[int], None] | None = None):
        self.jacobian = JacobianOperator(function, point, rows)
        super().__init__((rows, rows), on_product)

    def _block(self, block: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            return self.jacobian.times(self.jacobian.transpose_times(block_tensor(block, self.shape[0]))).numpy()
