"""Known-answer runs: the closed-form dynamics of the diagonal linear Fourier model (scored by compute.py beside it).

Model (trainer.models.DiagLinearFourier): f = sum_j c_j u_j v_j phi_j with orthonormal phi_j on the grid,
so the loss mean((f - y)^2) splits exactly into independent modes, L = sum_j (w_j - a_j)^2 + const, with
w_j = c_j u_j v_j and a_j = mean(phi_j y). Symmetric init u = v = u0 stays symmetric under GD, so one step
of torch SGD (lr eta, no momentum) is exactly

    u' = u (1 + 2 eta c (a - w)),    w' = w (1 + 2 eta c (a - w))^2,    w_0 = c u0^2.

Let r = w / a (learned fraction) and z = log(r / (1 - r)). Per step z grows by 2 log(1 + beta) near the
saddle (beta = 2 eta c a) and by -log(1 - 2 beta) near the minimum; to second order by 2 beta + beta^2 (3r - 1).
Integrating from z_0 = log(a / w_0 - 1) to 0 gives the half-learned (escape) step

    n_half = z_0 / (2 log(1 + beta)) - (3/4) log 2,

(the continuous-time logistic, dw/dt = 4 c w (a - w), gives the first-order z_0 / (4 eta c a)), and the
10-90 % rise width 2 log 9 / (2 beta + beta^2 / 2). `predict` also iterates the exact map, which matches a
float64 run to rounding, and is what plateau edges and Hessians are predicted from.

Hessian of mode j at u = v: [[2cw, 2c(2w - a)], [2c(2w - a), 2cw]], eigenvalues 2c(3w - a) along (1, 1) and
2c(a - w) along (1, -1). A target mode (a > 0) is a negative direction until r = 1/3 (lambda = -2ca on its
plateau); a feature outside the target (a = 0) keeps a tiny one, -2 c w; a learned mode has none.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analyzer.errors import BadInputError

RISE_START, HALF, RISE_END = 0.1, 0.5, 0.9  # learned fractions r: a plateau ends/starts at the 10/90 % points
# a gap between escapes shorter than this many widths of the rise that ends it is no plateau: the loss never
# flattens there, so the two escapes count as one transition
MIN_PLATEAU_WIDTHS = 0.5


@dataclass(frozen=True)
class ModeSystem:
    """The independent modes of one configuration: coefficients a, scales c, init w_0, learning rate."""

    freqs_hz: np.ndarray  # (2K,) integer frequency of each feature
    basis: tuple[str, ...]  # "sin" / "cos" per feature
    scales: np.ndarray  # (2K,) c_j = k^-p
    coeffs: np.ndarray  # (2K,) a_j = mean(phi_j y) on the training grid
    init_w: np.ndarray  # (2K,) w_0 = c u0^2
    lr: float
    epochs: int
    ckpt_every: int = 1

    @classmethod
    def from_config(cls, config: dict) -> "ModeSystem":
        """Build from a run's config dict (as stored in the run file)."""
        import json

        from analyzer.io.optimizer import is_plain_gd, plain_gd_names
        from trainer.config import TrainConfig
        from trainer.targets import make_data

        refuse_foreign(config)
        cfg = TrainConfig.from_json(json.dumps(config))
        if cfg.model.kind != "diag-linear":
            raise BadInputError(f"known answers exist only for model kind diag-linear, not {cfg.model.kind!r}")
        if not is_plain_gd(cfg.optimizer):
            raise BadInputError(f"known answers assume plain gradient descent (optimizer {plain_gd_names()}), "
                                f"not {cfg.optimizer!r}")
        data = make_data(cfg.target)
        k = np.repeat(np.arange(1, cfg.model.features + 1, dtype=np.float64), 2)
        phase = 2 * np.pi * data["x_train"].reshape(-1, 1) * k
        is_sin = np.arange(k.size) % 2 == 0
        phi = np.sqrt(2.0) * np.where(is_sin, np.sin(phase), np.cos(phase))
        scales = k ** (-cfg.model.feature_decay)
        coeffs = phi.T @ data["y_train"][:, 0] / len(phi)
        # features absent from the target project to rounding noise; exact zeros keep them from "escaping"
        coeffs[np.abs(coeffs) < 1e-12 * max(np.abs(coeffs).max(), 1e-300)] = 0.0
        return cls(freqs_hz=k, basis=tuple("sin" if s else "cos" for s in is_sin), scales=scales,
                   coeffs=coeffs, init_w=scales * cfg.model.init_scale ** 2,
                   lr=float(cfg.lr), epochs=int(cfg.epochs), ckpt_every=int(cfg.ckpt_every))

    def simulate(self, steps: int | None = None) -> np.ndarray:
        """(steps + 1, 2K) w_j after each number of GD steps, from the exact symmetric map."""
        steps = self.epochs if steps is None else steps
        w = self.init_w.copy()
        history = np.empty((steps + 1, w.size))
        history[0] = w
        for n in range(steps):
            w = w * (1 + 2 * self.lr * self.scales * (self.coeffs - w)) ** 2
            history[n + 1] = w
        return history

    def escape_closed_form(self) -> np.ndarray:
        """Half-learned step of every mode (NaN where a <= 0: the mode never escapes)."""
        a, c, beta = self._positive_coeffs(), self.scales, 2 * self.lr * self.scales * self._positive_coeffs()
        z0 = np.log(a / self.init_w - 1)
        return z0 / (2 * np.log1p(beta)) - 0.75 * np.log(2)

    def escape_first_order(self) -> np.ndarray:
        """The continuous-time (gradient-flow) logistic's half-learned step, z_0 / (4 eta c a)."""
        a = self._positive_coeffs()
        return np.log(a / self.init_w - 1) / (4 * self.lr * self.scales * a)

    def width_closed_form(self) -> np.ndarray:
        """Steps from 10 % to 90 % learned."""
        beta = 2 * self.lr * self.scales * self._positive_coeffs()
        return 2 * np.log(9) / (2 * beta + beta ** 2 / 2)

    def hessian_eigenvalues(self, w: np.ndarray) -> np.ndarray:
        """(2K, 2) closed-form Hessian eigenvalues of each mode at u = v, w = c u^2."""
        c, a = self.scales, self.coeffs
        return np.stack([2 * c * (3 * w - a), 2 * c * (a - w)], axis=1)

    def _positive_coeffs(self) -> np.ndarray:
        return np.where(self.coeffs > 0, self.coeffs, np.nan)


