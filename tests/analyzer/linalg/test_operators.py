"""Every curvature operator (analyzer/linalg/operators/) against a dense float64 matrix built independently
(torch.autograd.functional.hessian / jacobian, then numpy): matvec, matmat, the transpose, `n_products`, the
progress hook, `to_scipy()` with and without a shift, and the torch-vector `apply`; small random MLPs, relu and tanh.

An operator class added to the package without a case here fails `test_every_operator_class_has_a_case`."""

from __future__ import annotations

import importlib
import pkgutil

import numpy as np
import pytest
import torch
from scipy.sparse.linalg import LinearOperator

import analyzer.linalg.operators as operators
from analyzer.linalg.operators.base import CurvatureOperator
from analyzer.linalg.operators.dense import MatrixOperator
from analyzer.linalg.operators.ggn import GGNOperator
from analyzer.linalg.operators.hessian import HessianOperator
from analyzer.linalg.operators.jacobian import JacobianOperator
from analyzer.linalg.operators.mlp_hessian import MLPHessian
from analyzer.linalg.operators.ntk import KernelOperator

RTOL = 1e-12  # of ||A v||: products against the dense oracle, all in float64
ACTIVATIONS = {"relu": torch.relu, "tanh": torch.tanh}


class Mlp:
    """A random float64 MLP with its data: flat parameters (weight row-major, then bias, per layer) and the loss."""

    def __init__(self, activation: str, seed: int, sizes=(2, 5, 4, 2), samples: int = 7):
        gen = torch.Generator().manual_seed(seed)
        self.activation = ACTIVATIONS[activation]
        self.shapes = [shape for fan_in, fan_out in zip(sizes[:-1], sizes[1:]) for shape in ((fan_out, fan_in),
                                                                                              (fan_out,))]
        self.theta = torch.cat([torch.randn(s, generator=gen, dtype=torch.float64).reshape(-1) for s in self.shapes])
        self.x = torch.randn(samples, sizes[0], generator=gen, dtype=torch.float64)
        self.y = torch.randn(samples, sizes[-1], generator=gen, dtype=torch.float64)

    def layers(self, flat: torch.Tensor) -> list[torch.Tensor]:
        return [p.reshape(s) for p, s in zip(torch.split(flat, [int(np.prod(s)) for s in self.shapes]), self.shapes)]

    def outputs(self, flat: torch.Tensor) -> torch.Tensor:
        """f(x) flattened sample-major, (N o,)."""
        pieces, h = self.layers(flat), self.x
        for layer in range(len(pieces) // 2):
            h = h @ pieces[2 * layer].T + pieces[2 * layer + 1]
            if layer < len(pieces) // 2 - 1:
                h = self.activation(h)
        return h.reshape(-1)

    def loss(self, flat: torch.Tensor) -> torch.Tensor:
        return torch.mean((self.outputs(flat) - self.y.reshape(-1)) ** 2)

    def dense_hessian(self) -> np.ndarray:
        return torch.autograd.functional.hessian(self.loss, self.theta).numpy()

    def dense_jacobian(self) -> np.ndarray:
        return torch.autograd.functional.jacobian(self.outputs, self.theta).numpy()


def hessian_rev(mlp, hook):
    return HessianOperator(mlp.loss, mlp.theta, on_product=hook), mlp.dense_hessian()


def hessian_fwd(mlp, hook):
    return HessianOperator(mlp.loss, mlp.theta, mode="fwd", on_product=hook), mlp.dense_hessian()


def mlp_hessian(mlp, hook):
    pieces = mlp.layers(mlp.theta)
    return (MLPHessian(pieces[0::2], pieces[1::2], mlp.activation, mlp.x, mlp.y, on_product=hook),
            mlp.dense_hessian())


def mlp_hessian_regions(mlp, hook):
    """1-D inputs, relu or not: with relu the products run on two points per linear region (fewer than samples)."""
    mlp = Mlp("relu" if mlp.activation is torch.relu else "tanh", 11, sizes=(1, 4, 3, 1), samples=40)
    pieces = mlp.layers(mlp.theta)
    op = MLPHessian(pieces[0::2], pieces[1::2], mlp.activation, mlp.x, mlp.y, piecewise_linear=True, on_product=hook)
    if mlp.activation is torch.relu:
        assert op.n_samples < 40  # the region route is the one under test
    return op, mlp.dense_hessian()


def ggn(mlp, hook):
    jac = mlp.dense_jacobian()
    return GGNOperator(mlp.outputs, mlp.theta, jac.shape[0], on_product=hook), 2.0 / jac.shape[0] * jac.T @ jac


def jacobian(mlp, hook):
    jac = mlp.dense_jacobian()
    return JacobianOperator(mlp.outputs, mlp.theta, jac.shape[0], on_product=hook), jac


def kernel(mlp, hook):
    jac = mlp.dense_jacobian()
    return KernelOperator(mlp.outputs, mlp.theta, jac.shape[0], on_product=hook), jac @ jac.T


def matrix(mlp, hook):
    dense = mlp.dense_hessian()
    return MatrixOperator(dense.copy(), on_product=hook), dense


CASES = {HessianOperator: [hessian_rev, hessian_fwd], MLPHessian: [mlp_hessian, mlp_hessian_regions],
         GGNOperator: [ggn], JacobianOperator: [jacobian], KernelOperator: [kernel], MatrixOperator: [matrix]}
BUILDERS = [build for builders in CASES.values() for build in builders]


def defined_operator_classes() -> set[type]:
    """Every CurvatureOperator subclass defined in a module of analyzer/linalg/operators/."""
    for module in pkgutil.iter_modules(operators.__path__):
        importlib.import_module(f"{operators.__name__}.{module.name}")
    found, stack = set(), [CurvatureOperator]
    while stack:
        for sub in stack.pop().__subclasses__():
            stack.append(sub)
            if sub.__module__.startswith(operators.__name__ + "."):
                found.add(sub)
    return found


def test_every_operator_class_has_a_case():
    assert defined_operator_classes() == set(CASES), "an operator class without a case in CASES (or a stale case)"


def close(got, expected) -> None:
    np.testing.assert_allclose(got, expected, rtol=0, atol=RTOL * max(np.abs(expected).max(), 1e-300))


@pytest.fixture(params=list(ACTIVATIONS))
def mlp(request):
    return Mlp(request.param, seed=3)


@pytest.mark.parametrize("build", BUILDERS, ids=[b.__name__ for b in BUILDERS])
def test_products_equal_the_dense_oracle_and_are_counted(build, mlp):
    calls = []
    op, dense = build(mlp, calls.append)
    rows, cols = dense.shape
    assert isinstance(op, LinearOperator) and op.shape == (rows, cols) and op.dtype == np.float64
    assert op.n == cols
    rng = np.random.default_rng(0)
    v, block = rng.standard_normal(cols), rng.standard_normal((cols, 3))
    u, left = rng.standard_normal(rows), rng.standard_normal((rows, 2))

    close(op.matvec(v), dense @ v)
    assert op.n_products == 1
    close(op.matmat(block), dense @ block)
    close(op @ block, dense @ block)
    assert op.n_products == 7
    close(op.rmatvec(u), dense.T @ u)
    close(op.rmatmat(left), dense.T @ left)
    close(op.T.matvec(u), dense.T @ u)
    close(op.H.matmat(left), dense.T @ left)
    assert op.n_products == 7 + 1 + 2 + 1 + 2
    close(op.apply(torch.from_numpy(v)).numpy(), dense @ v)
    assert op.n_products == 14 and sum(calls) == 14  # the hook saw every vector, and nothing else counts
    if op.symmetric:
        assert op.T is op and op.H is op


@pytest.mark.parametrize("build", BUILDERS, ids=[b.__name__ for b in BUILDERS])
def test_to_scipy_is_a_plain_operator_shifted_on_request(build, mlp):
    op, dense = build(mlp, None)
    rows, cols = dense.shape
    plain = op.to_scipy()
    assert type(plain) is not type(op) and not isinstance(plain, CurvatureOperator)
    v = np.random.default_rng(1).standard_normal(cols)
    close(plain.matvec(v), dense @ v)
    close(plain.rmatvec(np.ones(rows)), dense.T @ np.ones(rows))
    assert op.n_products == 2  # counted on the operator behind it
    if rows != cols:
        with pytest.raises(ValueError, match="square"):
            op.to_scipy(shift=1.5)
        return
    shifted = op.to_scipy(shift=1.5)
    close(shifted.matvec(v), dense @ v - 1.5 * v)
    close(shifted.matmat(np.eye(cols)[:, :2]), dense[:, :2] - 1.5 * np.eye(cols)[:, :2])


def test_a_non_symmetric_operator_needs_its_transpose_and_a_class_writing_no_product_says_so():
    class Forward(CurvatureOperator):
        symmetric = False

        def _vector(self, vector):
            return np.arange(6.0).reshape(2, 3) @ vector

    class Nothing(CurvatureOperator):
        pass

    forward = Forward((2, 3))
    close(forward.matmat(np.eye(3)), np.arange(6.0).reshape(2, 3))
    with pytest.raises(NotImplementedError, match="transpose"):
        forward.rmatvec(np.ones(2))
    with pytest.raises(NotImplementedError, match="neither"):
        Nothing((2, 2)).matvec(np.ones(2))
    with pytest.raises(ValueError, match="square"):
        Nothing((2, 3))
