"""A symmetric matrix held in memory as a curvature operator: for oracles, and for solvers run on a known spectrum."""

from __future__ import annotations

from typing import Callable

import numpy as np

from analyzer.linalg.operators.base import CurvatureOperator


class MatrixOperator(CurvatureOperator):
    """v -> A v for a symmetric (n x n) float64 array A (symmetry is the caller's: it is not checked)."""

    def __init__(self, matrix: np.ndarray, on_product: Callable[[int], None] | None = None):
        self.matrix = np.asarray(matrix, dtype=np.float64)
        super().__init__(self.matrix.shape, on_product)

    def _block(self, block: np.ndarray) -> np.ndarray:
        return self.matrix @ block

    def _vector(self, vector: np.ndarray) -> np.ndarray:
        return self.matrix @ vector
