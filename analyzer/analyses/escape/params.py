"""Options of the escape analysis (`analyze escape`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from analyzer.core.params import param, validate


@dataclass(frozen=True)
class EscapeParams:
    """Options of `analyze escape`; each field's help is its documentation (see analyzer/core/params.py)."""

    analysis: ClassVar[str] = "escape"

    index_tol: float = param(1e-6, "Negative-curvature eigenvectors: eigenvalues below -index_tol x max |eigenvalue| "
                                   "(the Hessian analysis' rule).", above=0)
    n_frequency: int = param(3, "Most negative eigenvectors v whose function-space direction J v is read on the "
                                "Fourier basis.", minimum=1)
    dense_max_params: int = param(100, "Up to this many parameters the Hessian is dense (LAPACK); above, the "
                                       "certified subspace run (its Ritz vectors).", minimum=1)
    krylov_steps: int = param(5000, "Cap on the certified subspace run; an uncertified run fails the analysis.",
                              minimum=1)
    match_factor: float = param(1.25, "Control displacement: its loss drop (decades) and its span (decades of "
                                      "log-step) match the escape's when within this factor of them.", above=1)
    control_starts: int = param(3, "Control displacement: the Hessian is computed at up to this many candidate "
                                   "start checkpoints and the one with the closest number of negative eigenvalues "
                                   "to the escape's is kept.", minimum=1)
    dtype: str = param("float64", "Precision of the Hessian-vector products.", choices=("float32", "float64"))
    seed: int = param(0, "Seed of the subspace run's start vectors and probes.")

    def __post_init__(self):
        validate(self)
