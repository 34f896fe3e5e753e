"""Known-answer runs: the closed-form dynamics of the diagonal linear Fourier model, and scores against it.

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
from analyzer.registry import register

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

        from trainer.config import TrainConfig
        from trainer.targets import make_data

        cfg = TrainConfig.from_json(json.dumps(config))
        if cfg.model.kind != "diag-linear":
            raise BadInputError(f"known answers exist only for model kind diag-linear, not {cfg.model.kind!r}")
        if cfg.optimizer != "sgd":
            raise BadInputError(f"known answers assume plain gradient descent (optimizer sgd), not {cfg.optimizer!r}")
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
        from analyzer.run import open_run

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


def _transitions(modes: pd.DataFrame) -> list[tuple[float, float]]:
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
    for start, end in _transitions(modes):
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


# ---- scoring: every detector against the known answer ------------------------------------------------

SCORE_COLUMNS = ["quantity", "freq_hz", "plateau", "predicted", "detected", "error", "error_fraction", "tolerance",
                 "ok"]


@dataclass(frozen=True)
class ScoreParams:
    """Options of `analyze score`.

    Args:
        edge_tolerance: a plateau edge is right within this fraction of the predicted plateau length.
        alpha: the correlation test must reject at this level (required with >= 3 predicted plateaus).
        index_tol: relative tolerance of the Hessian index, passed to the Hessian analysis; the default sits
            between the model's tiniest true negative curvature (-2 c^2 u0^2) and float64 rounding.
        lambda_rtol: relative tolerance of lambda_min.
    """

    edge_tolerance: float = 0.05
    alpha: float = 0.01
    index_tol: float = 1e-12
    lambda_rtol: float = 1e-6

    def __post_init__(self):
        for name in ("edge_tolerance", "index_tol", "lambda_rtol"):
            if not getattr(self, name) > 0:
                raise ValueError(f"{name} must be positive, got {getattr(self, name)}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")


@dataclass(frozen=True)
class ScoreResult:
    """Predicted vs detected, one row per predicted item (SCORE_COLUMNS), and the headline numbers.

    `nearest_change_point` rows (the segmentation alone, before the flatness test) and `correlation_p_edges`
    (the test against plateau edges instead of escapes) are diagnostics and do not enter the summary. error is
    in steps (edges, jumps, learned steps), eigenvalue units (lambda_min), counts (index) or the p-value
    itself (correlation); error_fraction divides edge errors by the plateau length and jump errors
    by the sigmoid width. NaN detected means the detector found nothing to match.
    """

    table: pd.DataFrame
    n_plateaus_predicted: int
    n_plateaus_detected: int
    # None where undefined or infinite: a missed edge or jump counts as infinitely wrong
    median_edge_error: float | None  # fraction of plateau length
    worst_edge_error: float | None
    median_jump_error: float | None  # fraction of the sigmoid width
    worst_jump_error: float | None
    index_exact: bool
    p_value: float | None
    correlation_required: bool
    passed: bool
    missing: list  # analyses that are not available

    def headline(self) -> str:
        verdict = "all targets met" if self.passed else "targets missed"
        p = "-" if self.p_value is None else f"{self.p_value:.3g}"
        text = (f"{verdict}: {self.n_plateaus_detected} plateaus detected for {self.n_plateaus_predicted} predicted, "
                f"edge error median {_pct(self.median_edge_error)} worst {_pct(self.worst_edge_error)} of plateau "
                f"length; jump error median {_pct(self.median_jump_error)} of the sigmoid width; Hessian index "
                f"{'exact' if self.index_exact else 'wrong'}; correlation p={p}")
        return text + (f"; not available: {', '.join(self.missing)}" if self.missing else "")

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"predicted vs detected": self.table}


def _pct(fraction: float | None) -> str:
    return "n/a (missed)" if fraction is None else f"{fraction:.1%}"


@register("score", params=ScoreParams, result=ScoreResult, version="2",
          summary="known-answer run (diag-linear): every detector scored against the closed form")
def compute(run, params: ScoreParams) -> ScoreResult:
    from analyzer import registry
    from analyzer.api import analyze

    known = predict(run, params.index_tol)
    available = set(registry.names())
    missing = [name for name in ("plateaus", "spectrum", "hessian", "correlate") if name not in available]
    rows: list[dict] = []
    n_detected = 0
    if "plateaus" not in missing:
        found = analyze(run, "plateaus", use_cache=False)
        n_detected = len(found.plateaus())
        rows += _edge_rows(known, found.plateaus(), params)
        rows += _change_point_rows(known, np.asarray(found.change_points, dtype=np.float64), params)
    if "spectrum" not in missing:
        rows += _spectrum_rows(known, analyze(run, "spectrum", use_cache=False), run)
    if "hessian" not in missing and len(known.plateaus):
        steps = tuple(int(s) for s in known.plateaus.hessian_step)
        table = analyze(run, "hessian", use_cache=False, at="steps", steps=steps, method="dense",
                        index_tol=params.index_tol).table
        rows += _hessian_rows(known, table, params)
    p_value = None
    if "correlate" not in missing:
        p_value = analyze(run, "correlate", use_cache=False).p_value
        rows.append(_row("correlation_p", np.nan, np.nan, params.alpha, p_value, p_value, np.nan, params.alpha,
                         p_value is not None and p_value < params.alpha))
        p_edges = analyze(run, "correlate", use_cache=False, reference="edges").p_value  # diagnostic only
        rows.append(_row("correlation_p_edges", np.nan, np.nan, params.alpha, p_edges, p_edges, np.nan, params.alpha,
                         p_edges is not None and p_edges < params.alpha))
    return _summarise(pd.DataFrame(rows, columns=SCORE_COLUMNS), known, n_detected, p_value, params, missing)


def _row(quantity, freq_hz, plateau, predicted, detected, error, error_fraction, tolerance, ok) -> dict:
    values = (quantity, freq_hz, plateau, predicted, detected, error, error_fraction, tolerance, ok)
    return dict(zip(SCORE_COLUMNS, [v if v is not None else np.nan for v in values]))


def _edge_rows(known: KnownAnswer, detected: pd.DataFrame, params: ScoreParams) -> list[dict]:
    """Each predicted plateau against the detected plateau that overlaps it most."""
    rows = []
    escapes = known.modes.sort_values("rise_start_step")
    for plateau in known.plateaus.itertuples():
        match = _best_overlap(detected, plateau.start_step, plateau.end_step)
        edges = [("plateau_end", plateau.end_step, None if match is None else match.end_step + 1,
                  _nearest_freq(escapes, "rise_start_step", plateau.end_step))]
        if plateau.start_step > 0:  # the escape before the plateau; the run's step 0 is no edge
            edges.insert(0, ("plateau_start", plateau.start_step, None if match is None else match.start_step,
                             _nearest_freq(escapes, "rise_end_step", plateau.start_step)))
        for quantity, predicted, found, freq in edges:
            error = np.nan if found is None else abs(found - predicted)
            tolerance = params.edge_tolerance * plateau.length
            rows.append(_row(quantity, freq, plateau.plateau, predicted, found, error, error / plateau.length,
                             tolerance, bool(error <= tolerance)))
    return rows


def _change_point_rows(known: KnownAnswer, change_points: np.ndarray, params: ScoreParams) -> list[dict]:
    """Diagnostic: every predicted edge against the nearest change point, whether or not a plateau was declared."""
    rows = []
    for plateau in known.plateaus.itertuples():
        for predicted in (plateau.start_step, plateau.end_step)[1 if plateau.start_step == 0 else 0:]:
            found = change_points[np.argmin(np.abs(change_points - predicted))] if len(change_points) else np.nan
            error, tolerance = abs(found - predicted), params.edge_tolerance * plateau.length
            rows.append(_row("nearest_change_point", np.nan, plateau.plateau, predicted, found, error,
                             error / plateau.length, tolerance, bool(error <= tolerance)))
    return rows


def _best_overlap(detected: pd.DataFrame, start: float, end: float):
    overlap = np.minimum(detected.end_step + 1, end) - np.maximum(detected.start_step, start)
    if len(detected) == 0 or overlap.max() <= 0:
        return None
    return detected.iloc[int(np.argmax(overlap.to_numpy()))]


def _nearest_freq(escapes: pd.DataFrame, column: str, step: float) -> float:
    """The frequency whose escape starts (or ends) at this plateau edge."""
    nearest = np.argmin(np.abs(escapes[column].to_numpy() - step))
    return float(escapes.freq_hz.iloc[nearest])


def _spectrum_rows(known: KnownAnswer, spectrum, run) -> list[dict]:
    """Jump step vs the half-learned step (tolerance: half the width); learned step vs the exact map."""
    rows = []
    pred_steps = np.asarray(run.pred_steps)
    for entry in spectrum.learning.itertuples():
        modes = known.modes[known.modes.freq_hz == entry.freq_hz]
        if len(modes) == 0:
            continue
        main = modes.loc[modes.coeff.idxmax()]
        error = abs(entry.jump_step - main.escape_step)
        rows.append(_row("jump_step", entry.freq_hz, np.nan, main.escape_step, entry.jump_step, error,
                         error / main.width_steps, main.width_steps / 2, bool(error <= main.width_steps / 2)))
        learned = _stays_below(known.rel_error(entry.freq_hz)[pred_steps], pred_steps, spectrum.threshold)
        error = abs(entry.learned_step - learned)
        spacing = float(np.median(np.diff(pred_steps))) if len(pred_steps) > 1 else 1.0
        rows.append(_row("learned_step", entry.freq_hz, np.nan, learned, entry.learned_step, error,
                         error / main.width_steps, spacing, bool(error <= spacing)))
    return rows


def _stays_below(rel_error: np.ndarray, steps: np.ndarray, threshold: float) -> float:
    above = np.flatnonzero(rel_error >= threshold)
    if len(above) == 0:
        return float(steps[0])
    return float(steps[above[-1] + 1]) if above[-1] + 1 < len(steps) else np.nan


def _hessian_rows(known: KnownAnswer, table: pd.DataFrame, params: ScoreParams) -> list[dict]:
    rows = []
    for plateau in known.plateaus.itertuples():
        found = table.loc[table.step == plateau.hessian_step].iloc[0]
        error = abs(found.index_count - plateau.index_count)
        rows.append(_row("index", np.nan, plateau.plateau, plateau.index_count, found.index_count, error,
                         np.nan, 0, bool(error == 0)))
        error, tolerance = abs(found.lambda_min - plateau.lambda_min), params.lambda_rtol * abs(plateau.lambda_min)
        rows.append(_row("lambda_min", np.nan, plateau.plateau, plateau.lambda_min, found.lambda_min, error,
                         error / abs(plateau.lambda_min), tolerance, bool(error <= tolerance)))
    return rows


def _summarise(table: pd.DataFrame, known: KnownAnswer, n_detected: int, p_value, params: ScoreParams,
               missing: list) -> ScoreResult:
    edges = table[table.quantity.isin(["plateau_start", "plateau_end"])].error_fraction.fillna(np.inf)
    jumps = table[table.quantity == "jump_step"].error_fraction.fillna(np.inf)
    index = table[table.quantity == "index"]
    required = len(known.plateaus) >= 3
    stat = lambda values, fn: float(fn(values)) if len(values) and np.isfinite(fn(values)) else None  # noqa: E731
    median_edge = stat(edges, np.median)
    passed = (not missing and median_edge is not None and median_edge <= params.edge_tolerance and bool(index.ok.all())
              and (not required or (p_value is not None and p_value < params.alpha)))
    return ScoreResult(table=table, n_plateaus_predicted=len(known.plateaus), n_plateaus_detected=n_detected,
                       median_edge_error=median_edge, worst_edge_error=stat(edges, np.max),
                       median_jump_error=stat(jumps, np.median), worst_jump_error=stat(jumps, np.max),
                       index_exact=bool(len(index) and index.ok.all()), p_value=p_value,
                       correlation_required=required, passed=bool(passed), missing=missing)
