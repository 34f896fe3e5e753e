"""A timed probe of the Hessian-vector product at plan time, for the printed time estimate only.

The up-front plan of `analyze report` and `analyze study` multiplies an expected HVP count (cost.py) by a time per
HVP. A flop count cannot know the machine's speed or load (under load an HVP took ~60x its flop count's figure,
bench/RESULTS.md), so the plan rebuilds the run's model at one checkpoint and times a few products of the operator
the certified run will use there: the live block's hand-made products (live.py, linalg/operators/mlp_hessian.py)
for a plain ReLU MLP, else autograd's `HessianOperator`. One thread, as the workers compute
(analyses/hessian/compute.part). No result reads it: the index route (cost.estimate_reason) stays on the flop
count, so results never depend on the machine's load.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

PROBE_HVPS = 3  # products timed (their median), after WARM_UP_HVPS untimed ones
WARM_UP_HVPS = 1


@dataclass(frozen=True)
class HvpProbe:
    """Seconds per HVP of the operator the certified run uses at `step`, and its size there."""

    seconds: float  # median of PROBE_HVPS timed products
    step: int
    n_live: int  # parameters the products work on (the live block's; P when there is none)
    n_params: int
    flops_per_s: float  # the BLAS speed of one reorthogonalisation-sized product, timed beside the HVPs


def probe_hvp(run, step: int, dtype: str = "float64", seed: int = 0) -> HvpProbe | None:
    """Time PROBE_HVPS products at `step` after WARM_UP_HVPS; None when the model cannot be rebuilt or its
    products fail (the caller falls back on the flop count)."""
    try:
        import numpy as np
        import torch

        from analyzer.curvature.live import live_subnetwork
        from analyzer.io.model import loss_closure
        from analyzer.linalg.operators.hessian import HessianOperator
        from trainer.engines.loop import one_thread

        with one_thread():
            theta = torch.from_numpy(np.asarray(run.params_at(step))).to(getattr(torch, dtype))
            live = live_subnetwork(run, theta)
            op = live.operator() if live is not None else HessianOperator(loss_closure(run, dtype), theta)
            vectors = np.random.default_rng(seed).standard_normal((WARM_UP_HVPS + PROBE_HVPS, op.n))
            timed = []
            for i, v in enumerate(vectors):
                started = time.perf_counter()
                op.matvec(v)
                if i >= WARM_UP_HVPS:
                    timed.append(time.perf_counter() - started)
            flops_per_s = _gemm_flops_per_s(op.n, np)
    except Exception:  # noqa: BLE001 -- any failure to rebuild or run the model: the plan keeps its flop count
        return None
    return HvpProbe(float(np.median(timed)), int(step), int(op.n), int(run.n_params), flops_per_s)


def _gemm_flops_per_s(n: int, np, rows: int = 256, block: int = 32) -> float:
    """Flops per second of a (rows x n) by (n x block) product, the shape of a block's reorthogonalisation against
    the basis (linalg/subspace.py), best of 3."""
    basis, vectors = np.ones((rows, n)), np.ones((n, block))
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        basis @ vectors
        best = min(best, time.perf_counter() - started)
    return 2 * rows * n * block / max(best, 1e-9)


@dataclass
class HvpTimings:
    """The probes of one plan, one per run (memoized by the run's path): a study plans two Hessian jobs per run."""

    measure: bool = True  # False: never probe (the plan then says "flop count")
    probes: dict = field(default_factory=dict)

    def of(self, run, step: int, dtype: str = "float64") -> HvpProbe | None:
        if not self.measure:
            return None
        key = str(getattr(run, "path", id(run)))
        if key not in self.probes:
            self.probes[key] = probe_hvp(run, step, dtype)
        return self.probes[key]
