"""The generalised Gauss-Newton matrix of a mean-squared loss as a curvature operator: G = J^T (2 / (N o)) J.

For L = mean((f(theta) - y)^2) over all N o outputs, the Hessian is G + (2 / (N o)) sum_r (f_r - y_r) d2f_r: G is
its part that does not see the residual, positive semi-definite, and the whole Hessian of a linearised twin
(analyzer/linalg/gram.py computes that one's spectrum from a dense J). The products never form J: one jvp, then
one vjp.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from analyzer.linalg.operators.base import CurvatureOperator
from analyzer.linalg.operators.jacobian import JacobianOperator, block_tensor


class GGNOperator(CurvatureOperator):
    """v -> (2 / rows) J^T (J v), J the Jacobian of the flat outputs `function` at `point` (rows x P)."""

    def __init__(self, function: Callable[[torch.Tensor], torch.Tensor], point: torch.Tensor, rows: int,
                 on_product: Callable[[int], None] | None = None):
        self.jacobian = JacobianOperator(function, point, rows)
        self.scale_c = 2.0 / rows  # the mean over all N o squared residuals
        super().__init__((point.numel(), point.numel()), on_product)

    def _block(self, block: np.ndarray) -> np.ndarray:
        with torch.no_grad():
            outputs = self.jacobian.times(block_tensor(block, self.shape[0]))
            return self.scale_c * self.jacobian.transpose_times(outputs).numpy()
