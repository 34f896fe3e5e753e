"""What one Hessian checkpoint will cost before it is computed: its HVP budget (the progress bar's total), the route
(certify or estimate, from a flop count: deterministic), and the plans' expected time (expected HVPs at a per-HVP
time that hvp_timing.py times on the run's model, or the flop count's). No torch.

`params` below is the Hessian analysis' options (analyses/hessian/params.py: `HessianParams`); these functions read
its solver fields (method, k, dense_max_params, index_method, certify_max_params, certify_budget_s, krylov_steps,
slq_probes, slq_steps, trace_max_probes)."""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.core.progress import duration
from analyzer.errors import BadInputError

REORTH_FLOPS_PER_S = 1e10  # full reorthogonalisation (BLAS) speed assumed for the time estimate: rough by design
# One HVP of a least-squares loss is a forward and a backward pass and their R-operator twins: ~6 matrix products
# per weight, 12 flops per parameter and training output. Speed assumed: 1.5e10 flops/s (measured on one core
# here: 23e9 for the hand-written products of an MLP's live block, 18e9 for autograd's; bench/RESULTS.md).
HVP_FLOPS_PER_PARAM_OUTPUT = 12
HVP_FLOPS_PER_S = 1.5e10
QUADRATURE_STEPS = 500  # Lanczos steps of the index estimate when the certified run hits its cap
TWIN_METHOD = "twin-gram"  # a linearised twin's exact route (twin.py), no HVP: linalg.gram.GRAM_METHOD (torch)
EIGH_FLOPS_PER_N3 = 10  # eigenvalues of a symmetric n x n matrix: tridiagonal reduction and QR, ~4/3..10 n^3
MAX_DENSE_GB = 4.0  # default memory cap of a dense Hessian, and of a twin's J_0 and its Gram matrix


@dataclass(frozen=True)
class CheckpointPlan:
    """A heavy analysis' line in an up-front plan (`Hooks.estimate`): the Hessian checkpoints it will visit on a run
    and their rough cost; n_checkpoints 0 when none are counted or not estimated (`text` says why)."""

    n_checkpoints: int
    seconds_each: float
    text: str
    seconds_once: float = 0.0  # a linearised twin's Jacobian and eigensystem, computed once for the run

    @property
    def seconds(self) -> float:
        return self.seconds_once + self.n_checkpoints * self.seconds_each


def resolve_method(method: str, n_params: int, k: int, dense_max_params: int, twin: bool = False) -> str:
    """The eigen method used at P = n_params: `auto` is twin-gram for a linearised twin, else dense up to
    dense_max_params (or when 2k >= P), else lanczos."""
    if method == TWIN_METHOD and not twin:
        raise BadInputError("--method twin-gram needs a linearised twin (`train run --linearize`); this run is a "
                            "network: use auto, dense or lanczos")
    if method == "auto":
        if twin:
            return TWIN_METHOD
        return "dense" if n_params <= dense_max_params or 2 * k >= n_params else "lanczos"
    if method == "lanczos" and k >= n_params:
        raise BadInputError(f"lanczos needs k below the parameter count {n_params}, got k = {k}; use --method dense")
    return method


def estimated(params, n_params: int, hvp_s: float = 0.0, n_live: int | None = None,
              twin: bool = False) -> bool:
    """Whether the index is the SLQ estimate: asked for, or auto above certify_max_params or when the planned
    certified run would exceed certify_budget_s (never with dense or twin-gram). `hvp_s`: seconds per HVP of the
    full network (hvp_seconds); `n_live`: the parameters the certified run works on at this checkpoint (live.py),
    default P."""
    return estimate_reason(params, n_params, hvp_s, n_live, twin) != ""


def estimate_reason(params, n_params: int, hvp_s: float = 0.0, n_live: int | None = None,
                    twin: bool = False) -> str:
    """Why the index is estimated, in words; empty when it is not (dense, twin-gram, or certified)."""
    if resolve_method(params.method, n_params, params.k, params.dense_max_params, twin) in ("dense", TWIN_METHOD):
        return ""
    if params.index_method != "auto":
        return "asked for" if params.index_method == "estimate" else ""
    if n_params > params.certify_max_params:
        return f"P = {n_params:,} > --certify-max-params {params.certify_max_params:,}"
    planned = certified_seconds(params, n_params, hvp_s, n_live)
    if planned > params.certify_budget_s:
        return f"planned certified run ~{duration(planned)} > --certify-budget-s {params.certify_budget_s:g}"
    return ""


