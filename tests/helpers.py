"""Helpers shared by the tests (importable as `helpers`; pytest puts tests/ on sys.path)."""

from __future__ import annotations

import dataclasses

from trainer.config import PRESETS, TargetSpec, TrainConfig


def small_config(preset: str = "baseline", **changes) -> TrainConfig:
    """A preset shrunk so that a run takes well under a second."""
    config = PRESETS[preset]
    model = dataclasses.replace(config.model, width=min(config.model.width, 16))
    target = dataclasses.replace(config.target, n_train=128)
    base = dataclasses.replace(config, model=model, target=target, epochs=200)
    return dataclasses.replace(base, **changes)


def sphere_config(degrees=(2,), amps=(1.0,), **changes) -> TrainConfig:
    """A small full-batch GD run of a one-hidden-layer ReLU net on harmonics of S^2 (well under a second)."""
    config = small_config(epochs=80, optimizer="sgd", lr=0.01)
    target = TargetSpec(kind="harmonics", freqs_hz=(), amps=amps, degrees=degrees, input_dim=3, n_train=150)
    model = dataclasses.replace(config.model, in_dim=3, depth=1, width=64)
    return dataclasses.replace(config, **({"target": target, "model": model} | changes))
