"""The per-checkpoint row of the Hessian analysis: extremes, saddle index with bounds, gradient, saddle rule."""

from __future__ import annotations

import math
from dataclasses import replace

import numpy as np
import torch

from analyzer.analyses.hessian.cost import estimate_reason, hvp_seconds
from analyzer.analyses.hessian.eigen import hessian_eigenpairs
from analyzer.analyses.hessian.grid import gradient_seconds, tolerance_fractions
from analyzer.analyses.hessian.params import HessianParams
from analyzer.analyses.hessian.status import certify_seconds, index_note
from analyzer.analyses.hessian.live import live_subnetwork
from analyzer.analyses.hessian.trace import trace_fields
from analyzer.analyses.hessian.twin import NO_ROUNDING, TwinPoint, twin_point
from analyzer.core import progress
from analyzer.linalg.eigenpairs import EigenPairs
from analyzer.linalg.index import index_estimate, index_from_density, index_from_eigenpairs
from analyzer.linalg.operators.hessian import HessianOperator


def saddle_metrics(eigenpairs: EigenPairs, op: HessianOperator | TwinPoint, params: HessianParams, grad_scale: float,
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
    row.update(tolerance_fractions(eigenpairs, op.n))  # hessian/grid.py: the index at several tolerances
    row.update(NO_ROUNDING if twin is None else twin.rounding())
    row["cost_gradients"] = eigenpairs.seconds / max(gradient_seconds(loss_fn, theta), 1e-12)
    return row