def certified_seconds(params, n_params: int, hvp_s: float, n_live: int | None = None) -> float:
    """Planned time of the certified subspace run at its cap: min(krylov_steps, n) HVPs and their full
    reorthogonalisation (~2 m^2 n flops), on the n = n_live parameters it works on (each HVP then costs
    n_live / P of the full one's), plus its probes and the extremes' fallback."""
    from analyzer.linalg.subspace import PROBES

    n = n_params if n_live is None else min(int(n_live), n_params)
    per_live = hvp_s * n / n_params
    return certified_run_seconds(min(params.krylov_steps, n), n, per_live) + PROBES * per_live + 2 * params.k * hvp_s


def method_label(params, n_params: int, hvp_s: float = 0.0, twin: bool = False) -> str:
    """How the index will be found at this P, in words (the default is chosen by P and the planned time)."""
    chosen = resolve_method(params.method, n_params, params.k, params.dense_max_params, twin)
    if chosen == TWIN_METHOD:
        return "exact eigenvalues of the twin's (2 / (N o)) J_0^T J_0, once per run (certified, no HVP)"
    if chosen == "dense":
        return "dense eigenvalues (exact)"
    why = estimate_reason(params, n_params, hvp_s)
    if why.startswith("planned"):  # per checkpoint, dead ReLU units can bring the plan within the budget
        return (f"SLQ estimate, not certified, where the planned certified run exceeds --certify-budget-s "
                f"{params.certify_budget_s:g} (on all P parameters: {why.removeprefix('planned certified run ')}; "
                f"fewer live parameters at a checkpoint lower it), else certified")
    if why:
        return f"SLQ estimate, not certified ({why})"
    return f"certified subspace run up to --krylov-steps {min(params.krylov_steps, n_params):,}, else a bracket"


def checkpoint_budget(params, n_params: int, hvp_s: float = 0.0, twin: bool = False) -> int:
    """HVPs one checkpoint may use: the progress bar's total (a certified run that finishes early stops short)."""
    from analyzer.linalg.subspace import PROBES

    chosen = resolve_method(params.method, n_params, params.k, params.dense_max_params, twin)
    if chosen == TWIN_METHOD:
        return 0
    if chosen == "dense":
        return n_params
    extremes = min(QUADRATURE_STEPS, params.krylov_steps, n_params) + 2 * params.k + params.trace_max_probes
    if estimated(params, n_params, hvp_s):
        return params.slq_probes * min(params.slq_steps, n_params) + extremes
    return min(params.krylov_steps, n_params) + PROBES + extremes


def checkpoint_seconds(params, n_params: int, hvp_seconds: float, twin: bool = False,
                       n_live: int | None = None, hidden_layers: int | None = None, live_hvp_s: float | None = None,
                       reorth_flops_per_s: float = REORTH_FLOPS_PER_S) -> float:
    """Expected time of one checkpoint, for the plan: its expected HVPs (expected_hvps, not the cap) at the time of
    one, plus the reorthogonalisation of its Krylov bases (~2 m^2 n flops for a basis of m vectors of length n).
    A twin's: its gradient and the 5 of the cost column, each counted as one HVP (its spectrum: twin_seconds).

    Args:
        hvp_seconds: per HVP of the full network by the flop count (hvp_seconds()): it alone picks the route
            (estimate_reason), so the route never depends on a timing.
        n_live, hidden_layers: the certified run's parameters and the ReLU MLP's hidden layers (expected_hvps).
        live_hvp_s: per HVP of the operator the certified run uses (the live block), timed by hvp_timing.py; None: the
            flop count's, scaled by n_live / P. The SLQ route works on all P: live_hvp_s x P / n_live.
        reorth_flops_per_s: the BLAS speed of the reorthogonalisation (hvp_timing.py times it; default the assumed one).
    """
    chosen = resolve_method(params.method, n_params, params.k, params.dense_max_params, twin)
    if chosen == TWIN_METHOD:
        return 6 * (hvp_seconds if live_hvp_s is None else live_hvp_s)
    n = n_params if n_live is None else min(int(n_live), n_params)
    per_live = hvp_seconds * n / n_params if live_hvp_s is None else live_hvp_s
    if chosen == "dense" or estimate_reason(params, n_params, hvp_seconds, n_live):
        budget = checkpoint_budget(params, n_params, hvp_seconds)
        bases = params.slq_probes * min(params.slq_steps, n_params) ** 2 + min(QUADRATURE_STEPS, n_params) ** 2
        return budget * per_live * n_params / n + 2 * bases * n_params / reorth_flops_per_s
    expected = expected_hvps(params.krylov_steps, n_params, n, hidden_layers)
    return certified_run_seconds(expected, n, per_live, reorth_flops_per_s)


