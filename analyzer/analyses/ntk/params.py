"""Options of the ntk analysis (`analyze ntk`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Optional

from analyzer.core.params import fail, param, validate

ROUTES = ("auto", "jacobian", "matrix-free")  # analyzer.linalg.kernel.ROUTES, restated here to keep torch unimported


@dataclass(frozen=True)
class NtkParams:
    """Options of `analyze ntk`; each field's help is its documentation (see analyzer/core/params.py)."""

    analysis: ClassVar[str] = "ntk"

    step: Optional[int] = param(None, "Checkpoint step whose kernel is analysed (default: the first stored).",
                                minimum=0)
    route: str = param("auto", "jacobian (K = J J^T, all eigenpairs), matrix-free (jvp/vjp + Lanczos, top-k) or "
                               "auto (jacobian when J and K fit in max-jacobian-gb).", choices=ROUTES)
    top_k: int = param(100, "Eigendirections in the table, largest eigenvalue first; 0: all (jacobian route only).",
                       minimum=0)
    max_jacobian_gb: float = param(2.0, "auto: memory J or K may take, in GiB.", above=0)
    drift_every: Optional[int] = param(None, "Kernel drift at every n-th stored checkpoint (1: all of them); 0: no "
                                             "drift curve; default: drift-points checkpoints, log-spaced.", minimum=0)
    drift_points: int = param(40, "Default drift curve: this many stored checkpoints at most, log-spaced in step "
                                  "(the first and last included).", minimum=2)
    drift_probes: int = param(16, "matrix-free route: Gaussian probes of the sketched drift ||(K_t - K) Z|| / "
                                  "||K Z||.", minimum=1)
    min_component: float = param(1e-6, "No observed rate along directions whose initial residual component is "
                                        "below this fraction of ||r_0||.", above=0)
    rate_floor: float = param(1e-3, "Observed rates are fitted until a component first falls below this fraction "
                                    "of its start.", above=0, below=1)
    max_samples: int = param(200, "Prediction steps kept for the figures (log-spaced).", minimum=1)
    seed: int = param(0, "Seed of the Lanczos start vector and drift probes.", minimum=0)

    def __post_init__(self):
        validate(self)
        if self.route == "matrix-free" and self.top_k == 0:
            fail(self, "top_k", "positive on the matrix-free route (it computes the top k)", self.top_k)
