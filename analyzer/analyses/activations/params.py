"""Parameters of the activations analysis (`analyze activations`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from analyzer.core.params import param, validate

MAX_POINTS = 20_000  # an SVD of a 20,000 x 20,000 matrix per activation is already minutes
COMPONENT_INDICES = (0, 4, 5, 9)  # the principal components Lucey plots (figs. 4-5)
MIN_POINTS = max(COMPONENT_INDICES) + 1


@dataclass(frozen=True)
class ActivationsParams:
    """Options of `analyze activations`; each field's help is its documentation."""

    analysis: ClassVar[str] = "activations"

    sigma: float = param(15.0, "Scale sigma in A = eta(sigma (x - b^T)) (Lucey uses 15 and 30).", above=0)
    n: int = param(1000, "Sample points x, uniform on [0, 1] (rows of A; Lucey: 5000).", minimum=MIN_POINTS,
                   maximum=MAX_POINTS)
    n_biases: int = param(0, f"Biases b, uniform on [0, 1] (columns of A), 0 or {MIN_POINTS} to {MAX_POINTS}; "
                             "0: as many as points.", minimum=0, maximum=MAX_POINTS)

    def __post_init__(self):
        validate(self)
        if 0 < self.n_biases < MIN_POINTS:
            from analyzer.core.params import fail

            fail(self, "n_biases", f"0 or from {MIN_POINTS} to {MAX_POINTS}", self.n_biases)

    @property
    def bias_count(self) -> int:
        return self.n_biases or self.n
