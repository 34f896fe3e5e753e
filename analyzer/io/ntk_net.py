"""The empirical NTK on the training inputs: Jacobian, Gram matrix K = J J^T, matrix-free K products, eigenpairs.

J is the (N o) x P' Jacobian of the outputs on the N training inputs (o outputs each, rows ordered sample
major) with respect to the P' *trained* parameters: all of them, or the output layer alone for a
`--freeze-hidden` run (the tail of the flat layout). No 1/N factor: the trainer's learning-rate conversion
lives with the dynamics (docs/ntk.md).

Three routes to K, agreeing to rounding (tests/test_ntk.py):
- jacobian: per-sample gradients (torch.func vmap of jacrev), then K = J J^T; any model, N o x P' memory.
- layers: for our MLPs, K = sum over trained Linear layers of (D D^T) * (H H^T + 1), D the output's derivative
  with respect to the layer's pre-activations and H its inputs: one forward and o backward passes, N x width
  memory and ~10x fewer flops than J J^T on the baseline (what makes the kernel-drift curve cheap).
- matrix-free: K v = J (J^T v) as a vjp then a jvp; Lanczos (ARPACK eigsh) on that operator for the top k,
  when J would not fit in `max_jacobian_gb`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.linalg
import scipy.sparse.linalg
import torch
from torch import nn

from trainer.models import ParamLayout, trained_names, unflatten

ROUTES = ("auto", "jacobian", "matrix-free")


@dataclass
class NtkNet:
    """A rebuilt model, its layout and training inputs, and which flat parameters are trained (a tail slice)."""

    model: nn.Module
    layout: ParamLayout
    x: torch.Tensor  # training inputs, float64
    out_dim: int
    trained_start: int  # flat index of the first trained parameter
    is_mlp: bool  # an nn.Sequential of Linear layers and parameter-free activations: the `layers` route applies

    @property
    def n_rows(self) -> int:
        return self.x.shape[0] * self.out_dim

    @property
    def n_trained(self) -> int:
        return self.layout.n_params - self.trained_start

    def jacobian_bytes(self) -> int:
        return 8 * self.n_rows * self.n_trained

    def split(self, theta: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        """(frozen part, trained part) of a flat parameter vector, as float64 tensors."""
        flat = torch.as_tensor(np.asarray(theta, dtype=np.float64))
        return flat[:self.trained_start], flat[self.trained_start:]

    def outputs(self, frozen: torch.Tensor, trained: torch.Tensor, x: torch.Tensor | None = None) -> torch.Tensor:
        """f(x) flattened to (rows,), differentiable in `trained`."""
        params = unflatten(self.layout, torch.cat([frozen, trained]))
        x = self.x if x is None else x
        return torch.func.functional_call(self.model, params, (x,)).reshape(-1)


def make_net(model: nn.Module, layout: ParamLayout, x_train: np.ndarray, freeze_hidden: bool) -> NtkNet:
    """Wrap a float64 model for kernel computations; trained parameters must be the layout's tail."""
    model = model.to(torch.float64)
    names = trained_names(model, freeze_hidden)
    if layout.names[len(layout.names) - len(names):] != names:
        raise ValueError("the trained parameters are not the tail of the flat layout")
    start = layout.n_params - sum(layout.sizes[len(layout.names) - len(names):])
    x = torch.as_tensor(np.asarray(x_train, dtype=np.float64))
    out_dim = int(model(x[:1]).numel())
    return NtkNet(model, layout, x, out_dim, start, _is_plain_mlp(model))


def _is_plain_mlp(model: nn.Module) -> bool:
    if not isinstance(model, nn.Sequential):
        return False
    modules = list(model)
    linear = [isinstance(m, nn.Linear) for m in modules]
    parameter_free = all(not list(m.parameters()) for m, is_linear in zip(modules, linear) if not is_linear)
    return bool(linear) and linear[-1] and parameter_free


# ---- the Jacobian route --------------------------------------------------------------------------------------

def jacobian(net: NtkNet, theta: np.ndarray) -> np.ndarray:
    """J, (N o) x P': from the layer signals for a plain MLP, else by per-sample autograd."""
    return layer_jacobian(net, theta) if net.is_mlp else autograd_jacobian(net, theta)


