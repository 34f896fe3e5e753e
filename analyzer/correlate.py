"""Are frequency jumps closer to escapes from loss plateaus than chance? A permutation test, one run or pooled.

Seed 000 claims that jumps in frequency learning "often occurred near plateau edges", escapes from saddles
triggering progress. For every jump (from `analyzer.spectrum`) we take the distance to the nearest reference
point of the loss curve (from `analyzer.plateaus`) and compare the mean distance with a null in which each
run's jumps are placed independently and uniformly at random over the run's prediction range while its
reference points stay fixed.

Reference points. "escapes" (default): the midpoint of each loss drop that ends a plateau. "edges": the
plateau edges themselves. A frequency is learned during the drop, so its jump sits between the end of one
plateau and the start of the next; where drops are as long as the plateaus (the known-answer runs with
u0 = 1e-2, bench/RESULTS.md) a jump is then half a drop away from both edges, and the edge statistic could
not tell a jump placed exactly mid-escape from chance (p < 0.01 on 8 of 20 known-answer runs, against 20 of
20 for escapes). Where drops are short both references coincide.

The default null is uniform in u = log10(step + 1), with distances measured in decades of u: learning
proceeds in stages evenly spread in log-step (1 Hz by ~10 steps, 3 Hz by ~300, 7 Hz by ~3,000), and so do
plateau edges, so on a linear step axis any two log-distributed point sets look close at early steps and
a linear-uniform null (`null="uniform"`, distances in steps) would reject for that reason alone.

Caveat to read the result with: the loss is the sum of the frequency residuals (Parseval), so a frequency
being learned lowers the loss by construction. Proximity of jumps and loss edges is therefore expected
mechanically and is not by itself evidence that saddles cause the jumps.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analyzer.errors import BadInputError
from analyzer.registry import register

NULLS = ("log-uniform", "uniform")
STATISTICS = ("mean_distance", "hit_fraction")
JUMP_SETS = ("all", "main")
REFERENCES = ("escapes", "edges")


@dataclass(frozen=True)
class CorrelateParams:
    """Options of `analyze correlate`.

    Args:
        n_permutations: null draws; the smallest reachable p-value is 1 / (n_permutations + 1).
        seed: seed of the null draws.
        null: "log-uniform" (jumps uniform in log10(step+1), distances in decades) or "uniform" (in steps).
        statistic: "mean_distance" (mean jump-to-nearest-edge distance; small means association) or
            "hit_fraction" (fraction of jumps within `tolerance` of an edge; large means association).
        tolerance: hit distance for "hit_fraction", in the null's units (decades or steps).
        jumps: "all" detected jumps, or only the "main" (largest) jump of each frequency.
        reference: "escapes" (midpoints of the loss drops that end plateaus) or plateau "edges".
        threshold: relative-error threshold passed to the spectrum analysis.
        alpha: significance level used in the plain-sentence conclusion.
    """

    n_permutations: int = 9999
    seed: int = 0
    null: str = "log-uniform"
    statistic: str = "mean_distance"
    tolerance: float = 0.1
    jumps: str = "all"
    reference: str = "escapes"
    threshold: float = 0.1
    alpha: float = 0.05

    def __post_init__(self):
        if not self.n_permutations >= 1:
            raise ValueError(f"n_permutations must be at least 1, got {self.n_permutations}")
        for name, value, allowed in (("null", self.null, NULLS), ("statistic", self.statistic, STATISTICS),
                                     ("jumps", self.jumps, JUMP_SETS), ("reference", self.reference, REFERENCES)):
            if value not in allowed:
                raise ValueError(f"unknown {name} {value!r}; choose one of {', '.join(allowed)}")
        if not self.tolerance > 0:
            raise ValueError(f"tolerance must be positive, got {self.tolerance}")
        if not self.threshold > 0:
            raise ValueError(f"threshold must be positive, got {self.threshold}")
        if not 0 < self.alpha < 1:
            raise ValueError(f"alpha must be in (0, 1), got {self.alpha}")


@dataclass(frozen=True)
class CorrelateResult:
    """Jump-to-reference distances and the permutation test.

    `effect_size` is (null mean - observed) / null std for "mean_distance" and (observed - null mean) /
    null std for "hit_fraction": in units of the null's standard deviation, positive when jumps sit closer
    to the reference points than chance. `distance_units` says whether statistics are in decades of
    log10(step+1) or steps.
    p_value, effect_size and the statistics are None/NaN when there is nothing to test.
    """

    distances: pd.DataFrame  # run, freq_hz, jump_step, nearest_reference_step, distance_steps, distance
    p_value: float | None
    effect_size: float | None
    observed_statistic: float | None
    null_mean: float | None
    null_std: float | None
    n_jumps: int
    n_reference_points: int
    n_runs: int
    reference: str
    statistic: str
    null: str
    distance_units: str
    conclusion: str

    def headline(self) -> str:
        return self.conclusion

    def tables(self) -> dict[str, pd.DataFrame]:
        points, point = _REFERENCE_NAMES[self.reference]
        summary = pd.DataFrame({
            "quantity": ["runs", "jumps tested", points, "statistic", "observed", "null mean",
                         "effect size (null std)", "p-value"],
            "value": [str(self.n_runs), str(self.n_jumps), str(self.n_reference_points),
                      f"{self.statistic} ({self.distance_units})",
                      _fmt(self.observed_statistic), _fmt(self.null_mean), _fmt(self.effect_size), _fmt(self.p_value)]})
        return {"permutation test": summary, f"jump to nearest {point}": self.distances}


_REFERENCE_NAMES = {"escapes": ("loss-drop midpoints", "loss-drop midpoint"),  # (plural, singular)
                    "edges": ("plateau edges", "plateau edge")}


def _fmt(value) -> str:
    return "-" if value is None or value != value else f"{value:.4g}"


def _scale(steps, null: str) -> np.ndarray:
    steps = np.asarray(steps, dtype=np.float64)
    return np.log10(steps + 1.0) if null == "log-uniform" else steps


def _nearest(points: np.ndarray, sorted_edges: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each point to the nearest edge, and that edge's index; any shape of points."""
    right = np.clip(np.searchsorted(sorted_edges, points), 1, len(sorted_edges) - 1) if len(sorted_edges) > 1 \
        else np.zeros(points.shape, dtype=np.int64)
    left = np.maximum(right - 1, 0)
    d_left, d_right = np.abs(points - sorted_edges[left]), np.abs(points - sorted_edges[right])
    return np.minimum(d_left, d_right), np.where(d_left <= d_right, left, right)


