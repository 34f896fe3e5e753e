"""The per-checkpoint row of the Hessian analysis: extremes, saddle index with bounds, gradient, saddle rule.

Per checkpoint: extreme eigenvalues (each with its residual or certified error), the index (eigenvalues
below t = -index_tol * scale, scale = largest |eigenvalue|) with certified bounds, the null space, trace
and gradient norm.

Methods. dense: the full Hessian (P HVPs) and its eigenvalues (LAPACK), exact to n u scale; `auto` uses
it up to 100 parameters. lanczos: first a certified subspace run (analyzer/linalg/subspace.py): the seed MLPs'
Hessians have an exact null space (ReLU, 1-D inputs: rank ~220 of 2,701 on baseline, ~2,050 of 10,351
on deep), so block Lanczos reaches an invariant subspace within `krylov_steps`; its Ritz values plus
P - m zeros are the whole spectrum, each within a certified error, and the index is certified
(method "exhaustive"). If the cap is hit first, the index is a quadrature estimate with its bracket
(linalg/krylov.py, "lanczos"), top/bottom-k from its extreme Ritz pairs when their fresh residuals meet
`tol`, else from restarted Lanczos (ARPACK, linalg/solvers.py). twin-gram (what `auto` takes on a linearised
twin): the Hessian (2 / (N o)) J_0^T J_0, the same at every checkpoint, from one Jacobian and one eigh of its Gram
matrix, exact to a certified rounding bound, no HVP (twin.py, linalg/gram.py).

Zero eigenvalues: |lambda| <= zero_tol = max(ZERO_TOL x scale, the method's certified error), i.e. values
the computation cannot tell from 0 at the accuracy it guarantees. ZERO_TOL = 1e-9 sits above the dense
path's error (n u scale ~ 1e-12) and the subspace run's usual one (1e-10..1e-9; it certifies up to
1e-8), and 1,000x below the default index_tol, so how the zeros are rounded never moves the index.
They are listed in order in top/bottom-k and counted as null_multiplicity (P - numerical rank), so
top-k and bottom-k equal the dense ones for every k.

Index bounds: index_low/index_high count the eigenvalues certainly / possibly below t (computed values
below t -/+ the certified error); index_certified says they agree. The subspace certificate is
probabilistic in one part (10 Gaussian probes: wrong with probability <= 1e-10, certificate_failure_prob).
index_tol_x2 / index_tol_half: counts below 2t and t/2, how much the index depends on the tolerance.
Quadrature (uncertified): Chebyshev-Markov-Stieltjes bracket at 2t and t/2 plus 2 sigma of the one-probe
sampling error, floored by converged bottom eigenvalues and Cauchy interlacing. index_err is half the width.

Saddle rule: a checkpoint is a saddle candidate when
  (a) its gradient is small for its time: grad_rel = ||grad L|| / (median of the logged gradient norms
      over the decade of steps around it, [step / sqrt 10, step * sqrt 10]) <= grad_tol (0.5), i.e. the
      gradient sits in a dip at most half its local typical size, as in the slow middle of a plateau --
      a global threshold is meaningless when the gradient norm spans orders of magnitude over a run; and
  (b) it has negative curvature beyond tolerance: lambda_min + residual(lambda_min) < t.

HVPs are reverse-over-reverse (linalg/operators/hessian.HessianOperator), not the forward-over-reverse the issue
names: with the gradient graph built once per checkpoint each product is one backward pass, 3x faster
here (1.7 ms vs 5.6 ms on baseline); mode="fwd" is kept and tested equal.

`params` below is the Hessian analysis' options (analyses/hessian/params.py: `HessianParams`).
"""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

from analyzer.core import progress
from analyzer.curvature.cost import estimate_reason, hvp_seconds
from analyzer.curvature.eigen import hessian_eigenpairs
from analyzer.curvature.index_status import certify_seconds, index_note
from analyzer.curvature.live import live_subnetwork
from analyzer.curvature.sensitivity import gradient_seconds, tolerance_fractions
from analyzer.curvature.trace import trace_fields
from analyzer.curvature.twin import NO_ROUNDING, TwinPoint, twin_point
from analyzer.linalg.eigenpairs import EigenPairs
from analyzer.linalg.index import index_estimate, index_from_density, index_from_eigenpairs
from analyzer.linalg.operators.hessian import HessianOperator


