"""The trace of one checkpoint's MSE Hessian, exact wherever it can be and labelled by how it was found.

trace_kind:
  exact                         the sum of every eigenvalue (dense, or the certified subspace run); trace_err is
                                the certified bound on it;
  exact-gauss-newton-identity   a piecewise-linear network (piecewise.py proves it from the model's graph) under
                                the MSE L = (1 / (N o)) sum_n ||f(x_n) - y_n||^2: H = (2 / (N o)) sum_n J_n^T J_n +
                                (2 / (N o)) sum_{n,k} r_nk grad^2 f_k(x_n), and the second term's diagonal is 0 (each
                                parameter enters f affinely on each linear region), so trace(H) = (2 / (N o))
                                sum_n ||J_n||_F^2: one per-sample-gradient pass; trace_err 0 (float64 rounding);
  estimate                      Hutchinson (linalg/trace.py) deflated by the extreme eigenvectors, probes added until
                                the standard error trace_err <= trace_rel_se x |trace| or trace_max_probes are spent
                                (trace_note then says so); the SLQ's own 16-probe trace is kept when it meets the
                                same bound.
"""

from __future__ import annotations

import math

import numpy as np
import torch

EXACT, IDENTITY, ESTIMATE = "exact", "exact-gauss-newton-identity", "estimate"
TRACE_KINDS = (EXACT, IDENTITY, ESTIMATE)
CHUNK_BYTES = 64e6  # per-sample Jacobians held at once
MSE_REL_TOL = 1e-10  # the analysed loss must be this MSE to rounding before the identity is used


def trace_fields(run, loss_fn, theta: torch.Tensor, op, eigenpairs, index: dict, params) -> dict:
    """trace, trace_err, trace_kind, trace_note and trace_probes of one checkpoint (module docstring)."""
    if index.get("trace_kind") == EXACT:
        return _fields(index["trace"], index["trace_err"], EXACT, "sum of every eigenvalue", math.nan)
    model, layout = run.build_model(params.dtype)
    exact = identity_trace(model, layout, theta, run.data("x_train"), run.data("y_train"), loss_fn)
    if exact[0] is not None:
        return _fields(exact[0], 0.0, IDENTITY, exact[1], math.nan)
    why = exact[1]
    if eigenpairs.density is not None:
        from analyzer.linalg.slq import Z

        se = index["trace_err"] / Z  # the SLQ's bar is Z standard errors
        if se <= params.trace_rel_se * abs(index["trace"]):
            return _fields(index["trace"], se, ESTIMATE, f"{why}; SLQ's {eigenpairs.density.probes} probes",
                           eigenpairs.density.probes)
    return hutchinson_fields(op, eigenpairs, params, why)


def hutchinson_fields(op, eigenpairs, params, why: str) -> dict:
    from analyzer.linalg.trace import hutchinson_trace

    vectors = [v for v in (eigenpairs.top_vectors, eigenpairs.bottom_vectors) if v is not None]
    found = hutchinson_trace(op, params.trace_rel_se, params.trace_max_probes, seed=params.seed,
                             vectors=np.concatenate(vectors, axis=1) if vectors else None)
    cap = (f"; cap of --trace-max-probes {params.trace_max_probes} reached before the standard error fell to "
           f"{params.trace_rel_se:g} x |trace|" if found.capped else "")
    note = f"{why}; Hutchinson, {found.probes} probes, {found.deflated} eigenvectors deflated{cap}"
    return _fields(found.value, found.standard_error, ESTIMATE, note, found.probes)


def _fields(trace: float, err: float, kind: str, note: str, probes: float) -> dict:
    return {"trace": float(trace), "trace_err": float(err), "trace_kind": kind, "trace_note": note,
            "trace_probes": float(probes)}


def identity_trace(model, layout, theta: torch.Tensor, x, y, loss_fn=None) -> tuple[float | None, str]:
    """(trace, why) by the Gauss-Newton identity when `model` is proven piecewise-linear and `loss_fn` (if given)
    is its MSE at `theta`; (None, why not) otherwise."""
    from analyzer.curvature.piecewise import piecewise_linear_reason
    from trainer.linearized import Linearized
    from trainer.models import functional_forward

    if isinstance(model, Linearized):
        proven, why = True, "affine in the parameters (linearised twin)"
    else:
        proven, why = piecewise_linear_reason(model)
    if not proven:
        return None, why
    x = torch.as_tensor(np.asarray(x)).to(theta.dtype)
    y = torch.as_tensor(np.asarray(y)).to(theta.dtype)
    if loss_fn is not None:
        with torch.no_grad():
            mse = torch.mean((functional_forward(model, layout, theta, x) - y) ** 2)
            analysed = loss_fn(theta)
        if abs(float(analysed - mse)) > MSE_REL_TOL * max(abs(float(mse)), 1e-300):
            return None, "the analysed loss is not the plain MSE of the model's outputs"
    total = _squared_jacobian_norm(model, layout, theta, x)
    return 2.0 * total / y.numel(), f"{why}; per-sample gradients of all {len(x):,} training inputs"


def _squared_jacobian_norm(model, layout, theta: torch.Tensor, x: torch.Tensor) -> float:
    """sum_n ||d f(x_n) / d theta||_F^2, in chunks of samples so that at most CHUNK_BYTES of Jacobian is held."""
    from trainer.models import functional_forward

    def outputs(flat: torch.Tensor, sample: torch.Tensor) -> torch.Tensor:
        return functional_forward(model, layout, flat, sample.unsqueeze(0)).reshape(-1)

    with torch.no_grad():
        n_out = functional_forward(model, layout, theta, x[:1]).numel()
    per_sample = torch.func.vmap(torch.func.jacrev(outputs), in_dims=(None, 0))
    chunk = max(1, int(CHUNK_BYTES // (theta.element_size() * n_out * theta.numel())))
    total = 0.0
    for start in range(0, len(x), chunk):
        total += float(torch.sum(per_sample(theta, x[start:start + chunk]) ** 2))
    return total
