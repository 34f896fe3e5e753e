"""What the theory claims (Cao et al., Lucey, Bowman & Montúfar) read of a run: which runs are in the papers'
regime, their series (a width sweep), and each run's kernel, degree, mode-rate and mask numbers, reduced on the
worker from cached analyses.

The regime: a one-hidden-layer ReLU MLP trained on all its layers by full-batch gradient descent (optimizer sgd),
the model the closed-form kernel and Cao et al. describe; its linearised twin is in it too. Other runs get no
theory job and no theory extract, so an Alvarez & Choe study pays nothing for these claims.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np

from analyzer.io.optimizer import is_plain_gd
from analyzer.study.claims.base import Claim, ClaimJob

NOT_IN_REGIME = ("no one-hidden-layer ReLU runs trained by full-batch gradient descent among the inputs (the "
                 "regime of Cao et al., Lucey and Bowman & Montúfar; `make theory` trains a width sweep of them)")
# a series is a width sweep: runs that differ only by these keys (and by what identifies a run: seed, role)
SWEPT_KEYS = frozenset({"width", "lr", "in_dim"})  # in_dim follows the target, which names the series anyway
IDENTITY_KEYS = frozenset({"seed", "perturb", "perturb_seed", "linearize", "device", "preset"})
MOVING_DECAY = 0.1  # a direction moves when the linearised prediction decays it by at least this (in e-folds)
MIN_SHARE = 1e-3  # ... and its initial residual component is at least this fraction of the residual's norm


def in_regime(config: dict) -> bool:
    """A one-hidden-layer ReLU MLP, all layers trained, full-batch GD (or its linearised twin)."""
    model = config.get("model") or {}
    return (model.get("kind") == "mlp" and model.get("depth") == 1 and model.get("activation") == "relu"
            and is_plain_gd(config.get("optimizer")) and not config.get("freeze_hidden", False)
            and not config.get("perturb", 0.0))


def is_harmonics(config: dict) -> bool:
    return (config.get("target") or {}).get("kind") == "harmonics"


def regime_run(run) -> bool:
    """Job.only_if: the run (an open io.run.Run) is in the regime."""
    return in_regime(run.config)


def harmonics_regime_run(run) -> bool:
    return in_regime(run.config) and is_harmonics(run.config)


def theory_jobs(*names: str) -> list[ClaimJob]:
    """The cached analyses named, for the runs in the regime (harmonics: harmonics runs only)."""
    return [ClaimJob(name, {}, harmonics_regime_run if name == "harmonics" else regime_run) for name in names]


@dataclass(frozen=True)
class RunFacts:
    """A run's place in the sweep, from its config alone."""

    width: int
    n_params: int  # trained parameters: m (d + 2) + 1 for one hidden layer of m units on d inputs
    n_points: int  # training points (one output each)
    dtype: str

    @property
    def underparameterised(self) -> bool:
        return self.n_params < self.n_points


def run_facts(config: dict) -> RunFacts:
    model, target = config["model"], config["target"]
    width, inputs = int(model["width"]), int(model.get("in_dim", 1))
    return RunFacts(width, width * (inputs + 2) + 1, int(target["n_train"]) * int(model.get("out_dim", 1)),
                    str(config.get("dtype", "float32")))


def series_names(runs) -> dict[str, str]:
    """Run path -> the name of its width sweep: its target ("harmonics of degree 1, 2, 3 on S^2", "sines 1, 3, 7, 15
    Hz") plus any other config key that differs between the sweeps; runs that differ only by width, learning rate,
    seed or role (network, twin) are one series."""
    keys = {r.path: _condition(r.config) for r in runs}
    varying = sorted({k for r in runs for k in keys[r.path] if not k.startswith("target.")
                      and len({json.dumps(keys[o.path].get(k)) for o in runs}) > 1})
    return {r.path: " ".join([target_text(r.config)] + [f"{k.rsplit('.', 1)[-1]}={keys[r.path].get(k)}"
                                                       for k in varying]) for r in runs}


def target_text(config: dict) -> str:
    target = config.get("target") or {}
    if target.get("kind") == "harmonics":
        degrees = ", ".join(str(d) for d in target.get("degrees") or [])
        return f"harmonics of degree {degrees} on S^{int(target.get('input_dim', 3)) - 1}"
    return "sines " + ", ".join(f"{f:g}" for f in target.get("freqs_hz") or []) + " Hz"


def _condition(config: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_condition(value, f"{prefix}{key}."))
        elif key not in SWEPT_KEYS and key not in IDENTITY_KEYS:
            out[f"{prefix}{key}"] = value
    return out


# ---- per-run views of the cached analyses ---------------------------------------------------------------------

