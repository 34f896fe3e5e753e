"""Models built from a JSON-able spec, with a fixed flat-parameter layout for exact rebuilds.

The model file holds no training logic. `flatten` / `unflatten` use the order of
`named_parameters()`, which `ParamLayout` records; `functional_forward(model, layout, theta, x)`
evaluates the model at an arbitrary flat parameter vector (what the analyzer's Hessian needs).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

from trainer import config
from trainer.config import ModelSpec, check_kind_and_activation
from trainer.errors import ConfigError


def _sinc(x: torch.Tensor) -> torch.Tensor:
    return torch.sinc(x / math.pi)  # sin(x)/x, value 1 at 0


ACTIVATIONS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "relu": torch.relu,
    "tanh": torch.tanh,
    "gelu": nn.functional.gelu,
    "silu": nn.functional.silu,
    "sin": torch.sin,
    "relu2": lambda x: torch.relu(x) ** 2,
    "sinc": _sinc,
    "gaussian": lambda x: torch.exp(-0.5 * x * x),
}


class Activation(nn.Module):
    """A registered activation as a module (holds its name so `repr` says what it is)."""

    def __init__(self, name: str):
        super().__init__()
        self.name = name
        self.fn = ACTIVATIONS[name]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fn(x)

    def extra_repr(self) -> str:
        return self.name


def _init_default(layer: nn.Linear) -> None:
    layer.reset_parameters()  # PyTorch's Kaiming-uniform(a=sqrt(5)) weights, uniform bias


def _init_xavier(layer: nn.Linear) -> None:
    nn.init.xavier_uniform_(layer.weight)
    nn.init.zeros_(layer.bias)


def _init_kaiming(layer: nn.Linear) -> None:
    nn.init.kaiming_normal_(layer.weight, nonlinearity="relu")
    nn.init.zeros_(layer.bias)


INITS: dict[str, Callable[[nn.Linear], None]] = {
    "default": _init_default,
    "xavier": _init_xavier,
    "kaiming": _init_kaiming,
}


def build_mlp(spec: ModelSpec) -> nn.Module:
    layers: list[nn.Module] = []
    fan_in = spec.in_dim
    for _ in range(spec.depth):
        layers += [nn.Linear(fan_in, spec.width), Activation(spec.activation)]
        fan_in = spec.width
    layers.append(nn.Linear(fan_in, spec.out_dim))
    for layer in layers:
        if isinstance(layer, nn.Linear):
            INITS[spec.init](layer)
    return nn.Sequential(*layers)


class DiagLinearFourier(nn.Module):
    """f(x) = sum_j c_j u_j v_j phi_j(x) over sin/cos features at integer frequencies 1..K.

    phi_j = sqrt(2) sin(2 pi k x) or sqrt(2) cos(2 pi k x), orthonormal under the mean over a
    uniform grid of N > 2K points; c_j = k^-feature_decay. Feature order: sin_1, cos_1, sin_2, ...
    Every mode starts at u = v = init_scale, near the saddle u = v = 0.
    """

    def __init__(self, spec: ModelSpec):
        super().__init__()
        k = torch.arange(1, spec.features + 1, dtype=torch.float64).repeat_interleave(2)
        self.register_buffer("freqs_hz", k)
        self.register_buffer("scales", k ** (-spec.feature_decay))
        self.u = nn.Parameter(torch.full((2 * spec.features,), spec.init_scale, dtype=torch.float64))
        self.v = nn.Parameter(torch.full((2 * spec.features,), spec.init_scale, dtype=torch.float64))

    def features(self, x: torch.Tensor) -> torch.Tensor:
        phase = 2 * math.pi * x.reshape(-1, 1) * self.freqs_hz.to(x.dtype)
        is_sin = torch.arange(phase.shape[1], device=x.device) % 2 == 0
        return math.sqrt(2.0) * torch.where(is_sin, torch.sin(phase), torch.cos(phase))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        weights = self.scales.to(x.dtype) * self.u * self.v
        return self.features(x) @ weights[:, None]


def build_imported(spec: ModelSpec) -> nn.Module:
    """Kind "import": a model that is not ours, from its recorded constructor (trainer/constructor.py)."""
    from trainer import constructor

    if not spec.constructor:
        raise ConfigError('model kind "import" needs a constructor ("package.module:callable")')
    return constructor.call(spec.constructor, spec.constructor_kwargs)


MODEL_KINDS: dict[str, Callable[[ModelSpec], nn.Module]] = {
    "mlp": build_mlp,
    "diag-linear": DiagLinearFourier,
    "import": build_imported,
}
# trainer.config validates against its own copy of the names (no torch there); they must be these tables' keys
if (tuple(MODEL_KINDS), tuple(ACTIVATIONS), tuple(INITS)) != (config.MODEL_KINDS, config.ACTIVATIONS, config.INITS):
    raise ImportError("trainer.config's model kind / activation / init names differ from trainer.models' tables")


@dataclass(frozen=True)
class ParamLayout:
    """Names and shapes of the parameters, in flattening order."""

    names: tuple[str, ...]
    shapes: tuple[tuple[int, ...], ...]

    @property
    def sizes(self) -> tuple[int, ...]:
        return tuple(math.prod(shape) for shape in self.shapes)

    @property
    def n_params(self) -> int:
        return sum(self.sizes)

    def to_dict(self) -> dict:
        return {"names": list(self.names), "shapes": [list(s) for s in self.shapes]}

    @classmethod
    def from_dict(cls, raw: dict) -> "ParamLayout":
        return cls(tuple(raw["names"]), tuple(tuple(s) for s in raw["shapes"]))


def build_model(spec: ModelSpec, seed: int = 0, dtype: torch.dtype = torch.float32) -> nn.Module:
    """Build and initialise a model; the seed fixes the init without touching global RNG state."""
    check_kind_and_activation(spec)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = MODEL_KINDS[spec.kind](spec)
    return model.to(dtype)


def perturb_parameters(model: nn.Module, scale: float, seed: int) -> nn.Module:
    """In place, w -> w * (1 + scale * e) with e ~ N(0, 1) per entry, from a generator seeded with `seed`.

    The product is formed in float64 and rounded once to the parameter's dtype, so scale ~1e-7 moves
    float32 weights by about one rounding step. scale 0 leaves the model untouched (bitwise).
    """
    if scale == 0:
        return model
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in model.parameters():  # named_parameters() order: fixed by the layout
            noise = torch.randn(param.shape, generator=generator, dtype=torch.float64)
            exact = param.detach().cpu().to(torch.float64) * (1.0 + scale * noise)
            param.copy_(exact.to(param.dtype))
    return model


def model_spec_from_dict(raw: dict) -> ModelSpec:
    known = {f.name for f in dataclasses.fields(ModelSpec)}
    unknown = set(raw) - known
    if unknown:
        raise ConfigError(f"model spec has unknown fields {sorted(unknown)}")
    return ModelSpec(**raw)


def param_layout(model: nn.Module) -> ParamLayout:
    named = list(model.named_parameters())
    return ParamLayout(tuple(n for n, _ in named), tuple(tuple(p.shape) for _, p in named))


def check_layout(model: nn.Module, stored: dict) -> None:
    """Refuse a rebuilt model whose parameters differ from a run file's layout (e.g. the user's class changed)."""
    try:
        expected = ParamLayout.from_dict(stored)
    except (KeyError, TypeError, ValueError):
        return  # a malformed layout is the reader's to report
    built = param_layout(model)
    if built != expected:
        differ = [f"{n}{list(s)}" for n, s in zip(built.names, built.shapes)
                  if (n, s) not in zip(stored["names"], map(tuple, stored["shapes"]))]
        raise ConfigError(f"the rebuilt model's parameters differ from the run file's layout "
                          f"({len(built.names)} tensors vs {len(stored['names'])}; first differing: "
                          f"{differ[0] if differ else 'the order'})")


def output_layer_names(model: nn.Module) -> tuple[str, ...]:
    """The parameter names of the model's last nn.Linear: an MLP's output layer (last in the flat layout)."""
    linears = [name for name, module in model.named_modules() if isinstance(module, nn.Linear)]
    if not linears:
        raise ConfigError("the model has no nn.Linear layer, so no output layer to train alone")
    return tuple(name for name, _ in model.named_parameters() if name.rpartition(".")[0] == linears[-1])


def trained_names(model: nn.Module, freeze_hidden: bool) -> tuple[str, ...]:
    """The parameters an optimizer updates: the output layer's with freeze_hidden, otherwise all of them."""
    if freeze_hidden:
        return output_layer_names(model)
    return tuple(name for name, _ in model.named_parameters())


def flatten(model: nn.Module) -> torch.Tensor:
    """All parameters concatenated in `named_parameters()` order (a detached copy)."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])


def unflatten(layout: ParamLayout, theta: torch.Tensor) -> dict[str, torch.Tensor]:
    """Split a flat vector into named views shaped like the model's parameters."""
    if theta.numel() != layout.n_params:
        raise ConfigError(f"parameter vector has {theta.numel()} entries, the model needs {layout.n_params}")
    chunks = torch.split(theta, list(layout.sizes))
    return {name: chunk.view(shape) for name, chunk, shape in zip(layout.names, chunks, layout.shapes)}


def load_flat(model: nn.Module, theta: torch.Tensor) -> nn.Module:
    """Copy a flat parameter vector into the model in place."""
    tensors = unflatten(param_layout(model), theta)
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.copy_(tensors[name])
    return model


def functional_forward(model: nn.Module, layout: ParamLayout, theta: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """f(theta, x): the model evaluated at a flat parameter vector, differentiable in theta."""
    return torch.func.functional_call(model, unflatten(layout, theta), (x,))
