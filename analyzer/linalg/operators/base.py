"""The one interface of every curvature operator: a scipy `LinearOperator` that counts its products.

A subclass writes its product once, batched (`_block`: an (n, k) float64 block in, (m, k) out) or per vector
(`_vector`), and, when it is not symmetric, its transpose (`_transpose_block` / `_transpose_vector`). The base gives
the rest (the curvlinops pattern): matvec, matmat, rmatvec and `@` through scipy, `n_products` (vectors multiplied,
by either side, in every route), float64 dtype and shape, `to_scipy(shift)` (a plain operator for H - shift I), the
adjoint of a symmetric operator, and `apply` for a torch vector. The solvers (solvers.py, subspace.py, krylov.py,
slq.py, trace.py) know only this class.

`on_product`, when given, is called with the number of vectors of every product: the caller's hook (the Hessian
analysis moves its progress bar with it); linalg itself imports nothing above it.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
from scipy.sparse.linalg import LinearOperator


class CurvatureOperator(LinearOperator):
    """A float64 linear operator (m x n) made of counted products; `symmetric` ones are their own transpose."""

    symmetric = True

    def __init__(self, shape: tuple[int, int], on_product: Callable[[int], None] | None = None):
        super().__init__(dtype=np.dtype(np.float64), shape=(int(shape[0]), int(shape[1])))
        if self.symmetric and self.shape[0] != self.shape[1]:
            raise ValueError(f"a symmetric operator is square, got shape {self.shape}")
        self.n_products = 0
        self.on_product = on_product

    @property
    def n(self) -> int:
        """The number of columns: the parameter count of a Hessian or GGN, the sample rows of a kernel."""
        return self.shape[1]

    # ---- what a subclass writes: at least one of _block / _vector (and the transpose when not symmetric)

    def _block(self, block: np.ndarray) -> np.ndarray:
        """The product with an (n, k) float64 block; by default column by column."""
        if type(self)._vector is CurvatureOperator._vector:
            raise NotImplementedError(f"{type(self).__name__} writes neither _block nor _vector")
        return np.column_stack([self._vector(column) for column in block.T])

    def _vector(self, vector: np.ndarray) -> np.ndarray:
        """The product with one (n,) float64 vector; by default as a one-column block."""
        if type(self)._block is CurvatureOperator._block:
            raise NotImplementedError(f"{type(self).__name__} writes neither _block nor _vector")
        return self._block(vector.reshape(-1, 1)).reshape(-1)

    def _transpose_block(self, block: np.ndarray) -> np.ndarray:
        if self.symmetric:
            return self._block(block)
        raise NotImplementedError(f"{type(self).__name__} has no transpose product")

    def _transpose_vector(self, vector: np.ndarray) -> np.ndarray:
        return self._transpose_block(vector.reshape(-1, 1)).reshape(-1)

    def _torch_vector(self, vector):
        """The product with one torch vector, as a torch vector; by default through `_vector` in float64."""
        import torch

        return torch.from_numpy(self._vector(vector.detach().to(torch.float64).reshape(-1).numpy()))

    # ---- what the base gives

    def _count(self, vectors: int) -> None:
        self.n_products += vectors
        if self.on_product is not None:
            self.on_product(vectors)

    def _matvec(self, vector: np.ndarray) -> np.ndarray:
        self._count(1)
        return self._vector(np.asarray(vector).reshape(-1))

    def _matmat(self, block: np.ndarray) -> np.ndarray:
        block = np.asarray(block)
        self._count(block.shape[1])
        return self._block(block)

    def _rmatvec(self, vector: np.ndarray) -> np.ndarray:
        self._count(1)
        return self._transpose_vector(np.asarray(vector).reshape(-1))

    def _rmatmat(self, block: np.ndarray) -> np.ndarray:
        block = np.asarray(block)
        self._count(block.shape[1])
        return self._transpose_block(block)

    def _adjoint(self):
        return self if self.symmetric else super()._adjoint()

    def _transpose(self):
        return self if self.symmetric else super()._transpose()

    def apply(self, vector):
        """The product with one torch vector (counted like matvec), returned as a torch vector."""
        self._count(1)
        return self._torch_vector(vector)

    def to_scipy(self, shift: float = 0.0) -> LinearOperator:
        """A plain scipy operator for A - shift I (shift 0: A), counted here; the explicit float64 dtype spares
        scipy its hidden int8 probe product."""
        if self.shape[0] != self.shape[1]:
            if shift:
                raise ValueError(f"a shift needs a square operator, got shape {self.shape}")
            return LinearOperator(self.shape, matvec=lambda v: self.matvec(v.reshape(-1)),
                                  rmatvec=lambda v: self.rmatvec(v.reshape(-1)), matmat=self.matmat,
                                  rmatmat=self.rmatmat, dtype=np.float64)
        return LinearOperator(self.shape, matvec=lambda v: self.matvec(v.reshape(-1)) - shift * v.reshape(-1),
                              rmatvec=lambda v: self.rmatvec(v.reshape(-1)) - shift * v.reshape(-1),
                              matmat=lambda block: self.matmat(block) - shift * block, dtype=np.float64)
