"""Optimizers, one record per file (trainer/optim/base.py): `get(name)` is the record of a config's optimizer.

Adding an optimizer: a file with its record, and one line in `_RECORDS` below.
"""

from __future__ import annotations

import numpy as np

from trainer.optim.adam import ADAM
from trainer.optim.base import Optimizer, OptimState, UnknownOptimizer
from trainer.optim.sgd import SGD_PLAIN

_RECORDS: tuple[Optimizer, ...] = (
    ADAM,
    SGD_PLAIN,
)
REGISTRY: dict[str, Optimizer] = {record.name: record for record in _RECORDS}
NAMES: tuple[str, ...] = tuple(REGISTRY)

__all__ = ["NAMES", "REGISTRY", "Optimizer", "OptimState", "UnknownOptimizer", "get", "for_torch", "pack_optimizer_state",
           "unpack_optimizer_state"]


def get(name) -> Optimizer:
    """The record named `name`; an `UnknownOptimizer` (is_plain_gd None, refuses to train) for any other name,
    e.g. an imported run's "Adam" or a run with none recorded (None, "")."""
    record = REGISTRY.get(name) if isinstance(name, str) else None
    if record is not None:
        return record
    return UnknownOptimizer(name=str(name or "unknown"), summary="not a trainer optimizer", choices=NAMES)


def for_torch(optimizer) -> Optimizer | None:
    """The record whose torch class `optimizer` is an instance of (a user's optimizer given to the logger)."""
    return next((record for record in _RECORDS if isinstance(optimizer, record.torch_class())), None)


def pack_optimizer_state(optimizer: torch.optim.Optimizer) -> np.ndarray:
    """A torch optimizer's resume vector in its record's layout (trainer/optim/base.py); empty without a record."""
    record = for_torch(optimizer)
    return np.zeros(0) if record is None else record.pack_torch(optimizer)


def unpack_optimizer_state(optimizer: torch.optim.Optimizer, vector: np.ndarray) -> None:
    """Load a resume vector packed by `pack_optimizer_state` (or an engine) into `optimizer`."""
    record = for_torch(optimizer)
    if record is not None:
        record.unpack_torch(optimizer, vector)
