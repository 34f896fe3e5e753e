"""What one Hessian checkpoint will cost before it is computed: its HVP budget (the progress bar's total) and a
rough time from one measured HVP, for the progress display and the report's up-front plan."""

from __future__ import annotations

import time

from analyzer.analyses.hessian.params import HessianParams

REORTH_FLOPS_PER_S = 1e10  # full reorthogonalisation (BLAS) speed assumed for the time estimate: rough by design
CALIBRATION_HVPS = 3


def estimated(params: HessianParams, n_params: int) -> bool:
    """Whether the index is the SLQ estimate: asked for, or auto above certify_max_params (never with dense)."""
    from analyzer.analyses.hessian.eigen import resolve_method

    if resolve_method(params.method, n_params, params.k, params.dense_max_params) == "dense":
        return False
    return params.index_method == "estimate" or (params.index_method == "auto" and n_params > params.certify_max_params)


def method_label(params: HessianParams, n_params: int) -> str:
    """How the index will be found at this P, in words (the default is chosen by P: estimated)."""
    from analyzer.analyses.hessian.eigen import resolve_method

    if resolve_method(params.method, n_params, params.k, params.dense_max_params) == "dense":
        return "dense eigenvalues (exact)"
    if estimated(params, n_params):
        why = "asked for" if params.index_method == "estimate" else \
            f"P = {n_params:,} > --certify-max-params {params.certify_max_params:,}"
        return f"SLQ estimate, not certified ({why})"
    return f"certified subspace run up to --krylov-steps {min(params.krylov_steps, n_params):,}, else a bracket"


def checkpoint_budget(params: HessianParams, n_params: int) -> int:
    """HVPs one checkpoint may use: the progress bar's total (a certified run that finishes early stops short)."""
    from analyzer.analyses.hessian.eigen import QUADRATURE_STEPS, resolve_method
    from analyzer.linalg.subspace import PROBES

    if resolve_method(params.method, n_params, params.k, params.dense_max_params) == "dense":
        return n_params
    extremes = min(QUADRATURE_STEPS, params.krylov_steps, n_params) + 2 * params.k
    if estimated(params, n_params):
        return params.slq_probes * min(params.slq_steps, n_params) + extremes
    return min(params.krylov_steps, n_params) + PROBES + extremes


def checkpoint_seconds(params: HessianParams, n_params: int, hvp_seconds: float) -> float:
    """Rough upper bound on one checkpoint's time: its HVP budget, plus the reorthogonalisation of its Krylov
    bases (~2 m^2 P flops for a basis of m vectors)."""
    budget = checkpoint_budget(params, n_params)
    if estimated(params, n_params):
        bases = params.slq_probes * min(params.slq_steps, n_params) ** 2 + min(500, n_params) ** 2
    else:
        bases = min(params.krylov_steps, n_params) ** 2
    return budget * hvp_seconds + 2 * bases * n_params / REORTH_FLOPS_PER_S


def hvp_seconds(run, params: HessianParams) -> float:
    """Seconds per HVP at the run's last checkpoint, from a few products (the first, which builds the graph, not
    counted)."""
    import numpy as np
    import torch

    from analyzer.io.model import loss_closure
    from analyzer.linalg.operators import HessianOperator

    theta = torch.from_numpy(np.asarray(run.params_at(int(run.ckpt_steps[-1])))).to(getattr(torch, params.dtype))
    op = HessianOperator(loss_closure(run, params.dtype), theta)
    probe = np.random.default_rng(0).standard_normal(op.n)
    op.matvec(probe)
    started = time.perf_counter()
    for _ in range(CALIBRATION_HVPS):
        op.matvec(probe)
    return (time.perf_counter() - started) / CALIBRATION_HVPS