def permutation_test(jump_steps_per_run, reference_steps_per_run, run_lengths, params: CorrelateParams) -> dict:
    """The permutation test on arrays, pooled over runs.

    Args:
        jump_steps_per_run: per run, the jump steps.
        reference_steps_per_run: per run, the reference steps, escapes or edges (fixed under the null).
        run_lengths: per run, the last step L (range [0, L]) or a (first, last) pair.
    Returns:
        dict with observed, null_mean, null_std, p_value, effect_size, n_jumps (jumps in runs with reference points),
        and null (the (n_permutations,) null statistics); statistics are NaN when no jump can be tested.
    """
    rng = np.random.default_rng(params.seed)
    observed_parts, null_parts = [], []
    for jumps, edges, span in zip(jump_steps_per_run, reference_steps_per_run, run_lengths):
        first, last = (0, span) if np.ndim(span) == 0 else span
        edges_u = np.sort(_scale(edges, params.null))
        jumps_u = _scale(jumps, params.null)
        if len(edges_u) == 0 or len(jumps_u) == 0:
            continue  # a jump has no distance to a missing edge; such runs cannot inform the test
        low, high = _scale([first, last], params.null)
        observed_parts.append(_nearest(jumps_u, edges_u)[0])
        null_parts.append(_nearest(rng.uniform(low, high, (params.n_permutations, len(jumps_u))), edges_u)[0])
    n_jumps = sum(len(p) for p in observed_parts)
    if n_jumps == 0:
        nan = float("nan")
        return {"observed": nan, "null_mean": nan, "null_std": nan, "p_value": nan, "effect_size": nan,
                "n_jumps": 0, "null": np.empty(0)}
    observed_d, null_d = np.concatenate(observed_parts), np.concatenate(null_parts, axis=1)
    if params.statistic == "mean_distance":
        observed, null = float(observed_d.mean()), null_d.mean(axis=1)
        extreme, sign = np.sum(null <= observed), 1.0  # small distances are the association
    else:
        observed, null = float(np.mean(observed_d <= params.tolerance)), np.mean(null_d <= params.tolerance, axis=1)
        extreme, sign = np.sum(null >= observed), -1.0
    null_std = float(null.std(ddof=1)) if len(null) > 1 else float("nan")
    effect = sign * (float(null.mean()) - observed) / null_std if null_std > 0 else float("nan")
    return {"observed": observed, "null_mean": float(null.mean()), "null_std": null_std,
            "p_value": float((1 + extreme) / (1 + params.n_permutations)), "effect_size": effect,
            "n_jumps": n_jumps, "null": null}


@dataclass(frozen=True)
class RunEvents:
    """What the test needs from one run: its name, jumps (step, freq), reference points and prediction range."""

    name: str
    jump_steps: np.ndarray
    jump_freqs_hz: np.ndarray
    reference_steps: np.ndarray
    first_step: int
    last_step: int


def run_events(run, params: CorrelateParams, use_cache: bool = False, edge_method: str = "changepoint") -> RunEvents:
    """Jumps from the spectrum analysis, escapes or edges from the plateaus analysis of one open run."""
    from analyzer.api import analyze

    spectrum = analyze(run, "spectrum", use_cache=use_cache, threshold=params.threshold)
    plateaus = analyze(run, "plateaus", use_cache=use_cache)
    return events_from(Path(run.path).stem, spectrum, plateaus, params, edge_method)


