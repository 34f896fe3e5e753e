"""`analyze mask` (Lucey): gradient descent as the shrinkage mask m(s) = 1 - (1 - a_eff s^2)^q on the
singular values s of the Jacobian J = U diag(s) V^T at the first checkpoint.

For a model linear in its trained parameters trained by full-batch GD on the trainer's mean MSE,
r_q = (I - a_eff J J^T)^q r_0 exactly (docs/ntk.md), so the fraction of the target component u_i^T (y - f_0)
fitted after q steps is m(s_i), and theta_q - theta_0 = V diag(m(s)/s) U^T (y - f_0). Elsewhere the same
numbers measure how far the run is from that picture.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyzer.analyses.mask.params import MaskParams
from analyzer.analyses.mask.result import MaskResult
from analyzer.errors import BadInputError
from analyzer.io.ntk_checkpoint import checkpoint_net, projected_residuals, schedule
from analyzer.linalg.gd_dynamics import log_spaced, mask

CHUNK = 1024  # steps compared at a time: observed and predicted fractions are never held for every step


def compute(run, params: MaskParams, deps=None) -> MaskResult:
    from analyzer.io.ntk_net import jacobian_svd  # torch: imported to compute, not when a report looks
    from trainer.engines.loop import one_thread

    sched = schedule(run)
    net, step0 = checkpoint_net(run, None)
    if net.jacobian_bytes() > params.max_jacobian_gb * 2**30:
        raise BadInputError(f"mask: J ({net.n_rows:,} x {net.n_trained:,}) needs {net.jacobian_bytes() / 2**30:.1f} GB, "
                            f"over max_jacobian_gb {params.max_jacobian_gb:g}")
    theta0 = np.asarray(run.params_at(step0), dtype=np.float64)
    with one_thread():
        left, singular, right_t = jacobian_svd(net, theta0)
        keep = singular > params.rank_tol * singular[0]
        left, singular, right_t = left[:, keep], singular[keep], right_t[keep]
        residuals = projected_residuals(run, net, left, step0)
        steps, components = residuals.steps, residuals.projections
    initial = components[0] if steps[0] == step0 else left.T @ _residual_at(run, net, theta0)
    valid = np.abs(initial) >= params.min_component * np.linalg.norm(initial)
    iterations = steps - step0
    errors, predicted_counts, observed_counts = _compare(components, initial, singular, sched.effective_rate,
                                                         iterations, valid)
    samples = log_spaced(len(steps), params.max_samples)
    observed = np.where(valid, 1.0 - components[samples] / initial, np.nan)
    predicted = mask(singular, sched.effective_rate, iterations[samples])
    coefficient_steps, coefficients_observed, coefficients_predicted = _coefficients(
        run, net, theta0, step0, right_t, singular, -initial, sched.effective_rate, params.max_samples)
    bandwidth = pd.DataFrame({"step": steps[samples].astype(np.int64), "sqrt_q": np.sqrt(iterations[samples]),
                              "predicted": predicted_counts[samples], "observed": observed_counts[samples]})
    table = pd.DataFrame({"index": np.arange(len(singular)), "singular_value": singular, "target_component": -initial,
                          "max_error": np.where(valid, errors, np.nan)})
    return MaskResult(
        step=step0, optimizer=sched.optimizer, learning_rate=sched.learning_rate,
        effective_rate=sched.effective_rate, exact=bool(net.trained_start > 0 and sched.plain_gd),
        fit_error=float(errors[valid].max()) if valid.any() else float("nan"), n_directions=int(valid.sum()),
        rank=len(singular), singular_values=singular, sample_steps=np.asarray(steps[samples]), observed=observed,
        predicted=predicted, coefficient_steps=coefficient_steps, coefficients_observed=coefficients_observed,
        coefficients_predicted=coefficients_predicted, bandwidth=bandwidth,
        bandwidth_exponent=_exponent(iterations, observed_counts, int(valid.sum())), table=table,
        note=residuals.note)


def _residual_at(run, net, theta: np.ndarray) -> np.ndarray:
    import torch

    with torch.no_grad():
        outputs = net.outputs(*net.split(theta)).numpy()
    return outputs - np.asarray(run.data("y_train"), dtype=np.float64).reshape(-1)


def _compare(components, initial, singular, effective_rate, iterations, valid):
    """Per direction the largest |observed - predicted| over all steps; per step the counts above 1/2."""
    errors = np.zeros(len(singular))
    predicted_counts = np.zeros(len(iterations), np.int64)
    observed_counts = np.zeros(len(iterations), np.int64)
    for start in range(0, len(iterations), CHUNK):
        rows = slice(start, start + CHUNK)
        observed = 1.0 - components[rows][:, valid] / initial[valid]
        predicted = mask(singular[valid], effective_rate, iterations[rows])
        errors[valid] = np.maximum(errors[valid], np.abs(observed - predicted).max(axis=0))
        predicted_counts[rows] = (predicted > 0.5).sum(axis=1)
        observed_counts[rows] = (observed > 0.5).sum(axis=1)
    return errors, predicted_counts, observed_counts


def _coefficients(run, net, theta0, step0, right_t, singular, target, effective_rate, most):
    """V^T (theta_q - theta_0) (trained part) at log-spaced checkpoints, and diag(m(s)/s) U^T (y - f_0)."""
    checkpoints = np.asarray(run.ckpt_steps)
    checkpoints = checkpoints[checkpoints >= step0]
    picked = checkpoints[log_spaced(len(checkpoints), most)]
    start = net.trained_start
    moved = np.stack([np.asarray(run.params_at(int(s)), np.float64)[start:] - theta0[start:] for s in picked])
    observed = moved @ right_t.T
    predicted = mask(singular, effective_rate, picked - step0) / singular * target
    return picked.astype(np.int64), observed, predicted


def _exponent(iterations: np.ndarray, counts: np.ndarray, total: int) -> float:
    """Slope of log(bandwidth) on log(q) where the bandwidth is neither 0 nor saturated."""
    usable = (iterations > 0) & (counts > 0) & (counts < total)
    if usable.sum() < 2 or len(np.unique(counts[usable])) < 2:
        return float("nan")
    return float(np.polyfit(np.log(iterations[usable]), np.log(counts[usable]), 1)[0])
