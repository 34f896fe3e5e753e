"""Spectral bias on the sphere (Cao et al.): each harmonic degree's residual component over training and its rate.

The residual f_t - y on the eval points is projected on spherical-harmonic degrees 0 .. max target degree +
`extra_degrees` (analyzer/bases); ||P_l (f_t - y)|| is its degree-l component's norm (RMS under the uniform
measure on the sphere). Convergence rate of degree l: the component's norm r_l(t) relative to its initial
value falls from `fit_from` (0.9) to `fit_to` (0.1); the rate is minus the least-squares slope of log r_l(t)
against the step over that stretch, per step (the component decays like exp(-rate * step) there). A degree
that never falls to `fit_to` is fitted from `fit_from` to the end of the run (`reached_fit_to` False); one
that never falls to `fit_from` has no rate. Next to it, two NTK eigenvalues of the degree, on one scale (the
eigenvalue of the kernel's integral operator under the uniform probability measure on the sphere):
- `ntk_eigenvalue`: the closed form for a one-hidden-layer ReLU net at infinite width (harmonics/
  ntk_reference.py; NaN for other models), as in version 1 of this analysis;
- `ntk_eigenvalue_empirical`: the run's own kernel K = J J^T on the training inputs at the first checkpoint,
  the mean eigenvalue of Q_l^T K Q_l divided by N o (harmonics/ntk_empirical.py derives the 1/(N o)); any model.
For full-batch GD runs (optimizer sgd) each gives the kernel-regime rate -log|1 - 2 lr mu_l| (`gd_rate`,
`gd_rate_empirical`): the trainer's mean-MSE GD moves the training residual by (I - (2 lr / (N o)) K) per step.

`initial_energy_fraction`: degree l's share of the residual's energy at the first stored step,
||P_l r||^2 / (sum over the basis's degrees of ||P_l' r||^2 + the least-squares remainder^2); a function of
degree at most the basis's highest has all of its energy on its own degrees, exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analyzer.analyses.harmonics.params import HarmonicsParams
from analyzer.analyses.harmonics.result import HarmonicsResult
from analyzer.errors import BadInputError

# analyzer.bases and ntk_reference import scipy (special, integrate): imported on use, so the CLI starts without it

MIN_PRED_STEPS = 3
MIN_FIT_POINTS = 3  # a rate needs at least this many stored steps in its fit window


@dataclass(frozen=True)
class RateFit:
    rate: float  # per step; NaN when the component never falls to fit_from or the window is too short
    start_step: float
    end_step: float
    reached_fit_to: bool


def convergence_rate(steps: np.ndarray, norms: np.ndarray, fit_from: float = 0.9, fit_to: float = 0.1) -> RateFit:
    """Fitted exponential rate of `norms` over the stretch where norms / norms[0] falls from fit_from to fit_to."""
    steps, norms = np.asarray(steps, dtype=np.float64), np.asarray(norms, dtype=np.float64)
    missing = RateFit(np.nan, np.nan, np.nan, False)
    if not (len(norms) and np.isfinite(norms[0]) and norms[0] > 0):
        return missing
    ratio = norms / norms[0]
    started = np.flatnonzero(ratio <= fit_from)
    if not len(started):
        return missing
    start = int(started[0])
    ended = np.flatnonzero(ratio[start:] <= fit_to)
    end = start + int(ended[0]) if len(ended) else len(norms) - 1
    window = slice(start, end + 1)
    if end + 1 - start < MIN_FIT_POINTS or not np.all(norms[window] > 0):
        return RateFit(np.nan, steps[start], steps[end], bool(len(ended)))
    slope = np.polyfit(steps[window], np.log(norms[window]), 1)[0]
    return RateFit(float(-slope), float(steps[start]), float(steps[end]), bool(len(ended)))


def reference_eigenvalues(run, degrees: np.ndarray) -> tuple[np.ndarray, str]:
    """The closed-form NTK eigenvalue of each degree, or NaN and the reason there is none for this model."""
    spec, target = run.model_spec, run.target
    if spec.get("kind") != "mlp" or spec.get("depth") != 1 or spec.get("activation") != "relu":
        shape = f"{spec.get('kind')} depth {spec.get('depth')} {spec.get('activation')}"
        return np.full(len(degrees), np.nan), f"no closed form for this model ({shape}): it is for one-hidden-layer ReLU"
    width, init = int(spec["width"]), str(spec.get("init", "default"))
    from analyzer.analyses.harmonics.ntk_reference import relu_ntk_eigenvalues

    hidden_trained = not bool(run.config.get("freeze_hidden", False))
    eigenvalues = relu_ntk_eigenvalues(int(target["input_dim"]), degrees, width, init, hidden_trained)
    trained = "" if hidden_trained else ", output layer alone (--freeze-hidden)"
    return eigenvalues, (f"closed form, one-hidden-layer ReLU of width {width}, {init} init (Gaussian surrogate)"
                         f"{trained}")


def gd_rates(eigenvalues: np.ndarray, config: dict) -> np.ndarray:
    """-log|1 - 2 lr mu| per eigenvalue for a full-batch GD run (optimizer sgd), else NaN."""
    from analyzer.analyses.harmonics.ntk_reference import gd_rate
    from analyzer.io.optimizer import is_plain_gd

    lr = float(config.get("lr", np.nan)) if is_plain_gd(config.get("optimizer")) else np.nan
    return np.array([gd_rate(mu, lr) if np.isfinite(lr) and np.isfinite(mu) else np.nan for mu in eigenvalues])


def degree_table(projection, target_degrees, eigenvalues: np.ndarray, config: dict, params: HarmonicsParams,
                 empirical: np.ndarray | None = None) -> pd.DataFrame:
    """One row per degree of the basis (a bases.ModeProjection): norms, fitted rate, NTK eigenvalues (closed form,
    empirical) and, for GD runs, the kernel-regime rates they predict."""
    steps, norms = projection.steps, projection.residual_norm
    fits = [convergence_rate(steps, norms[:, k], params.fit_from, params.fit_to) for k in range(norms.shape[1])]
    empirical = np.full(len(eigenvalues), np.nan) if empirical is None else np.asarray(empirical, dtype=np.float64)
    predicted, predicted_empirical = gd_rates(eigenvalues, config), gd_rates(empirical, config)
    rates = np.array([fit.rate for fit in fits])
    # every degree of the basis is a column of `norms`: the fractions add up to 1 with the fit's remainder
    total_energy = np.sum(norms[0] ** 2) + projection.residual_remainder[0] ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        return pd.DataFrame({
            "degree": projection.labels.astype(np.int64),
            "in_target": np.isin(projection.labels, list(target_degrees)),
            "target_norm": projection.target_norm,
            "initial_residual": norms[0], "final_residual": norms[-1], "final_fraction": norms[-1] / norms[0],
            "initial_energy_fraction": norms[0] ** 2 / total_energy,
            "rate": rates,
            "fit_start_step": [fit.start_step for fit in fits], "fit_end_step": [fit.end_step for fit in fits],
            "reached_fit_to": [fit.reached_fit_to for fit in fits],
            "ntk_eigenvalue": eigenvalues, "rate_per_eigenvalue": rates / eigenvalues,
            "gd_rate": predicted, "rate_over_gd_rate": rates / predicted,
            "ntk_eigenvalue_empirical": empirical, "rate_per_empirical_eigenvalue": rates / empirical,
            "gd_rate_empirical": predicted_empirical, "rate_over_gd_rate_empirical": rates / predicted_empirical,
        })


def compute(run, params: HarmonicsParams, deps=None) -> HarmonicsResult:
    """The harmonics analysis of a run trained with `--target harmonics` (predictions read block by block)."""
    from analyzer.analyses.harmonics.ntk_empirical import empirical_eigenvalues  # torch: only to compute
    from analyzer.bases import basis_for_run, project_residual
    from analyzer.bases.for_run import committed_predictions

    if run.target.get("kind") != "harmonics":
        raise BadInputError(f"{run.path}: the harmonics analysis needs a run trained with --target harmonics "
                            f"(this run's target kind is {run.target.get('kind')!r})")
    target_degrees = tuple(sorted(int(d) for d in run.target.get("degrees") or []))
    run_basis = basis_for_run(run, max_degree=max(target_degrees, default=0) + params.extra_degrees)
    predictions = committed_predictions(run)
    if predictions.shape[0] < MIN_PRED_STEPS:
        raise BadInputError(f"{run.path}: nothing to analyze: {predictions.shape[0]} committed prediction step(s); "
                            f"the harmonics analysis needs at least {MIN_PRED_STEPS}")
    basis = run_basis.basis
    projection = project_residual(basis, run.pred_steps, predictions, run.data("y_eval"), basis.labels)
    if len(projection.steps) < MIN_PRED_STEPS:
        raise BadInputError(f"{run.path}: predictions are not finite from step {projection.first_nonfinite_step}; "
                            f"fewer than {MIN_PRED_STEPS} steps before it")
    eigenvalues, source = reference_eigenvalues(run, basis.labels)
    empirical = empirical_eigenvalues(run, basis.labels)
    note = ("" if projection.first_nonfinite_step is None else
            f"predictions not finite from step {projection.first_nonfinite_step}; analysed the steps before it")
    return HarmonicsResult(steps=projection.steps, degrees=basis.labels.astype(np.int64), target_degrees=target_degrees,
                           residual_norm=projection.residual_norm, residual_rms=projection.residual_rms,
                           table=degree_table(projection, target_degrees, eigenvalues, run.config, params,
                                              empirical.values),
                           ntk_source=source, ntk_empirical_source=empirical.source, note=note)
