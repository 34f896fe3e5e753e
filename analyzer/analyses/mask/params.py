"""Options of the mask analysis (`analyze mask`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from analyzer.core.params import param, validate


@dataclass(frozen=True)
class MaskParams:
    """Options of `analyze mask`; each field's help is its documentation (see analyzer/core/params.py)."""

    analysis: ClassVar[str] = "mask"

    rank_tol: float = param(1e-10, "Singular directions with s <= rank_tol s_max are left out (J's numerical null "
                                   "space, m = 0).", above=0, below=1)
    min_component: float = param(1e-6, "Directions whose target component |u_i^T (y - f_0)| is below this "
                                        "fraction of ||y - f_0|| get no observed fraction (0/0).", above=0)
    max_samples: int = param(64, "Stored steps kept for the figures and the coefficient arrays (log-spaced).",
                             minimum=2)
    max_jacobian_gb: float = param(2.0, "Refuse when J would need more memory, in GiB.", above=0)

    def __post_init__(self):
        validate(self)
