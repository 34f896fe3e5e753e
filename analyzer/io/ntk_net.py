"""The empirical NTK of a rebuilt network on its training inputs: Jacobian, K = J J^T, matrix-free K products.

J is the (N o) x P' Jacobian of the outputs on the N training inputs (o outputs each, rows ordered sample
major) with respect to the P' *trained* parameters: all of them, or the output layer alone for a
`--freeze-hidden` run (the tail of the flat layout). No 1/N factor: the trainer's learning-rate conversion
lives with the dynamics (docs/ntk.md).

Three routes to K, agreeing to rounding (tests/analyzer/analyses/ntk/test_ntk.py):
- jacobian: per-sample gradients (torch.func vmap of jacrev), then K = J J^T; any model, N o x P' memory.
- layers: for our MLPs, K = sum over trained Linear layers of (D D^T) * (H H^T + 1), D the output's derivative
  with respect to the layer's pre-activations and H its inputs: one forward and o backward passes, N x width
  memory and ~10x fewer flops than J J^T on the baseline (what makes the kernel-drift curve cheap).
- matrix-free: K v = J (J^T v) as a vjp then a jvp; Lanczos (ARPACK eigsh) on that operator for the top k,
  when J would not fit in `max_jacobian_gb` (the operator: analyzer/linalg/operators/ntk.py; the eigensolvers:
  analyzer/linalg/kernel.py).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

from analyzer.linalg.eigenpairs import EigenPairs
from analyzer.linalg.kernel import choose_route, dense_eigen, operator_eigen, signed_svd
from analyzer.linalg.operators.ntk import KernelOperator
from trainer.linearized import Linearized
from trainer.models import ParamLayout, trained_names, unflatten


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
    """An nn.Sequential of Linear layers and parameter-free activations, evaluated as such (a linearised twin
    holds an MLP's layers but is no nn.Sequential: its Jacobian takes the autograd route)."""
    if isinstance(model, Linearized) or not isinstance(model, nn.Sequential):
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


# ---- the matrix-free route and eigenpairs (the algebra is analyzer/linalg/) ---------------------------------

def kernel_operator(net: NtkNet, theta: np.ndarray) -> KernelOperator:
    """v -> K v at `theta` without forming J (products through the trained parameters only)."""
    frozen, trained = net.split(theta)
    return KernelOperator(lambda weights: net.outputs(frozen, weights), trained, net.n_rows)


def kernel_eigen(net: NtkNet, theta: np.ndarray, *, route: str = "auto", top_k: int = 0,
                 max_jacobian_gb: float = 2.0, seed: int = 0) -> EigenPairs:
    """The top `top_k` eigenpairs of K (0: all; the matrix-free route needs 0 < top_k < rows): `top` and
    `top_vectors`, `method` the route."""
    route = choose_route(route, net.n_rows, net.jacobian_bytes(), max_jacobian_gb)
    if route == "jacobian":
        return dense_eigen(kernel(net, theta), top_k)
    return operator_eigen(kernel_operator(net, theta), top_k, seed)


def jacobian_svd(net: NtkNet, theta: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """U (rows x r), s (r, descending), Vt (r x P') of J, r = min(rows, P'), signs fixed (linalg.kernel.fix_signs):
    the mask's coefficients in this basis are then comparable between computations."""
    return signed_svd(jacobian(net, theta))


def sketched_drift(net: NtkNet, reference: np.ndarray, theta: np.ndarray, probes: np.ndarray) -> float:
    """||(K - K_ref) Z||_F / ||K_ref Z||_F for Gaussian probes Z: the drift where K cannot be formed."""
    ref_product = kernel_operator(net, reference).matmat(probes)
    change = kernel_operator(net, theta).matmat(probes) - ref_product
    return float(np.linalg.norm(change) / np.linalg.norm(ref_product))