def autograd_jacobian(net: NtkNet, theta: np.ndarray) -> np.ndarray:
    """J by per-sample reverse mode (vmap over samples: memory N o P', not N^2 width); any model."""
    frozen, trained = net.split(theta)

    def one_sample(weights: torch.Tensor, x_row: torch.Tensor) -> torch.Tensor:
        return net.outputs(frozen, weights, x_row[None])

    with torch.no_grad():
        per_sample = torch.func.vmap(torch.func.jacrev(one_sample), in_dims=(None, 0))(trained, net.x)
    return per_sample.reshape(net.n_rows, net.n_trained).numpy()


def kernel(net: NtkNet, theta: np.ndarray) -> np.ndarray:
    """K = J J^T, by the layers route where it applies, else from the Jacobian."""
    if net.is_mlp:
        return layer_kernel(net, theta)
    jac = autograd_jacobian(net, theta)
    return jac @ jac.T


def layer_signals(net: NtkNet, theta: np.ndarray) -> list[tuple[torch.Tensor, list[torch.Tensor]]]:
    """Per trained Linear layer of a plain MLP, in layout order: its inputs H (N x fan_in) and, per output k,
    D_k (N x fan_out), the derivative of output k with respect to the layer's pre-activations.

    The output's derivative with respect to the layer's weight W[i, j] at sample n is D_k[n, i] H[n, j],
    and with respect to its bias b[i] it is D_k[n, i]: one forward pass and o backward passes give all of J.
    """
    params = unflatten(net.layout, torch.as_tensor(np.asarray(theta, dtype=np.float64)))
    offsets = dict(zip(net.layout.names, np.cumsum((0,) + net.layout.sizes[:-1])))
    # the inputs require grad only so that every pre-activation is a node of the graph autograd.grad can reach
    inputs, pre_activations, h = [], [], net.x.clone().requires_grad_(True)
    for index, module in enumerate(net.model):
        if isinstance(module, nn.Linear):
            inputs.append(h)
            h = torch.nn.functional.linear(h, params[f"{index}.weight"], params[f"{index}.bias"])
            pre_activations.append((index, h))
        else:
            h = module(h)
    trained = [(layer, z) for layer, (index, z) in enumerate(pre_activations)
               if offsets[f"{index}.weight"] >= net.trained_start]
    derivatives = [torch.autograd.grad(h[:, k].sum(), [z for _, z in trained], retain_graph=True)
                   for k in range(net.out_dim)]
    return [(inputs[layer].detach(), [derivatives[k][position] for k in range(net.out_dim)])
            for position, (layer, _) in enumerate(trained)]


def layer_jacobian(net: NtkNet, theta: np.ndarray) -> np.ndarray:
    """J of a plain MLP from its layer signals: weight columns D_k[n, i] H[n, j] (row-major W), then D_k."""
    n = net.x.shape[0]
    blocks = []
    for features, derivatives in layer_signals(net, theta):
        per_output = [torch.cat([(d[:, :, None] * features[:, None, :]).reshape(n, -1), d], dim=1)
                      for d in derivatives]
        blocks.append(torch.stack(per_output, dim=1).reshape(n * net.out_dim, -1))
    return torch.cat(blocks, dim=1).numpy()


def layer_kernel(net: NtkNet, theta: np.ndarray) -> np.ndarray:
    """K of a plain MLP as a sum over its trained Linear layers of (D_k D_k'^T) * (H H^T + 1) per output pair."""
    n, o = net.x.shape[0], net.out_dim
    gram = torch.zeros(n, o, n, o, dtype=torch.float64)
    for features, derivatives in layer_signals(net, theta):
        input_gram = features @ features.T + 1.0  # the +1 is the bias
        for k in range(o):
            for k2 in range(o):
                gram[:, k, :, k2] += (derivatives[k] @ derivatives[k2].T) * input_gram
    return gram.reshape(n * o, n * o).numpy()


# ---- the matrix-free route -----------------------------------------------------------------------------------

