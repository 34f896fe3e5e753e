"""Options of the score analysis (`analyze score`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from analyzer.core.params import param, validate


@dataclass(frozen=True)
class ScoreParams:
    """Options of `analyze score`; each field's help is its documentation (see analyzer/core/params.py).

    index_tol's default sits between the model's tiniest true negative curvature (-2 c^2 u0^2) and float64
    rounding.
    """

    analysis: ClassVar[str] = "score"

    edge_tolerance: float = param(0.05, "Plateau edges are right within this fraction of the plateau length.",
                                  above=0)
    alpha: float = param(0.01, "Level the correlation test must reject at (required with >= 3 predicted plateaus).",
                         above=0, below=1)
    index_tol: float = param(1e-12, "Relative Hessian index tolerance, passed to the Hessian analysis.", above=0)
    lambda_rtol: float = param(1e-6, "Relative tolerance of lambda_min.", above=0)

    def __post_init__(self):
        validate(self)
