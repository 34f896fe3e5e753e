"""Parameters of the activations analysis (`analyze activations`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from analyzer.errors import BadInputError

MAX_POINTS = 20_000  # an SVD of a 20,000 x 20,000 matrix per activation is already minutes
COMPONENT_INDICES = (0, 4, 5, 9)  # the principal components seed 002 plots (figs. 4-5)


@dataclass(frozen=True)
class ActivationsParams:
    """Options of `analyze activations`."""

    sigma: float = field(default=15.0, metadata={"help": "Scale sigma in A = eta(sigma (x - b^T)) (seed 002 uses "
                                                         "15 and 30)."})
    n: int = field(default=1000, metadata={"help": "Sample points x, uniform on [0, 1] (rows of A; seed 002: 5000)."})
    n_biases: int = field(default=0, metadata={"help": "Biases b, uniform on [0, 1] (columns of A); 0: as many as "
                                                       "points."})

    def __post_init__(self):
        if not (isinstance(self.sigma, (int, float)) and math.isfinite(self.sigma) and self.sigma > 0):
            raise BadInputError(f"activations: sigma must be a positive number, got {self.sigma}")
        smallest = max(COMPONENT_INDICES) + 1
        if not (isinstance(self.n, int) and smallest <= self.n <= MAX_POINTS):
            raise BadInputError(f"activations: n must be an integer from {smallest} to {MAX_POINTS}, got {self.n}")
        if not (isinstance(self.n_biases, int) and (self.n_biases == 0 or smallest <= self.n_biases <= MAX_POINTS)):
            raise BadInputError(f"activations: n_biases must be 0 or an integer from {smallest} to {MAX_POINTS}, "
                                f"got {self.n_biases}")

    @property
    def bias_count(self) -> int:
        return self.n_biases or self.n
