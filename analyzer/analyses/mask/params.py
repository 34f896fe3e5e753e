"""Options of `analyze mask`."""

from __future__ import annotations

from dataclasses import dataclass, field

from analyzer.errors import BadInputError


@dataclass(frozen=True)
class MaskParams:
    rank_tol: float = field(default=1e-10, metadata={
        "help": "Singular directions with s <= rank_tol s_max are left out (J's numerical null space, m = 0)."})
    min_component: float = field(default=1e-6, metadata={
        "help": "Directions whose target component |u_i^T (y - f_0)| is below this fraction of ||y - f_0|| get "
                "no observed fraction (0/0)."})
    max_samples: int = field(default=64, metadata={
        "help": "Stored steps kept for the figures and the coefficient arrays (log-spaced)."})
    max_jacobian_gb: float = field(default=2.0, metadata={"help": "Refuse when J would need more memory."})

    def __post_init__(self):
        for name in ("rank_tol", "min_component", "max_jacobian_gb"):
            if not getattr(self, name) > 0:
                raise BadInputError(f"mask: {name} must be positive, got {getattr(self, name)!r}")
        if not self.rank_tol < 1:
            raise BadInputError(f"mask: rank_tol must be below 1, got {self.rank_tol!r}")
        if self.max_samples < 2:
            raise BadInputError(f"mask: max_samples must be at least 2, got {self.max_samples!r}")
