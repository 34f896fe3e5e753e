"""What one Hessian checkpoint will cost before it is computed: its HVP budget (the progress bar's total) and a
rough time from a flop count, for the progress display and the report's up-front plan."""

from __future__ import annotations

from analyzer.analyses.hessian.params import HessianParams
from analyzer.core.progress import duration
from analyzer.errors import BadInputError

REORTH_FLOPS_PER_S = 1e10  # full reorthogonalisation (BLAS) speed assumed for the time estimate: rough by design
# One HVP of a least-squares loss is a forward and a backward pass and their R-operator twins: ~6 matrix products
# per weight, 12 flops per parameter and training output. Speed assumed: 1.5e10 flops/s (measured on one core
# here: 23e9 for the hand-written products of an MLP's live block, 18e9 for autograd's; bench/RESULTS.md).
HVP_FLOPS_PER_PARAM_OUTPUT = 12
HVP_FLOPS_PER_S = 1.5e10
QUADRATURE_STEPS = 500  # Lanczos steps of the index estimate when the certified run hits its cap


def resolve_method(method: str, n_params: int, k: int, dense_max_params: int) -> str:
    """The eigen method used at P = n_params: `auto` is dense up to dense_max_params (or when 2k >= P), else lanczos."""
    if method == "auto":
        return "dense" if n_params <= dense_max_params or 2 * k >= n_params else "lanczos"
    if method == "lanczos" and k >= n_params:
        raise BadInputError(f"lanczos needs k below the parameter count {n_params}, got k = {k}; use --method dense")
    return method


def estimated(params: HessianParams, n_params: int, hvp_s: float = 0.0, n_live: int | None = None) -> bool:
    """Whether the index is the SLQ estimate: asked for, or auto above certify_max_params or when the planned
    certified run would exceed certify_budget_s (never with dense). `hvp_s`: seconds per HVP of the full network
    (hvp_seconds); `n_live`: the parameters the certified run works on at this checkpoint (live.py), default P."""
    return estimate_reason(params, n_params, hvp_s, n_live) != ""


def estimate_reason(params: HessianParams, n_params: int, hvp_s: float = 0.0, n_live: int | None = None) -> str:
    """Why the index is estimated, in words; empty when it is not (dense, or certified)."""
    if resolve_method(params.method, n_params, params.k, params.dense_max_params) == "dense":
        return ""
    if params.index_method != "auto":
        return "asked for" if params.index_method == "estimate" else ""
    if n_params > params.certify_max_params:
        return f"P = {n_params:,} > --certify-max-params {params.certify_max_params:,}"
    planned = certified_seconds(params, n_params, hvp_s, n_live)
    if planned > params.certify_budget_s:
        return f"planned certified run ~{duration(planned)} > --certify-budget-s {params.certify_budget_s:g}"
    return ""


def certified_seconds(params: HessianParams, n_params: int, hvp_s: float, n_live: int | None = None) -> float:
    """Planned time of the certified subspace run at its cap: min(krylov_steps, n) HVPs and their full
    reorthogonalisation (~2 m^2 n flops), on the n = n_live parameters it works on (each HVP then costs
    n_live / P of the full one's), plus its probes and the extremes' fallback."""
    from analyzer.linalg.subspace import PROBES

    n = n_params if n_live is None else min(int(n_live), n_params)
    dimension = min(params.krylov_steps, n)
    hvps = (dimension + PROBES) * hvp_s * n / n_params + 2 * params.k * hvp_s
    return hvps + 2 * dimension ** 2 * n / REORTH_FLOPS_PER_S


def method_label(params: HessianParams, n_params: int, hvp_s: float = 0.0) -> str:
    """How the index will be found at this P, in words (the default is chosen by P and the planned time)."""
    if resolve_method(params.method, n_params, params.k, params.dense_max_params) == "dense":
        return "dense eigenvalues (exact)"
    why = estimate_reason(params, n_params, hvp_s)
    if why.startswith("planned"):  # per checkpoint, dead ReLU units can bring the plan within the budget
        return (f"SLQ estimate, not certified, where the planned certified run exceeds --certify-budget-s "
                f"{params.certify_budget_s:g} (on all P parameters: {why.removeprefix('planned certified run ')}; "
                f"fewer live parameters at a checkpoint lower it), else certified")
    if why:
        return f"SLQ estimate, not certified ({why})"
    return f"certified subspace run up to --krylov-steps {min(params.krylov_steps, n_params):,}, else a bracket"


def checkpoint_budget(params: HessianParams, n_params: int, hvp_s: float = 0.0) -> int:
    """HVPs one checkpoint may use: the progress bar's total (a certified run that finishes early stops short)."""
    from analyzer.linalg.subspace import PROBES

    if resolve_method(params.method, n_params, params.k, params.dense_max_params) == "dense":
        return n_params
    extremes = min(QUADRATURE_STEPS, params.krylov_steps, n_params) + 2 * params.k + params.trace_max_probes
    if estimated(params, n_params, hvp_s):
        return params.slq_probes * min(params.slq_steps, n_params) + extremes
    return min(params.krylov_steps, n_params) + PROBES + extremes


def checkpoint_seconds(params: HessianParams, n_params: int, hvp_seconds: float) -> float:
    """Rough upper bound on one checkpoint's time: its HVP budget, plus the reorthogonalisation of its Krylov
    bases (~2 m^2 P flops for a basis of m vectors)."""
    budget = checkpoint_budget(params, n_params, hvp_seconds)
    if estimated(params, n_params, hvp_seconds):
        bases = params.slq_probes * min(params.slq_steps, n_params) ** 2 + min(500, n_params) ** 2
    else:
        bases = min(params.krylov_steps, n_params) ** 2
    return budget * hvp_seconds + 2 * bases * n_params / REORTH_FLOPS_PER_S


def hvp_seconds(run) -> float:
    """Rough seconds per HVP of the full network from its flop count (parameters x training outputs), not measured:
    the plan is said before anything runs, and measuring needs torch and a built model (~2 s here). The same at
    every dtype: rough by design."""
    return HVP_FLOPS_PER_PARAM_OUTPUT * int(run.n_params) * int(run.data("y_train").size) / HVP_FLOPS_PER_S
