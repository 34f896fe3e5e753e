"""Options of `analyze ntk`."""

from __future__ import annotations

from dataclasses import dataclass, field

from analyzer.errors import BadInputError
from analyzer.linalg.ntk import ROUTES


@dataclass(frozen=True)
class NtkParams:
    step: int | None = field(default=None, metadata={
        "help": "Checkpoint step whose kernel is analysed (default: the first stored)."})
    route: str = field(default="auto", metadata={
        "help": "jacobian (K = J J^T, all eigenpairs), matrix-free (jvp/vjp + Lanczos, top-k) or auto "
                "(jacobian when J and K fit in max-jacobian-gb)."})
    top_k: int = field(default=100, metadata={
        "help": "Eigendirections in the table, largest eigenvalue first; 0: all (jacobian route only)."})
    max_jacobian_gb: float = field(default=2.0, metadata={"help": "auto: memory J or K may take."})
    drift_every: int = field(default=1, metadata={
        "help": "Kernel drift at every n-th stored checkpoint; 0: no drift curve."})
    drift_probes: int = field(default=16, metadata={
        "help": "matrix-free route: Gaussian probes of the sketched drift ||(K_t - K) Z|| / ||K Z||."})
    min_component: float = field(default=1e-6, metadata={
        "help": "No observed rate along directions whose initial residual component is below this fraction "
                "of ||r_0||."})
    rate_floor: float = field(default=1e-3, metadata={
        "help": "Observed rates are fitted until a component first falls below this fraction of its start."})
    max_samples: int = field(default=200, metadata={"help": "Prediction steps kept for the figures (log-spaced)."})
    seed: int = field(default=0, metadata={"help": "Seed of the Lanczos start vector and drift probes."})

    def __post_init__(self):
        if self.step is not None and (isinstance(self.step, bool) or int(self.step) != self.step or self.step < 0):
            raise BadInputError(f"ntk: step must be a stored checkpoint step (>= 0), got {self.step!r}")
        if self.route not in ROUTES:
            raise BadInputError(f"ntk: route must be one of {', '.join(ROUTES)}, got {self.route!r}")
        for name in ("top_k", "drift_every", "seed"):
            if getattr(self, name) < 0:
                raise BadInputError(f"ntk: {name} must be zero or positive, got {getattr(self, name)!r}")
        for name in ("drift_probes", "max_samples"):
            if getattr(self, name) < 1:
                raise BadInputError(f"ntk: {name} must be at least 1, got {getattr(self, name)!r}")
        for name in ("max_jacobian_gb", "min_component", "rate_floor"):
            if not getattr(self, name) > 0:
                raise BadInputError(f"ntk: {name} must be positive, got {getattr(self, name)!r}")
        if not self.rate_floor < 1:
            raise BadInputError(f"ntk: rate_floor must be below 1, got {self.rate_floor!r}")
        if self.route == "matrix-free" and self.top_k == 0:
            raise BadInputError("ntk: top_k must be positive on the matrix-free route (it computes the top k)")