@dataclass(frozen=True)
class KernelView:
    """The ntk analysis of one run: drift of K from step 0, and per eigendirection of K_0 the rates."""

    facts: RunFacts
    drift_steps: np.ndarray
    drift: np.ndarray  # ||K_t - K_0||_F / ||K_0||_F
    eigenvalues: np.ndarray  # of K_0 = J_0 J_0^T, descending (top k)
    predicted_rate: np.ndarray  # -ln|1 - a_eff lambda| per step
    observed_rate: np.ndarray
    initial_component: np.ndarray
    span_steps: float  # steps the rates were measured over

    @property
    def final_drift(self) -> float:
        return float(self.drift[-1]) if len(self.drift) else math.nan

    @property
    def ratio(self) -> np.ndarray:
        with np.errstate(divide="ignore", invalid="ignore"):
            return self.observed_rate / self.predicted_rate

    @property
    def moving(self) -> np.ndarray:
        """Directions the linearised GD moves (>= MOVING_DECAY e-folds over the run), with a residual component of
        at least MIN_SHARE of the residual's norm and a measured rate."""
        scale = float(np.linalg.norm(self.initial_component))
        return ((self.predicted_rate * self.span_steps >= MOVING_DECAY)
                & (np.abs(self.initial_component) >= MIN_SHARE * scale) & np.isfinite(self.ratio))

    def deviations(self) -> np.ndarray:
        """|log(observed / predicted)| of the moving directions (inf where the component grew instead)."""
        ratio = self.ratio[self.moving]
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(ratio > 0, np.abs(np.log(np.where(ratio > 0, ratio, 1.0))), np.inf)


def kernel_view(context) -> KernelView:
    return context.memo("theory: ntk", lambda: _kernel_view(context))


class KernelClaim(Claim):
    """A claim read off the ntk analysis of the regime's runs: the jobs and the per-run view its claims share."""

    def jobs(self, options) -> list:
        return theory_jobs("ntk")

    def extract(self, run, context) -> KernelView | None:
        return kernel_view(context) if in_regime(run.config) else None


def _kernel_view(context) -> KernelView:
    result = context.result("ntk")
    table = result.table
    steps = result.projection_steps
    return KernelView(run_facts(context.run.config), result.drift["step"].to_numpy(np.int64),
                      result.drift["relative_change"].to_numpy(np.float64),
                      table["eigenvalue"].to_numpy(np.float64), table["predicted_rate"].to_numpy(np.float64),
                      table["observed_rate"].to_numpy(np.float64), table["initial_component"].to_numpy(np.float64),
                      float(steps[-1] - steps[0]) if len(steps) else 0.0)


@dataclass(frozen=True)
class ModeRates:
    """Per target mode (degree, or frequency in Hz) the residual's convergence rate per step; a mode whose residual
    never falls to 0.9 of its start is censored (slower than every measured one) with its end fraction kept."""

    modes: np.ndarray
    unit: str
    rates: np.ndarray  # NaN where censored
    end_fraction: np.ndarray  # residual at the end / at the start

    def order_values(self) -> np.ndarray:
        """Slowness per mode, ascending in slowness: -rate where measured, above every measured one where censored
        (ordered among themselves by how little they fell)."""
        censored = ~np.isfinite(self.rates)
        measured = -self.rates[~censored]
        top = float(measured.max()) if len(measured) else 0.0
        return np.where(censored, top + 1.0 + np.nan_to_num(self.end_fraction, nan=1.0), -np.nan_to_num(self.rates))


def mode_rates(context) -> ModeRates:
    """From the cached spectrum (what the Alvarez & Choe claims read anyway): rates fitted as the harmonics analysis
    does."""
    from analyzer.analyses.harmonics import convergence_rate

    spectrum = context.result("spectrum")
    rates, ends = [], []
    for column in range(spectrum.rel_error.shape[1]):
        errors = spectrum.rel_error[:, column]
        rates.append(convergence_rate(spectrum.steps, errors).rate)
        ends.append(float(errors[-1] / errors[0]) if errors[0] > 0 else math.nan)
    order = np.argsort(spectrum.target_modes)
    return ModeRates(np.asarray(spectrum.target_modes, np.float64)[order], spectrum.mode_unit,
                     np.asarray(rates)[order], np.asarray(ends)[order])


@dataclass(frozen=True)
class DegreeRates:
    """The harmonics analysis of one run, its target degrees only: observed rate and the GD rates predicted by the
    closed-form kernel (infinite width) and by the run's empirical kernel at init."""

    degrees: np.ndarray
    rate: np.ndarray
    gd_rate: np.ndarray
    gd_rate_empirical: np.ndarray
    eigenvalue: np.ndarray  # closed form
    eigenvalue_empirical: np.ndarray


def degree_rates(context) -> DegreeRates | None:
    if not is_harmonics(context.run.config):
        return None
    table = context.result("harmonics").table
    rows = table[table.in_target]
    return DegreeRates(*(rows[c].to_numpy(np.float64) for c in ("degree", "rate", "gd_rate", "gd_rate_empirical",
                                                                "ntk_eigenvalue", "ntk_eigenvalue_empirical")))
