"""Helpers shared by the tests (importable as `helpers`; pytest puts tests/ on sys.path)."""

from __future__ import annotations

import dataclasses

from trainer.config import PRESETS, TrainConfig


def small_config(preset: str = "baseline", **changes) -> TrainConfig:
    """A preset shrunk so that a run takes well under a second."""
    config = PRESETS[preset]
    model = dataclasses.replace(config.model, width=min(config.model.width, 16))
    target = dataclasses.replace(config.target, n_train=128)
    base = dataclasses.replace(config, model=model, target=target, epochs=200)
    return dataclasses.replace(base, **changes)
