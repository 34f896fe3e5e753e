"""The study's claims, in the order the report shows them: one module each (a `Claim` subclass named CLAIM).

Adding a claim is a module in this package defining `CLAIM = MyClaim()` plus its name on one line of BUILTIN.
"""

from __future__ import annotations

import importlib

from analyzer.study.claims.base import Claim, ClaimJob, Verdict

BUILTIN = (
    "spectral_bias",
    "plateaus_appear",
    "stall",
    "jumps_near_escapes",
    "jumps_near_edges",
    "decoupled",
    "saddles",
    "escape_directions",
    "noise_floor",
    "twin_contrast",
    "kernel_drift_scaling",
    "rate_proportional_to_eigenvalue",
    "rates_ordered_by_degree",
    "damped_deviations",
    "gd_mask_bandwidth",
)

_loaded: dict[str, Claim] = {}

__all__ = ["BUILTIN", "Claim", "ClaimJob", "Verdict", "all_claims", "get"]


def get(claim_id: str) -> Claim:
    """The claim registered under `claim_id` (a module of this package)."""
    if claim_id not in _loaded:
        if claim_id not in BUILTIN:
            raise KeyError(f"unknown claim {claim_id!r}; known: {', '.join(BUILTIN)}")
        claim = importlib.import_module(f"analyzer.study.claims.{claim_id}").CLAIM
        if claim.id != claim_id:
            raise RuntimeError(f"analyzer/study/claims/{claim_id}.py registers {claim.id!r}")
        _loaded[claim_id] = claim
    return _loaded[claim_id]


def all_claims() -> list[Claim]:
    """Every built-in claim, in BUILTIN order."""
    return [get(name) for name in BUILTIN]
