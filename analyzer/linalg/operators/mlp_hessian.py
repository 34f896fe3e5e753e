"""The Hessian of a plain MLP's mean-squared training loss as a curvature operator, by the R-operator written out.

For f = W_L s(... s(W_1 x + b_1) ...) + b_L and L = mean((f - y)^2) over all N x o outputs, Pearlmutter's
R-operator (R{q} = d/dr q(theta + r v) at r = 0) gives H v as one forward and one backward pass:

    forward   R z_l = R a_l W_l^T + a_l V_l^T + v_l          R a_(l+1) = s'(z_l) R z_l      (R a_0 = 0)
    backward  R g_L = c R z_L,  c = 2 / (N o)                 (g_L = c (f - y), g_(l-1) = s'(z_(l-1)) g_l W_l)
              R(dL/dW_l) = R g_l^T a_l + g_l^T R a_l          R(dL/db_l) = sum over samples of R g_l
              R g_(l-1) = s'(z_(l-1)) (R g_l W_l + g_l V_l) + s''(z_(l-1)) R z_(l-1) (g_l W_l)

with s' and s'' taken from autograd at the point (so relu's s'(0) = 0 and s'' = 0 are autograd's, and the
products equal `HessianOperator`'s to rounding; the tests check both against the dense float64 Hessian).
Everything that does not depend on v (activations, s', s'', the backward signals g) is computed once; each
product is then six small matrix products per layer (numpy, into preallocated buffers). On deep's live block this was
1.2 ms a product against 1.75 ms for autograd's reverse-over-reverse (bench/RESULTS.md). For relu on 1-D inputs the
rows are not the samples but two weighted points per linear region (analyzer/linalg/regions.py): exact, 4-14x fewer
rows on the default presets.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch

from analyzer.linalg.operators.base import CurvatureOperator
from analyzer.linalg import regions


class MLPHessian(CurvatureOperator):
    """H v at one point for the layers (weights[l], biases[l]), computed in their dtype."""

    def __init__(self, weights: list, biases: list, activation, x: torch.Tensor, y: torch.Tensor,
                 piecewise_linear: bool = False, on_product: Callable[[int], None] | None = None):
        """`piecewise_linear`: the activation is relu (affine pieces chosen by the sign of the pre-activation); with
        1-D inputs the products then run on two weighted points per linear region instead of every sample
        (analyzer/linalg/regions.py; exact)."""
        self.weights = [w.detach().contiguous() for w in weights]
        self.biases = [b.detach() for b in biases]
        self.activation = activation
        self.compute_dtype = self.weights[0].dtype
        sizes = [t.numel() for pair in zip(self.weights, self.biases) for t in pair]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        super().__init__((int(self.offsets[-1]), int(self.offsets[-1])), on_product)
        self.transposed = [w.T.contiguous() for w in self.weights]
        stacked_a, slope, curve, f = self._forward(x)
        if f.shape != y.shape:
            raise ValueError(f"outputs {tuple(f.shape)} and targets {tuple(y.shape)} differ in shape")
        self.scale_c = 2.0 / f.numel()
        stacked_g, g_a, self.grad = self._backward(self.scale_c * (f - y), stacked_a, slope)
        self.rg_scale = self.scale_c  # R g_L = rg_scale R z_L: c per sample, c x weight per region point
        if piecewise_linear and x.dim() == 2 and x.shape[1] == 1 and len(slope) and all(c is None for c in curve):
            points = self._region_points(x, slope, f - y)
            if points is not None:
                stacked_a, slope, curve, g_a, stacked_g, self.rg_scale = points
        self.stacked_a, self.slope, self.curve, self.g_a, self.stacked_g = stacked_a, slope, curve, g_a, stacked_g
        self.n_samples = int(stacked_a[0].shape[0] // 2)  # rows the products run on: samples or region points
        self._numpy_buffers()

    def _forward(self, x: torch.Tensor) -> tuple[list, list, list, torch.Tensor]:
        """[a_l ; R a_l] stacked (2N x fan-in, the R half filled per product), s'(z_l), s''(z_l) (None when 0), f."""
        stacked_a, slopes, curves, a = [], [], [], x
        for layer in range(len(self.weights) - 1):
            stacked_a.append(torch.cat([a, torch.zeros_like(a)]))
            z = torch.nn.functional.linear(a, self.weights[layer], self.biases[layer]).requires_grad_(True)
            with torch.enable_grad():
                out = self.activation(z)
                (slope,) = torch.autograd.grad(out.sum(), z, create_graph=True)
                curve = torch.autograd.grad(slope.sum(), z)[0] if slope.requires_grad else None
            slopes.append(slope.detach())
            curves.append(None if curve is None or not torch.any(curve != 0) else curve.detach())
            a = out.detach()
        stacked_a.append(torch.cat([a, torch.zeros_like(a)]))
        return stacked_a, slopes, curves, torch.nn.functional.linear(a, self.weights[-1], self.biases[-1])

    def _backward(self, g: torch.Tensor, stacked_a: list, slopes: list) -> tuple[list, list, torch.Tensor]:
        """[R g_l ; g_l] stacked (2N x fan-out), g_a[l] = g_l W_l (what s'' multiplies) and the gradient, from
        g_L = dL/df per row."""
        depth, n = len(self.weights) - 1, g.shape[0]
        stacked_g, g_a, grads = [None] * (depth + 1), [None] * (depth + 1), [None] * (2 * depth + 2)
        for layer in range(depth, -1, -1):
            stacked_g[layer] = torch.cat([torch.zeros_like(g), g])
            grads[2 * layer] = (g.T @ stacked_a[layer][:n]).reshape(-1)
            grads[2 * layer + 1] = g.sum(0)
            if layer:
                g_a[layer] = g @ self.weights[layer]
                g = slopes[layer - 1] * g_a[layer]
        return stacked_g, g_a, torch.cat(grads)

    def _region_points(self, x: torch.Tensor, slopes: list, residual: torch.Tensor):
        """The forward and backward state at two weighted points per linear region (analyzer/linalg/regions.py) and
        the points' R g_L scale (c x weight), or None when they are not fewer than the samples or a point's sign
        pattern is not its region's."""
        points = regions.region_points(x.numpy(), torch.cat(slopes, dim=1).numpy(), residual.numpy())
        if len(points.x) >= x.shape[0]:
            return None
        stacked_a, slope, curve, _ = self._forward(torch.from_numpy(points.x))
        if any(c is not None for c in curve) or not np.array_equal(torch.cat(slope, dim=1).numpy(), points.pattern):
            return None
        stacked_g, g_a, _ = self._backward(self.scale_c * torch.from_numpy(points.residual), stacked_a, slope)
        return stacked_a, slope, curve, g_a, stacked_g, self.scale_c * points.weight[:, None]

    def _numpy_buffers(self) -> None:
        """numpy views of everything a product reads, and its buffers: numpy's BLAS runs these small products
        (1,000 x ~30 by ~30 x ~30 on deep) ~2.5x faster than torch's calls here (bench/RESULTS.md)."""
        as_np = lambda t: None if t is None else t.numpy()  # noqa: E731 -- shares memory with the tensor
        self.np_weights = [as_np(w) for w in self.weights]
        self.np_transposed = [as_np(w) for w in self.transposed]
        self.np_stacked_a = [as_np(a) for a in self.stacked_a]
        self.np_stacked_g = [as_np(g) for g in self.stacked_g]
        self.np_slope, self.np_curve = [as_np(s) for s in self.slope], [as_np(c) for c in self.curve]
        self.np_g_a = [as_np(g) for g in self.g_a]
        self.np_dtype = self.np_weights[0].dtype
        n = self.n_samples
        self.rz = [np.empty((n, w.shape[0]), dtype=self.np_dtype) for w in self.np_weights]
        self.rga = [np.empty((n, w.shape[1]), dtype=self.np_dtype) for w in self.np_weights]
        self.scratch_z = [np.empty((n, w.shape[0]), dtype=self.np_dtype) for w in self.np_weights]
        self.scratch_a = [np.empty((n, w.shape[1]), dtype=self.np_dtype) for w in self.np_weights]
        self.ones = np.ones(n, dtype=self.np_dtype)  # sums over samples as one BLAS product (3x np.sum here)

    def _torch_vector(self, vector: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self._product(vector.detach().to(self.compute_dtype).reshape(-1).numpy()))

    def _vector(self, vector: np.ndarray) -> np.ndarray:
        return self._product(np.ascontiguousarray(vector, dtype=self.np_dtype).reshape(-1)).astype(np.float64,
                                                                                                  copy=False)

    def _product(self, v: np.ndarray) -> np.ndarray:
        """H v by the R-operator (module docstring), into a new array of v's dtype."""
        out = np.empty_like(v)
        n, last, weights = self.n_samples, len(self.np_weights) - 1, self.np_weights
        pieces = [v[self.offsets[k]:self.offsets[k + 1]] for k in range(len(self.offsets) - 1)]
        stacked_a, stacked_g = self.np_stacked_a, self.np_stacked_g
        for layer, weight in enumerate(weights):  # R-forward
            change = pieces[2 * layer].reshape(weight.shape)
            _product(stacked_a[layer][:n], change.T, self.rz[layer])
            self.rz[layer] += pieces[2 * layer + 1]
            if layer:
                self.rz[layer] += _product(stacked_a[layer][n:], self.np_transposed[layer], self.scratch_z[layer])
            if layer < last:
                np.multiply(self.rz[layer], self.np_slope[layer], out=stacked_a[layer + 1][n:])
        np.multiply(self.rz[last], self.rg_scale, out=stacked_g[last][:n])
        for layer in range(last, -1, -1):  # R-backward
            weight, rg = weights[layer], stacked_g[layer][:n]
            start, middle, end = self.offsets[2 * layer:2 * layer + 3]
            if layer:
                np.matmul(stacked_g[layer].T, stacked_a[layer], out=out[start:middle].reshape(weight.shape))
            else:  # R a_0 = 0
                np.matmul(rg.T, stacked_a[0][:n], out=out[start:middle].reshape(weight.shape))
            np.matmul(self.ones, rg, out=out[middle:end])
            if layer:
                _product(rg, weight, self.rga[layer])
                self.rga[layer] += _product(stacked_g[layer][n:], pieces[2 * layer].reshape(weight.shape),
                                            self.scratch_a[layer])
                below = stacked_g[layer - 1][:n]
                np.multiply(self.rga[layer], self.np_slope[layer - 1], out=below)
                if self.np_curve[layer - 1] is not None:
                    below += self.np_curve[layer - 1] * self.rz[layer - 1] * self.np_g_a[layer]
        return out


def _product(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> np.ndarray:
    """a @ b into out; an outer product (inner size 1: a 1-D input's first layer, a scalar output's last) by
    broadcasting, which BLAS does ~7x slower here."""
    if a.shape[1] == 1:
        return np.multiply(a, b, out=out)
    return np.matmul(a, b, out=out)