def certified_run_seconds(dimension: float, n: int, hvp_s: float, flops_per_s: float = REORTH_FLOPS_PER_S) -> float:
    """A certified subspace run of `dimension` HVPs (hvp_s each) on n parameters and its full reorthogonalisation."""
    return dimension * hvp_s + 2 * dimension ** 2 * n / flops_per_s


# The certified run stops at an invariant subspace: its HVPs follow the Hessian's numerical rank, not the cap. On
# the demo's ReLU MLPs (1-D inputs; bench/RESULTS.md, bench/plan_calibration.py) they were 8 (7.2-9.1) x
# sqrt(live parameters) per hidden-to-hidden layer: baseline/sgd 224-243 HVPs at 710-861 live, wide 360-428 at
# 2,190-3,581, deep (4 hidden-to-hidden layers) 1,851-1,972 at 3,171-3,601. Elsewhere (other activations, inputs
# of several dimensions) no relation was measured: the cap.
HVPS_PER_SQRT_LIVE_PER_LAYER = 8.0


def expected_hvps(krylov_steps: int, n_params: int, n_live: int | None = None,
                  hidden_layers: int | None = None) -> float:
    """HVPs a certified subspace run capped at `krylov_steps` is expected to use: 8 x max(hidden_layers - 1, 1) x
    sqrt(n_live) for a ReLU MLP on 1-D inputs (`hidden_layers` given: relu_hidden_layers), else its cap; never above
    the cap."""
    from analyzer.linalg.subspace import PROBES

    n = n_params if n_live is None else min(int(n_live), n_params)
    cap = min(krylov_steps, n) + PROBES
    if hidden_layers is None:
        return float(cap)
    return float(min(cap, HVPS_PER_SQRT_LIVE_PER_LAYER * max(hidden_layers - 1, 1) * n ** 0.5))


def relu_hidden_layers(run) -> int | None:
    """The hidden layers of a plain ReLU MLP on 1-D inputs (expected_hvps' relation), else None (no torch)."""
    spec = run.model_spec
    if spec.get("kind") != "mlp" or spec.get("activation") != "relu" or spec.get("linearized") is not None:
        return None
    shape = run.data("x_train").shape
    return int(spec["depth"]) if len(shape) == 2 and shape[1] == 1 and "depth" in spec else None


def twin_seconds(n_rows: int, n_params: int, hvp_seconds: float) -> float:
    """Rough time of a twin's spectrum, once per run: J_0 (counted as one HVP: the layer route is one forward and
    o backward passes), its Gram matrix (2 n^2 m flops, n the smaller and m the larger side of J_0) and its
    eigenvalues (EIGH_FLOPS_PER_N3 n^3)."""
    n, m = min(n_rows, n_params), max(n_rows, n_params)
    return hvp_seconds + (2 * n * n * m + EIGH_FLOPS_PER_N3 * n ** 3) / REORTH_FLOPS_PER_S


def hvp_seconds(run) -> float:
    """Rough seconds per HVP of the full network from its flop count (parameters x training outputs), not measured:
    it picks the route (estimate_reason) the same on any machine at any load, and is the plan's fallback when no
    probe could time one (hvp_timing.py). The same at every dtype: rough by design."""
    return HVP_FLOPS_PER_PARAM_OUTPUT * int(run.n_params) * int(run.data("y_train").size) / HVP_FLOPS_PER_S
