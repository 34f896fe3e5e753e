"""`analyze ntk`: the empirical NTK at a checkpoint, the residual along its eigenvectors, rates, drift, loadings.

The model at the checkpoint is rebuilt in float64 (its kernel is exact to float64 rounding whatever the run's
dtype); the residuals are the stored ones. Full-batch GD on the trainer's mean MSE predicts r_t along v_i to
scale as (1 - a_eff lambda_i)^t, a_eff = 2 lr / (N o) (docs/ntk.md): exact on a --freeze-hidden run, a
linearisation elsewhere. Adam has no such closed form, so its rates are observed only.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analyzer.analyses.ntk.params import NtkParams
from analyzer.analyses.ntk.result import OBSERVED_ONLY, NtkResult
from analyzer.io.ntk_checkpoint import checkpoint_net, projected_residuals, schedule
from analyzer.linalg.gd_dynamics import log_spaced, observed_rates, predicted_rates

PROJECTION_COLUMNS = 50  # eigendirections whose residual curves the result keeps for figures
LOADING_COLUMNS = ["freq_hz", "peak_index", "peak_share", "indices_for_90pct", "mean_index", "computed_share"]


def compute(run, params: NtkParams, deps=None) -> NtkResult:
    from analyzer.io.ntk_net import kernel_eigen  # torch: imported to compute, not when a report looks
    from trainer.engines.loop import one_thread

    sched = schedule(run)
    net, step = checkpoint_net(run, params.step)
    theta = np.asarray(run.params_at(step), dtype=np.float64)
    with one_thread():  # the kernel's bits must not follow the machine's load
        eigen = kernel_eigen(net, theta, route=params.route, top_k=params.top_k,
                             max_jacobian_gb=params.max_jacobian_gb, seed=params.seed)
        residuals = projected_residuals(run, net, eigen.top_vectors, step)
        steps, projections = residuals.steps, residuals.projections
        drift = _drift(run, net, theta, eigen.method, params)
    observed = observed_rates(steps, projections, params.rate_floor, params.min_component)
    predicted = (predicted_rates(eigen.top, sched.effective_rate) if sched.has_closed_form
                 else np.full(len(eigen.top), np.nan))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = observed / predicted
    table = pd.DataFrame({"index": np.arange(len(eigen.top)), "eigenvalue": eigen.top,
                          "initial_component": projections[0], "predicted_rate": predicted,
                          "observed_rate": observed, "ratio": ratio})
    samples = log_spaced(len(steps), params.max_samples)
    loadings, loading_matrix = _loadings(run, net, eigen.top_vectors)
    return NtkResult(
        step=step, route=eigen.method, trained="output layer" if net.trained_start else "all layers",
        optimizer=sched.optimizer, rates="predicted and observed" if sched.has_closed_form else OBSERVED_ONLY,
        learning_rate=sched.learning_rate, effective_rate=sched.effective_rate, n_rows=net.n_rows,
        n_trained=net.n_trained, drift_method=_drift_method(eigen.method, params, len(run.ckpt_steps)),
        eigenvalues=eigen.top, table=table, projection_steps=np.asarray(steps[samples]),
        projections=np.abs(projections[samples, :PROJECTION_COLUMNS]), drift=drift, loadings=loadings,
        loading_matrix=loading_matrix, note=residuals.note)


def _drift_method(route: str, params: NtkParams, n_checkpoints: int) -> str:
    if params.drift_every == 0:
        return "none"
    exact = "exact" if route == "jacobian" else f"sketched with {params.drift_probes} Gaussian probes"
    if params.drift_every is None:
        used = len(drift_indices(n_checkpoints, params))
        every = ("every checkpoint" if used == n_checkpoints else
                 f"{used} of {n_checkpoints} checkpoints, log-spaced (--drift-every 1: all)")
    else:
        every = "every checkpoint" if params.drift_every == 1 else f"every {params.drift_every}th checkpoint"
    return f"{exact}, {every}"


def drift_indices(n_checkpoints: int, params: NtkParams) -> np.ndarray:
    """Indices of the stored checkpoints the drift curve visits."""
    if params.drift_every is None:
        return log_spaced(n_checkpoints, params.drift_points)
    return np.arange(0, n_checkpoints, params.drift_every)


def _drift(run, net, theta: np.ndarray, route: str, params: NtkParams) -> pd.DataFrame:
    """||K_t - K||_F / ||K||_F at every `drift_every`-th checkpoint (sketched on the matrix-free route)."""
    from analyzer.io.ntk_net import kernel, sketched_drift

    if params.drift_every == 0:
        return pd.DataFrame({"step": np.zeros(0, np.int64), "relative_change": np.zeros(0)})
    steps = np.asarray(run.ckpt_steps)[drift_indices(len(run.ckpt_steps), params)]
    if route == "jacobian":
        reference = kernel(net, theta)
        scale = np.linalg.norm(reference)
        changes = [np.linalg.norm(kernel(net, run.params_at(int(s))) - reference) / scale for s in steps]
    else:
        probes = np.random.default_rng(params.seed).standard_normal((net.n_rows, params.drift_probes))
        changes = [sketched_drift(net, theta, np.asarray(run.params_at(int(s)), np.float64), probes) for s in steps]
    return pd.DataFrame({"step": steps.astype(np.int64), "relative_change": np.asarray(changes, dtype=np.float64)})


def _loadings(run, net, vectors: np.ndarray) -> tuple[pd.DataFrame, np.ndarray]:
    """Per target frequency f: the share (v_i^T s_f)^2 / ||s_f||^2 of its training-grid sine on each eigenvector."""
    freqs = [float(f) for f in run.target.get("freqs_hz") or []]
    x = np.asarray(run.data("x_train"), dtype=np.float64)
    if not freqs or x.shape[1] != 1 or net.out_dim != 1:
        return pd.DataFrame(columns=LOADING_COLUMNS), np.zeros((0, vectors.shape[1]))
    phases = run.target.get("phases") or [0.0] * len(freqs)
    rows, matrix = [], []
    for freq, phase in zip(freqs, phases):
        sine = np.sin(2 * math.pi * freq * x[:, 0] + float(phase))
        share = (vectors.T @ sine) ** 2 / (sine @ sine)
        ordered = np.cumsum(np.sort(share)[::-1])
        # NaN (null in --json) where the computed eigenvectors (top_k of them) hold less than 90 % of the sine:
        # how many it would take is then unknown; computed_share says how much they hold
        needed = float(np.searchsorted(ordered, 0.9) + 1) if ordered[-1] >= 0.9 else np.nan
        rows.append((freq, int(np.argmax(share)), float(share.max()), needed,
                     float((np.arange(len(share)) * share).sum() / share.sum()), float(ordered[-1])))
        matrix.append(share)
    return pd.DataFrame(rows, columns=LOADING_COLUMNS), np.asarray(matrix)
