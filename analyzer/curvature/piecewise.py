"""Whether a rebuilt model is provably piecewise multi-affine in its parameters (ReLU / leaky-ReLU networks), read
from its torch.fx graph; where it is, the MSE Hessian's diagonal has no residual term (trace.py).

The property proven: on each region of inputs and parameters where every ReLU-like unit keeps its sign, the
output is affine in each parameter tensor separately (multi-affine), so every second derivative of f along one
parameter is 0, and autograd's too (torch's relu'' is 0 everywhere). The graph is walked node by node, tracking
which parameters each value depends on:
  - anything computed from inputs and buffers alone is a constant (sin/cos features of x are fine);
  - linear maps (Linear, convolutions, F.linear, matmul, mul) of two values need disjoint parameter sets, so a
    parameter never meets itself in a product (tied weights or x * x are refused);
  - sums, concatenations, reshapes, indexing, pooling and piecewise-linear units keep the property;
  - division only by a constant; any other operation on a parameter-dependent value (tanh, LayerNorm, pow,
    softmax, an unknown module or function) is not proven, and the model is then NOT treated as piecewise-linear.
A model that fx cannot trace is not proven either.
"""

from __future__ import annotations

import operator

import torch
from torch import nn

F = torch.nn.functional
PIECEWISE_MODULES = (nn.ReLU, nn.LeakyReLU, nn.ReLU6, nn.Hardtanh, nn.MaxPool1d, nn.MaxPool2d, nn.MaxPool3d,
                     nn.AdaptiveMaxPool1d, nn.AdaptiveMaxPool2d)
LINEAR_1_MODULES = (nn.Identity, nn.Flatten, nn.Unflatten, nn.AvgPool1d, nn.AvgPool2d, nn.AvgPool3d,
                    nn.AdaptiveAvgPool1d, nn.AdaptiveAvgPool2d)
WEIGHTED_MODULES = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)  # bilinear in (input, own weight) plus a bias
# functions and methods that are linear or piecewise linear in their one parameter-dependent argument
UNARY = {torch.relu, F.relu, F.leaky_relu, F.relu6, F.hardtanh, torch.clamp, torch.clamp_min, torch.flatten,
         torch.reshape, torch.squeeze, torch.unsqueeze, torch.transpose, torch.permute, torch.sum, torch.mean,
         torch.neg, operator.neg, operator.pos, operator.getitem, torch.abs, F.max_pool1d, F.max_pool2d,
         F.avg_pool1d, F.avg_pool2d, F.pad, torch.narrow}
UNARY_METHODS = {"relu", "clamp", "clamp_min", "flatten", "reshape", "view", "squeeze", "unsqueeze", "transpose",
                 "permute", "sum", "mean", "neg", "abs", "contiguous", "expand", "expand_as", "view_as", "t",
                 "narrow", "leaky_relu", "to", "type_as", "float", "double", "__getitem__", "size", "dim"}
SUMS = {operator.add, operator.sub, torch.add, torch.sub, torch.cat, torch.stack, torch.maximum, torch.minimum,
        torch.max, torch.min}
SUM_METHODS = {"add", "sub", "__add__", "__sub__", "__radd__", "__rsub__"}
PRODUCTS = {operator.mul, torch.mul, operator.matmul, torch.matmul, torch.mm, torch.bmm, F.linear, torch.einsum,
            F.conv1d, F.conv2d}
PRODUCT_METHODS = {"mul", "matmul", "mm", "bmm", "__mul__", "__rmul__", "__matmul__"}
DIVISIONS = {operator.truediv, torch.div, torch.true_divide}


class NotProven(Exception):
    """The graph has a step the walk cannot show keeps the output piecewise multi-affine."""


def piecewise_linear_reason(model: nn.Module) -> tuple[bool, str]:
    """(proven, why): whether `model` is proven piecewise multi-affine in its parameters, and in words why (not)."""
    try:
        traced = torch.fx.symbolic_trace(model)
    except Exception as err:  # noqa: BLE001 -- fx raises many kinds; any of them means "not proven"
        return False, f"not proven piecewise-linear: torch.fx cannot trace the model ({type(err).__name__})"
    parameters = dict(traced.named_parameters())
    modules = dict(traced.named_modules())
    depends: dict[str, frozenset] = {}
    try:
        for node in traced.graph.nodes:
            depends[node.name] = _node_depends(node, depends, parameters, modules)
    except NotProven as err:
        return False, f"not proven piecewise-linear: {err}"
    return True, "piecewise-linear (ReLU-type units, linear maps; proven from the torch.fx graph)"


def _node_depends(node, depends: dict, parameters: dict, modules: dict) -> frozenset:
    """The parameters `node`'s value depends on; raises NotProven when the step may break multi-affinity."""
    if node.op in ("placeholder", "output"):
        return _union(node, depends)
    if node.op == "get_attr":
        return frozenset([node.target]) if node.target in parameters else frozenset()
    inputs = [depends[a.name] for a in _arguments(node)]
    if not any(inputs) and node.op != "call_module":
        return frozenset()  # a function of inputs and buffers alone is a constant in the parameters
    if node.op == "call_module":
        return _module_depends(node, modules[node.target], inputs)
    target = node.target
    unary, sums, products = (UNARY, SUMS, PRODUCTS) if node.op == "call_function" else \
        (UNARY_METHODS, SUM_METHODS, PRODUCT_METHODS)
    name = getattr(target, "__name__", str(target))
    if target in unary and sum(bool(s) for s in inputs) == 1:
        return _union(node, depends)
    if target in sums:
        return _union(node, depends)
    if target in products:
        return _disjoint(inputs, name)
    if target in DIVISIONS or target in ("div", "__truediv__"):
        divisor = node.args[1] if len(node.args) > 1 else None
        if not (isinstance(divisor, torch.fx.Node) and depends[divisor.name]):
            return _union(node, depends)  # division by a constant is linear
    raise NotProven(f"{name} of a parameter-dependent value (node {node.name})")


def _module_depends(node, module: nn.Module, inputs: list[frozenset]) -> frozenset:
    own = frozenset(f"{node.target}.{n}" for n, _ in module.named_parameters())
    kind = type(module).__name__
    if isinstance(module, nn.Dropout) and (module.p == 0 or not module.training):
        return frozenset().union(*inputs)
    if isinstance(module, WEIGHTED_MODULES):
        if getattr(module, "padding_mode", "zeros") != "zeros":
            raise NotProven(f"{kind} with padding_mode {module.padding_mode!r} (node {node.name})")
        return _disjoint([*inputs, own], kind)
    if isinstance(module, PIECEWISE_MODULES + LINEAR_1_MODULES) and not own:
        return frozenset().union(*inputs)
    if not own and not any(inputs):
        return frozenset()
    raise NotProven(f"module {kind} is not known to be piecewise-linear (node {node.name})")


def _disjoint(inputs: list[frozenset], name: str) -> frozenset:
    seen: frozenset = frozenset()
    for deps in inputs:
        if seen & deps:
            raise NotProven(f"{name} multiplies values that share the parameters {sorted(seen & deps)[:3]}")
        seen |= deps
    return seen


def _arguments(node) -> list:
    found: list = []
    torch.fx.node.map_arg((node.args, node.kwargs), found.append)
    return found


def _union(node, depends: dict) -> frozenset:
    return frozenset().union(*(depends[a.name] for a in _arguments(node)))
