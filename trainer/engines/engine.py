"""Training engines behind one small face: `torch` (autograd + torch.optim) and `fused` (trainer.engines.fused).

An engine evaluates loss, gradient norm and predictions at the current parameters, applies one
optimizer update, and hands out flat parameters and the packed optimizer state for checkpoints. The
torch engine covers every model, activation and device; the fused engine covers ReLU MLPs on CPU and
gives the same bits there (tests/trainer/test_fused.py). `auto` picks fused where it applies.
"""

from __future__ import annotations

from typing import Protocol

import numpy as np
import torch

from trainer import optim
from trainer.config import TrainConfig
from trainer.errors import ConfigError
from trainer.engines.fused import FusedMLP, unsupported_reason
from trainer.models import flatten, load_flat, trained_names

ENGINES = ("auto", "fused", "torch")


class Engine(Protocol):
    """What the training loop needs from a step implementation."""

    def evaluate(self) -> tuple[float, float, torch.Tensor]:
        """Loss, gradient norm and predictions on the training grid at the current parameters."""

    def update(self) -> None:
        """One optimizer update with the gradient `evaluate` left behind."""

    def flat_params(self) -> torch.Tensor: ...

    def pack_state(self) -> np.ndarray: ...

    def load(self, params: np.ndarray, state: np.ndarray | None) -> None: ...

    def predict(self, x: torch.Tensor) -> torch.Tensor: ...


def make_optimizer(config: TrainConfig, model: torch.nn.Module) -> torch.optim.Optimizer:
    """The config's optimizer as torch.optim builds it (its record in trainer/optim/)."""
    return optim.get(config.optimizer).make_torch(model.parameters(), lr=config.lr)


class TorchEngine:
    """autograd + torch.optim on an nn.Module: every model kind, activation and device.

    With freeze_hidden the hidden parameters get no gradient (requires_grad off), so the optimizer, which
    still holds every parameter (the resume vector keeps its layout), skips them and they keep their bits.
    """

    def __init__(self, config: TrainConfig, model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor):
        self.model, self.x, self.y = model, x, y
        trained = set(trained_names(model, config.freeze_hidden))
        for name, param in model.named_parameters():
            param.requires_grad_(name in trained)
        self.optimizer = make_optimizer(config, model)
        self.params = [p for name, p in model.named_parameters() if name in trained]

    def evaluate(self) -> tuple[float, float, torch.Tensor]:
        """Loss, gradient norm and predictions at the current parameters (gradients kept for `update`)."""
        self.optimizer.zero_grad(set_to_none=True)
        out = self.model(self.x)
        loss = torch.mean((out - self.y) ** 2)
        loss.backward()
        # one cat + one norm: the cheapest exact total norm for a handful of tensors (bench/RESULTS.md)
        grad_norm = torch.linalg.vector_norm(torch.cat([p.grad.reshape(-1) for p in self.params]))
        return loss.item(), grad_norm.item(), out.detach()

    def update(self) -> None:
        self.optimizer.step()

    def flat_params(self) -> torch.Tensor:
        return flatten(self.model)

    def pack_state(self) -> np.ndarray:
        return optim.pack_optimizer_state(self.optimizer)

    def load(self, params: np.ndarray, state: np.ndarray | None) -> None:
        load_flat(self.model, torch.from_numpy(params).to(self.x.device))
        if state is not None:
            optim.unpack_optimizer_state(self.optimizer, state)

    def predict(self, x: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            return self.model(x)


def choose_engine(config: TrainConfig, engine: str = "auto") -> str:
    """The engine that will train `config`: `auto` is fused where it applies, torch elsewhere."""
    if engine not in ENGINES:
        raise ConfigError(f"unknown engine {engine!r}; choose one of {', '.join(ENGINES)}")
    reason = unsupported_reason(config)
    if engine == "fused" and reason is not None:
        raise ConfigError(f"the fused engine does not cover {reason}; use --engine torch or auto")
    if engine == "auto":
        return "fused" if reason is None else "torch"
    return engine


def make_engine(name: str, config: TrainConfig, model: torch.nn.Module, x: torch.Tensor,
                y: torch.Tensor) -> Engine:
    """Build the engine `choose_engine` picked, starting from the parameters in `model`."""
    return FusedMLP(config, model, x, y) if name == "fused" else TorchEngine(config, model, x, y)
