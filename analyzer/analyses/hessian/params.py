"""Options of the Hessian analysis (`analyze hessian`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from analyzer.core.params import fail, param, validate
from analyzer.curvature.cost import MAX_DENSE_GB

METHODS = ("auto", "dense", "lanczos", "twin-gram")
INDEX_METHODS = ("auto", "certified", "estimate")
SELECTIONS = ("plateaus", "every", "steps", "grid")
VERSION = "9"  # the analysis' version (its ANALYSIS); also keys the per-checkpoint store (points.py)


@dataclass(frozen=True)
class HessianParams:
    """Options of `analyze hessian`; each field's help is its documentation (see analyzer/core/params.py).

    Giving `steps` (or `every`) with the default at="plateaus" selects those steps (or every N): both
    `hessian(run, steps=(0, 500))` and `analyze hessian --steps 0,500` mean those steps.
    """

    analysis: ClassVar[str] = "hessian"

    at: str = param("plateaus", "Checkpoints: plateaus (starts, middles and ends of the run's plateaus), every, steps, "
                                "grid (log-spaced: --per-decade per decade of steps, and step 0).", choices=SELECTIONS)
    every: int = param(0, "Analyse every N steps: the stored checkpoints nearest to 0, N, 2N and so on (implies --at "
                          "every).", minimum=0)
    steps: tuple[int, ...] = param((), "Comma-separated stored checkpoint steps, analysed exactly (implies --at "
                                       "steps).")
    per_decade: int = param(4, "Checkpoints per decade of steps with --at grid (the stored ones nearest to "
                               "10^(i/N)).", minimum=1)
    k: int = param(10, "Top and bottom eigenpairs.", minimum=1)
    method: str = param("auto", "dense (exact, full spectrum), lanczos (certified subspace run, or top/bottom-k and "
                                "a bracketed index estimate), twin-gram (a linearised twin's exact (2 / (N o)) "
                                "J_0^T J_0, once per run, no HVP) or auto (twin-gram for a twin).", choices=METHODS)
    tol: float = param(1e-8, "An eigenpair is converged when ||Hv - lambda v|| <= tol x max |eigenvalue|.", above=0)
    index_tol: float = param(1e-6, "Eigenvalues below -index_tol x max |eigenvalue| count towards the saddle index.",
                             above=0)
    grad_tol: float = param(0.5, "Saddle rule (a): gradient norm at most this times its median over the surrounding "
                                 "decade of steps.", above=0)
    dense_max_params: int = param(100, "auto uses dense up to this many parameters (bench/RESULTS.md: the subspace "
                                       "run is faster already at P = 141).", minimum=1)
    max_dense_gb: float = param(MAX_DENSE_GB, "dense refuses models whose Hessian needs more memory than this "
                                              "(twin-gram: J_0 and its Gram matrix).", above=0)
    krylov_steps: int = param(5000, "Cap on the certified subspace run (its dimension, ~HVPs); beyond it the index "
                                    "is a bracketed estimate. Ranks seen: baseline/sgd ~220, wide ~400, deep ~2,050.",
                              minimum=1)
    index_method: str = param("auto", "certified (a count when the subspace run certifies it, else a bracket), "
                                      "estimate (stochastic Lanczos quadrature: a fraction with its error bar, never "
                                      "a count) or auto: certified up to --certify-max-params when the planned "
                                      "certified run fits --certify-budget-s, else estimate (the output says why).",
                              choices=INDEX_METHODS)
    certify_max_params: int = param(20_000, "auto certifies the index up to this many parameters: the subspace run "
                                            "costs ~P x rank HVP-equivalents, minutes per checkpoint at P = 10,351 "
                                            "and hours beyond ~40,000 on a CPU (bench/RESULTS.md).", minimum=1)
    certify_budget_s: float = param(120.0, "auto certifies only when the certified run's planned time per checkpoint "
                                           "(cost.py: HVPs from a flop count plus reorthogonalisation, at the "
                                           "--krylov-steps cap on the live parameters: an upper bound) is at most "
                                           "this; else it estimates. 120 s certifies every preset (wide, at P = "
                                           "10,401, plans ~94 s) and sends a 20,000-parameter tanh MLP on 512 "
                                           "points (~150 s planned, ~14 min measured under load) to the estimate.",
                                    above=0)
    trace_rel_se: float = param(0.1, "Where the trace is not exact (eigenvalues, or the piecewise-linear identity), "
                                     "Hutchinson probes are added until its standard error is at most this x "
                                     "|trace|.", above=0)
    trace_max_probes: int = param(1000, "Cap on the trace's Hutchinson probes (one HVP each); when hit, the output "
                                        "says so and shows the standard error reached.", minimum=10)
    estimate_tol: float = param(1e-3, "The estimate counts eigenvalues below -estimate_tol x max |eigenvalue|: "
                                      "quadrature cannot tell eigenvalues much nearer 0 from the null space.", above=0)
    slq_probes: int = param(16, "Random probe vectors of the estimate (its sampling error falls as 1/sqrt).",
                            minimum=2)
    slq_steps: int = param(150, "Lanczos steps per probe of the estimate (its quadrature error falls with them).",
                           minimum=2)
    dtype: str = param("float64", "Precision of the Hessian-vector products.", choices=("float32", "float64"))
    seed: int = param(0, "Seed of the random start vectors and probes.")

    def __post_init__(self):
        object.__setattr__(self, "steps", tuple(int(s) for s in self.steps))
        if self.at == "plateaus" and self.steps:  # hessian(run, steps=(0, 500)) means those steps
            object.__setattr__(self, "at", "steps")
        elif self.at == "plateaus" and self.every:
            object.__setattr__(self, "at", "every")
        validate(self)
        if self.at == "every" and self.every < 1:
            fail(self, "every", "a positive number of steps with at=every", self.every)
        if self.at == "steps" and not self.steps:
            fail(self, "steps", "at least one step with at=steps", self.steps)