def refuse_foreign(config: dict) -> None:
    """Imported and logged runs hold no trainer config to replay: no known answer exists for them."""
    if config.get("source", "train") != "train":
        raise BadInputError("known answers exist only for `train run --preset diag-linear` runs; this run was "
                            f"written by {'train import' if config.get('source') == 'import' else 'another loop'}")


def crossing_step(fraction_history: np.ndarray, fraction: float) -> float:
    """First step where a learned fraction r crosses `fraction`, interpolated linearly in log-odds; NaN if never."""
    above = np.flatnonzero(fraction_history >= fraction)
    if above.size == 0:
        return float("nan")
    n = int(above[0])
    if n == 0:
        return 0.0
    logit = lambda r: np.log(np.clip(r, 1e-300, None)) - np.log(np.clip(1 - r, 1e-300, None))  # noqa: E731
    before, after, target = logit(fraction_history[n - 1]), logit(fraction_history[n]), logit(fraction)
    return float(n - 1 + (target - before) / (after - before))


@dataclass(frozen=True)
class KnownAnswer:
    """The truth for one run: per-mode escapes, the plateaus between them, and the Hessian on each plateau.

    `modes`: one row per feature with a > 0: feature, freq_hz, basis, scale, coeff, escape_step (exact map,
    r = 1/2), escape_closed_form, escape_first_order, rise_start_step, rise_end_step (r = 0.1, 0.9),
    width_steps (exact map) and width_closed_form. `plateaus`: plateau, start_step, end_step, length,
    mid_step, hessian_step (mid rounded to a checkpoint), index_count, lambda_min, smallest_abs_eigenvalue.
    """

    system: ModeSystem
    history: np.ndarray  # (epochs + 1, 2K) w after each step
    modes: pd.DataFrame
    plateaus: pd.DataFrame
    index_tol: float  # an eigenvalue is negative below -index_tol * max |eigenvalue| (the Hessian analysis' rule)

    def eigenvalues_at(self, step: int) -> np.ndarray:
        return np.sort(self.system.hessian_eigenvalues(self.history[int(step)]).ravel())

    def index_at(self, step: int) -> int:
        return count_negative(self.eigenvalues_at(step), self.index_tol)

    def rel_error(self, freq_hz: float) -> np.ndarray:
        """(epochs + 1,) |h_k - y_k| / |y_k| of the prediction's DFT coefficient at freq_hz, per step."""
        mask = self.system.freqs_hz == freq_hz
        a = self.system.coeffs[mask]
        return np.linalg.norm(self.history[:, mask] - a, axis=1) / np.linalg.norm(a)