class KernelOperator(scipy.sparse.linalg.LinearOperator):
    """v -> K v = J (J^T v) without forming J: one vjp (reverse) and one jvp (forward mode) per product."""

    def __init__(self, net: NtkNet, theta: np.ndarray):
        self.net = net
        self.frozen, self.trained = net.split(theta)
        self.products = 0
        super().__init__(dtype=np.float64, shape=(net.n_rows, net.n_rows))

    def _function(self, weights: torch.Tensor) -> torch.Tensor:
        return self.net.outputs(self.frozen, weights)

    def transpose_times(self, vectors: torch.Tensor) -> torch.Tensor:
        """J^T V for V of shape (rows, m): m vjps vmapped over one linearisation."""
        _, vjp = torch.func.vjp(self._function, self.trained)
        return torch.func.vmap(lambda v: vjp(v)[0], in_dims=1, out_dims=1)(vectors)

    def times(self, tangents: torch.Tensor) -> torch.Tensor:
        """J T for T of shape (P', m): m jvps vmapped."""
        def one(t):
            return torch.func.jvp(self._function, (self.trained,), (t,))[1]

        return torch.func.vmap(one, in_dims=1, out_dims=1)(tangents)

    def _matmat(self, block: np.ndarray) -> np.ndarray:
        block = torch.as_tensor(np.ascontiguousarray(block, dtype=np.float64).reshape(self.shape[0], -1))
        self.products += block.shape[1]
        with torch.no_grad():
            return self.times(self.transpose_times(block)).numpy()

    def _matvec(self, vector: np.ndarray) -> np.ndarray:
        return self._matmat(vector.reshape(-1, 1)).reshape(-1)

    def _adjoint(self):
        return self  # K is symmetric


# ---- eigenpairs -----------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class KernelEigen:
    """Eigenpairs of K, eigenvalues descending; `route` says how they were computed."""

    values: np.ndarray
    vectors: np.ndarray  # (rows, k), columns orthonormal
    route: str


def choose_route(net: NtkNet, route: str, max_jacobian_gb: float) -> str:
    if route not in ROUTES:
        raise ValueError(f"route must be one of {', '.join(ROUTES)}, got {route!r}")
    if route != "auto":
        return route
    kernel_bytes = 8 * net.n_rows ** 2
    return "jacobian" if max(net.jacobian_bytes(), kernel_bytes) <= max_jacobian_gb * 2**30 else "matrix-free"


def kernel_eigen(net: NtkNet, theta: np.ndarray, *, route: str = "auto", top_k: int = 0,
                 max_jacobian_gb: float = 2.0, seed: int = 0) -> KernelEigen:
    """The top `top_k` eigenpairs of K (0: all; the matrix-free route needs 0 < top_k < rows)."""
    route = choose_route(net, route, max_jacobian_gb)
    if route == "jacobian":
        values, vectors = scipy.linalg.eigh(kernel(net, theta), driver="evd")
        values, vectors = values[::-1], vectors[:, ::-1]
        keep = len(values) if top_k == 0 else min(top_k, len(values))
        return KernelEigen(values[:keep].copy(), np.ascontiguousarray(vectors[:, :keep]), route)
    if not 0 < top_k < net.n_rows:
        raise ValueError(f"the matrix-free route computes the top k eigenpairs: top_k must be in 1..{net.n_rows - 1}, "
                         f"got {top_k}")
    start = np.random.default_rng(seed).standard_normal(net.n_rows)
    values, vectors = scipy.sparse.linalg.eigsh(KernelOperator(net, theta), k=top_k, which="LA", v0=start,
                                                tol=1e-14)
    order = np.argsort(values)[::-1]
    return KernelEigen(values[order], vectors[:, order], route)


def jacobian_svd(net: NtkNet, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """U (rows x r), s (r, descending), Vt (r x P') of J, r = min(rows, P') (LAPACK gesdd).

    Signs fixed so that each u_i's largest-magnitude entry is positive: coordinates in this basis (the mask's
    coefficients) are then comparable between computations.
    """
    left, singular, right_t = scipy.linalg.svd(jacobian(net, theta), full_matrices=False, lapack_driver="gesdd")
    return fix_signs(left, singular, right_t)


def fix_signs(left: np.ndarray, singular: np.ndarray, right_t: np.ndarray):
    """Flip (u_i, v_i) pairs so that the largest-magnitude entry of every u_i is positive."""
    signs = np.sign(left[np.argmax(np.abs(left), axis=0), np.arange(left.shape[1])])
    signs[signs == 0] = 1.0
    return left * signs, singular, right_t * signs[:, None]


def sketched_drift(net: NtkNet, reference: np.ndarray, theta: np.ndarray, probes: np.ndarray) -> float:
    """||(K - K_ref) Z||_F / ||K_ref Z||_F for Gaussian probes Z: the drift where K cannot be formed."""
    ref_product = KernelOperator(net, reference).matmat(probes)
    change = KernelOperator(net, theta).matmat(probes) - ref_product
    return float(np.linalg.norm(change) / np.linalg.norm(ref_product))