def events_from(name: str, spectrum, plateaus, params: CorrelateParams, edge_method: str = "changepoint") -> RunEvents:
    """The events of one run from its spectrum (computed at params.threshold) and plateaus results."""
    if params.jumps == "all":
        jump_steps, jump_freqs = spectrum.jumps.step.to_numpy(), spectrum.jumps.freq_hz.to_numpy()
    else:
        main = spectrum.learning.dropna(subset=["jump_step"])
        jump_steps, jump_freqs = main.jump_step.to_numpy(), main.freq_hz.to_numpy()
    points = plateaus.escape_steps() if params.reference == "escapes" else plateaus.edge_steps(method=edge_method)
    reference = np.asarray(points, dtype=np.float64)
    return RunEvents(name, np.asarray(jump_steps, dtype=np.float64), np.asarray(jump_freqs, float),
                     reference, int(spectrum.steps[0]), int(spectrum.steps[-1]))


def correlate_events(events: list[RunEvents], params: CorrelateParams) -> CorrelateResult:
    """The pooled test and the distance table for already-extracted events."""
    outcome = permutation_test([e.jump_steps for e in events], [e.reference_steps for e in events],
                               [(e.first_step, e.last_step) for e in events], params)
    units = "decades of log10(step+1)" if params.null == "log-uniform" else "steps"
    return CorrelateResult(
        distances=_distance_table(events, params), p_value=_none_if_nan(outcome["p_value"]),
        effect_size=_none_if_nan(outcome["effect_size"]), observed_statistic=_none_if_nan(outcome["observed"]),
        null_mean=_none_if_nan(outcome["null_mean"]), null_std=_none_if_nan(outcome["null_std"]),
        n_jumps=int(outcome["n_jumps"]), n_reference_points=int(sum(len(e.reference_steps) for e in events)),
        n_runs=len(events), reference=params.reference, statistic=params.statistic, null=params.null,
        distance_units=units,
        conclusion=_conclusion(outcome, events, params, units))


def _distance_table(events: list[RunEvents], params: CorrelateParams) -> pd.DataFrame:
    rows = []
    for e in events:
        edges = np.sort(e.reference_steps)
        for step, freq in zip(e.jump_steps, e.jump_freqs_hz):
            if len(edges) == 0:
                rows.append((e.name, freq, step, np.nan, np.nan, np.nan))
                continue
            distance, index = _nearest(_scale([step], params.null), _scale(edges, params.null))
            edge = edges[int(index[0])]
            rows.append((e.name, freq, step, edge, abs(step - edge), float(distance[0])))
    columns = ["run", "freq_hz", "jump_step", "nearest_reference_step", "distance_steps", "distance"]
    return pd.DataFrame(rows, columns=columns).astype({c: np.float64 for c in columns[1:]})


def _none_if_nan(value: float) -> float | None:
    return None if value != value else float(value)


def _conclusion(outcome: dict, events: list[RunEvents], params: CorrelateParams, units: str) -> str:
    where = f"{len(events)} runs pooled" if len(events) > 1 else "1 run"
    points = _REFERENCE_NAMES[params.reference][0]
    if outcome["n_jumps"] == 0:
        n_jumps = sum(len(e.jump_steps) for e in events)
        n_points = sum(len(e.reference_steps) for e in events)
        return (f"nothing to test ({where}): {n_jumps} frequency jumps, {n_points} {points}; "
                "a test needs jumps in runs that have them")
    p, verdict = outcome["p_value"], "closer" if outcome["p_value"] < params.alpha else "not closer"
    what = "mean distance" if params.statistic == "mean_distance" else f"fraction within {params.tolerance:g}"
    return (f"frequency jumps are {verdict} to {points} than chance (p={p:.3g}, {where}, "
            f"{outcome['n_jumps']} jumps; {what} {outcome['observed']:.3g} vs {outcome['null_mean']:.3g} "
            f"under the {params.null} null, {units})")


@register("correlate", params=CorrelateParams, result=CorrelateResult, version="2",
          summary="frequency jumps vs escapes from loss plateaus: distances and a permutation test")
def compute(run, params: CorrelateParams) -> CorrelateResult:
    """The test on one run (its spectrum and plateaus are computed afresh, not read from a cache)."""
    return correlate_events([run_events(run, params)], params)


def correlate_runs(runs, *, use_cache: bool = True, **params) -> CorrelateResult:
    """The test pooled over several runs (open Runs or paths); sub-analyses go through each run's cache."""
    from analyzer import registry
    from analyzer.run import Run, open_run

    if len(runs) == 0:
        raise BadInputError("correlate needs at least one run")
    parsed = registry.make_params(registry.get("correlate"), **params)
    events = []
    for run in runs:
        if isinstance(run, Run):
            events.append(run_events(run, parsed, use_cache))
        else:
            with open_run(run) as opened:
                events.append(run_events(opened, parsed, use_cache))
    events.sort(key=lambda e: e.name)  # the null draws, hence p, must not depend on the order runs are given
    return correlate_events(events, parsed)


def api(runs, **params) -> CorrelateResult:
    """`analyzer.correlate(run_or_runs, **params)`: the test on one run, or pooled over a list of runs."""
    return correlate_runs(list(runs) if isinstance(runs, (list, tuple)) else [runs], **params)
