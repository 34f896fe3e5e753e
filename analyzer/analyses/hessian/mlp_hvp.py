"""Hessian-vector products of a plain MLP's mean-squared training loss, by the R-operator written out.

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
1.2 ms a product against 1.75 ms for autograd's reverse-over-reverse (bench/RESULTS.md).
"""

from __future__ import annotations

import numpy as np
import torch

from analyzer.core import progress


class MLPHessian:
    """H v at one point for the layers (weights[l], biases[l]); the same interface as `HessianOperator`."""

    def __init__(self, weights: list, biases: list, activation, x: torch.Tensor, y: torch.Tensor):
        self.weights = [w.detach().contiguous() for w in weights]
        self.biases = [b.detach() for b in biases]
        self.dtype = self.weights[0].dtype
        sizes = [t.numel() for pair in zip(self.weights, self.biases) for t in pair]
        self.offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        self.n, self.n_hvp = int(self.offsets[-1]), 0
        self.transposed = [w.T.contiguous() for w in self.weights]
        depth = len(self.weights) - 1  # hidden layers
        n_samples = x.shape[0]
        # forward once: [a_l ; R a_l] stacked (2N x fan-in), so R(dL/dW_l) is a single product
        self.stacked_a, self.slope, self.curve = [], [], []
        a = x
        for layer in range(depth):
            self.stacked_a.append(torch.cat([a, torch.zeros_like(a)]))
            z = torch.nn.functional.linear(a, self.weights[layer], self.biases[layer]).requires_grad_(True)
            with torch.enable_grad():
                out = activation(z)
                (slope,) = torch.autograd.grad(out.sum(), z, create_graph=True)
                curve = torch.autograd.grad(slope.sum(), z)[0] if slope.requires_grad else None
            self.slope.append(slope.detach())
            self.curve.append(None if curve is None or not torch.any(curve != 0) else curve.detach())
            a = out.detach()
        self.stacked_a.append(torch.cat([a, torch.zeros_like(a)]))
        f = torch.nn.functional.linear(a, self.weights[-1], self.biases[-1])
        if f.shape != y.shape:
            raise ValueError(f"outputs {tuple(f.shape)} and targets {tuple(y.shape)} differ in shape")
        self.scale_c = 2.0 / f.numel()
        # backward once: [R g_l ; g_l] stacked (2N x fan-out); g_a[l] = g_l W_l, what s'' multiplies
        g = self.scale_c * (f - y)
        self.stacked_g, self.g_a = [None] * (depth + 1), [None] * (depth + 1)
        grads = [None] * (2 * depth + 2)
        for layer in range(depth, -1, -1):
            self.stacked_g[layer] = torch.cat([torch.zeros_like(g), g])
            grads[2 * layer] = (g.T @ self.stacked_a[layer][:n_samples]).reshape(-1)
            grads[2 * layer + 1] = g.sum(0)
            if layer:
                self.g_a[layer] = g @ self.weights[layer]
                g = self.slope[layer - 1] * self.g_a[layer]
        self.grad = torch.cat(grads)
        self.n_samples = n_samples
        self._numpy_buffers()

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

    def hvp(self, v: torch.Tensor) -> torch.Tensor:
        return torch.from_numpy(self._apply(v.detach().to(self.dtype).reshape(-1).numpy()))

    def matvec(self, v: np.ndarray) -> np.ndarray:
        return self._apply(np.ascontiguousarray(v, dtype=self.np_dtype).reshape(-1)).astype(np.float64, copy=False)

    def _apply(self, v: np.ndarray) -> np.ndarray:
        """H v by the R-operator (module docstring), into a new array of v's dtype."""
        self.n_hvp += 1
        progress.tick()
        out = np.empty_like(v)
        n, last, weights = self.n_samples, len(self.np_weights) - 1, self.np_weights
        pieces = [v[self.offsets[k]:self.offsets[k + 1]] for k in range(len(self.offsets) - 1)]
        stacked_a, stacked_g = self.np_stacked_a, self.np_stacked_g
        for layer, weight in enumerate(weights):  # R-forward
            change = pieces[2 * layer].reshape(weight.shape)
            np.matmul(stacked_a[layer][:n], change.T, out=self.rz[layer])
            self.rz[layer] += pieces[2 * layer + 1]
            if layer:
                self.rz[layer] += np.matmul(stacked_a[layer][n:], self.np_transposed[layer], out=self.scratch_z[layer])
            if layer < last:
                np.multiply(self.rz[layer], self.np_slope[layer], out=stacked_a[layer + 1][n:])
        np.multiply(self.rz[last], self.scale_c, out=stacked_g[last][:n])
        for layer in range(last, -1, -1):  # R-backward
            weight, rg = weights[layer], stacked_g[layer][:n]
            start, middle, end = self.offsets[2 * layer:2 * layer + 3]
            if layer:
                np.matmul(stacked_g[layer].T, stacked_a[layer], out=out[start:middle].reshape(weight.shape))
            else:  # R a_0 = 0
                np.matmul(rg.T, stacked_a[0][:n], out=out[start:middle].reshape(weight.shape))
            np.sum(rg, 0, out=out[middle:end])
            if layer:
                np.matmul(rg, weight, out=self.rga[layer])
                self.rga[layer] += np.matmul(stacked_g[layer][n:], pieces[2 * layer].reshape(weight.shape),
                                             out=self.scratch_a[layer])
                below = stacked_g[layer - 1][:n]
                np.multiply(self.rga[layer], self.np_slope[layer - 1], out=below)
                if self.np_curve[layer - 1] is not None:
                    below += self.np_curve[layer - 1] * self.rz[layer - 1] * self.np_g_a[layer]
        return out
