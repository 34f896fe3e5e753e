"""A run's optimizer as the analyzer reads it: the trainer's record (trainer/optim/) for the name in its config."""

from __future__ import annotations

from trainer import optim


def is_plain_gd(optimizer: str | None) -> bool:
    """Runs trained with the optimizer named so are plain full-batch gradient descent at a fixed rate.

    False when the record says otherwise and when no record covers the name (an imported run's "Adam", or none
    recorded): the closed-form GD results are then not claimed for it.
    """
    return optim.get(optimizer).is_plain_gd is True


def plain_gd_names() -> str:
    """The optimizer names that are plain gradient descent, for messages ("sgd")."""
    return " or ".join(name for name, record in optim.REGISTRY.items() if record.is_plain_gd)