def saddle_metrics(eigenpairs: EigenPairs, op: HessianOperator | TwinPoint, params, grad_scale: float,
                   why_estimated: str = "") -> dict:
    """The per-checkpoint row: extremes, index with bounds, null space, trace, gradient norm, saddle flag.

    `grad_scale` is the typical gradient norm around this checkpoint (saddle rule (a) in the module doc);
    `why_estimated`: why the index is an SLQ estimate rather than certified (cost.estimate_reason).
    """
    threshold = -params.index_tol * eigenpairs.scale
    if eigenpairs.density is not None:
        index = index_from_density(eigenpairs.density, params.estimate_tol, eigenpairs.scale)
    elif eigenpairs.all_eigenvalues is not None:
        index = index_from_eigenpairs(eigenpairs, threshold)
    else:
        index = index_estimate(eigenpairs, params.tol, threshold)
    kind = "estimate" if eigenpairs.density is not None else "certified" if index["index_certified"] else "bracket"
    extremes_converged = eigenpairs.converged(params.tol)
    # a count only when certified; the estimate's expected count has its own name; a bracket has no point value
    expected = index["index_count"] if kind == "estimate" else math.nan
    index["index_count"] = index["index_count"] if kind == "certified" else math.nan
    fraction = (index["index_count"] if kind == "certified" else expected) / op.n
    grad_norm = float(torch.linalg.vector_norm(op.grad))
    grad_rel = grad_norm / grad_scale if grad_scale > 0 else math.inf
    lambda_min, lambda_max = float(eigenpairs.bottom[0]), float(eigenpairs.top[0])
    negative = lambda_min + float(np.nan_to_num(eigenpairs.bottom_residual[0], nan=np.inf)) < threshold
    return {
        "lambda_max": lambda_max, "lambda_min": lambda_min,
        "ratio": lambda_min / lambda_max if lambda_max != 0 else math.nan,
        **index, "index_expected": expected, "index_fraction": float(np.clip(fraction, 0.0, 1.0)),
        "index_err": (index["index_high"] - index["index_low"]) / 2,
        "index_kind": kind, "index_note": index_note(kind, params, eigenpairs, why_estimated),
        "certify_seconds": certify_seconds(kind, eigenpairs, op.n),
        "index_rel_tol": params.estimate_tol if kind == "estimate" else params.index_tol,
        "grad_norm": grad_norm, "grad_rel": grad_rel,
        "saddle_candidate": bool(negative and grad_rel <= params.grad_tol),
        "method": "slq" if kind == "estimate" else eigenpairs.method,
        "converged": bool(extremes_converged and kind == "certified"), "extremes_converged": extremes_converged,
        "max_rel_residual": eigenpairs.max_rel_residual, "seconds": eigenpairs.seconds, "n_hvp": op.n_products,
    }


def local_grad_scale(steps: np.ndarray, grad_norm: np.ndarray, step: int) -> float:
    """Median logged gradient norm over [step / sqrt 10, step * sqrt 10] (the first 10 steps for small steps)."""
    low, high = step / math.sqrt(10), max(step * math.sqrt(10), 10)
    window = grad_norm[(steps >= low) & (steps <= high) & np.isfinite(grad_norm)]
    return float(np.median(window)) if len(window) else math.nan


def checkpoint_row(run, loss_fn, params, logged_steps, logged_grad, step, role, extremes, twin=None) -> dict:
    """The row of one checkpoint; its extreme eigenpairs (without bases) are appended to `extremes`. `twin`
    (twin.TwinHessian): a linearised twin's exact route, the spectrum shared by its checkpoints."""
    theta = torch.from_numpy(np.asarray(run.params_at(step))).to(getattr(torch, params.dtype))
    if twin is not None:
        op, eigenpairs, why = twin_point(loss_fn, theta), twin.eigenpairs(params.k), ""
    else:
        op = HessianOperator(loss_fn, theta, on_product=progress.tick)  # the open progress bar moves per product
        live = live_subnetwork(run, theta)
        # decided from the cost plan alone (deterministic): the certified run would work on the live parameters
        why = estimate_reason(params, op.n, hvp_seconds(run), None if live is None else live.n)
        estimate = (params.slq_probes, params.slq_steps) if why else None
        eigenpairs = hessian_eigenpairs(loss_fn, theta, params.method, params.k, params.tol, params.dense_max_params,
                                        params.max_dense_gb, params.seed, op=op, krylov_steps=params.krylov_steps,
                                        live=live, estimate=estimate)
    grad_scale = local_grad_scale(logged_steps, logged_grad, step)
    row = {"step": step, "role": role, **saddle_metrics(eigenpairs, op, params, grad_scale, why)}
    index = {k: row[k] for k in ("trace", "trace_err", "trace_kind")}
    row.update(trace_fields(run, loss_fn, theta, op, eigenpairs, index, params))  # exact where it can be
    extremes.append(replace(eigenpairs, all_eigenvalues=None, krylov=None, subspace=None, density=None))
    row.update(tolerance_fractions(eigenpairs, op.n))  # sensitivity.py: the index at several tolerances
    row.update(NO_ROUNDING if twin is None else twin.rounding())
    row["cost_gradients"] = eigenpairs.seconds / max(gradient_seconds(loss_fn, theta), 1e-12)
    return row