def count_negative(eigenvalues: np.ndarray, index_tol: float) -> int:
    return int(np.sum(eigenvalues < -index_tol * np.abs(eigenvalues).max()))


def predict(source, index_tol: float = 0.0) -> KnownAnswer:
    """The closed-form answer for a run, a run path, a TrainConfig or a config dict.

    Args:
        index_tol: an eigenvalue counts as negative below -index_tol * max |eigenvalue|.
    """
    system = ModeSystem.from_config(_config_dict(source))
    history = system.simulate()
    modes = _modes_table(system, history)
    return KnownAnswer(system, history, modes, _plateaus_table(system, history, modes, index_tol), float(index_tol))


def _config_dict(source) -> dict:
    import dataclasses
    from pathlib import Path

    if isinstance(source, dict):
        return source
    if dataclasses.is_dataclass(source):
        return dataclasses.asdict(source)
    if isinstance(source, (str, Path)):
        from analyzer.io.run import open_run

        with open_run(source) as run:
            return run.config
    return source.config  # an open Run


def _modes_table(system: ModeSystem, history: np.ndarray) -> pd.DataFrame:
    rows = []
    closed, first, width = system.escape_closed_form(), system.escape_first_order(), system.width_closed_form()
    for j in np.flatnonzero(system.coeffs > 0):
        fraction = history[:, j] / system.coeffs[j]
        start, half, end = (crossing_step(fraction, f) for f in (RISE_START, HALF, RISE_END))
        rows.append({"feature": int(j), "freq_hz": float(system.freqs_hz[j]), "basis": system.basis[j],
                     "scale": float(system.scales[j]), "coeff": float(system.coeffs[j]),
                     "escape_step": half, "escape_closed_form": float(closed[j]),
                     "escape_first_order": float(first[j]), "rise_start_step": start, "rise_end_step": end,
                     "width_steps": end - start, "width_closed_form": float(width[j])})
    columns = ["feature", "freq_hz", "basis", "scale", "coeff", "escape_step", "escape_closed_form",
               "escape_first_order", "rise_start_step", "rise_end_step", "width_steps", "width_closed_form"]
    return pd.DataFrame(rows, columns=columns).sort_values("escape_closed_form", ignore_index=True)


def _loss_drops(modes: pd.DataFrame) -> list[tuple[float, float]]:
    """(first 10 % point, last 90 % point) of each group of escapes with no plateau between them, in the run."""
    groups: list[list[float]] = []
    for row in modes.dropna(subset=["rise_end_step"]).sort_values("rise_start_step").itertuples():
        if groups and row.rise_start_step - groups[-1][1] < MIN_PLATEAU_WIDTHS * row.width_steps:
            groups[-1][1] = max(groups[-1][1], row.rise_end_step)
        else:
            groups.append([row.rise_start_step, row.rise_end_step])
    return [(start, end) for start, end in groups]


def _plateaus_table(system: ModeSystem, history: np.ndarray, modes: pd.DataFrame, index_tol: float) -> pd.DataFrame:
    """Plateaus: from step 0 (or the end of an escape) to the start of the next escape that completes in the run."""
    rows, previous_end = [], 0.0
    for start, end in _loss_drops(modes):
        mid = 0.5 * (previous_end + start)
        ckpt = min(system.ckpt_every * round(mid / system.ckpt_every), system.epochs)
        eig = system.hessian_eigenvalues(history[ckpt]).ravel()
        rows.append({"plateau": len(rows), "start_step": previous_end, "end_step": start,
                     "length": start - previous_end, "mid_step": mid, "hessian_step": int(ckpt),
                     "index_count": count_negative(eig, index_tol), "lambda_min": float(eig.min()),
                     "smallest_abs_eigenvalue": float(np.abs(eig).min())})
        previous_end = end
    columns = ["plateau", "start_step", "end_step", "length", "mid_step", "hessian_step", "index_count",
               "lambda_min", "smallest_abs_eigenvalue"]
    return pd.DataFrame(rows, columns=columns)
