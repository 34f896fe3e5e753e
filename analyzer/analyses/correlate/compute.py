"""Are frequency (or degree) jumps closer to escapes from loss plateaus than chance? A permutation test, one run
or pooled.

Alvarez & Choe claims that jumps in frequency learning "often occurred near plateau edges", escapes from saddles
triggering progress. For every jump (from the spectrum analysis) we take the distance to the nearest reference
point of the loss curve (from the plateaus analysis) and compare the mean distance with a null in which each
run's jumps are placed independently and uniformly at random over the run's prediction range while its
reference points stay fixed.

Reference points. "escapes" (default): the midpoint of each loss drop that ends a plateau. "edges": the
plateau edges themselves. A frequency is learned during the drop, so its jump sits between the end of one
plateau and the start of the next; where drops are as long as the plateaus (the known-answer runs with
u0 = 1e-2, bench/RESULTS.md) a jump is then half a drop away from both edges, and the edge statistic could
not tell a jump placed exactly mid-escape from chance (p < 0.01 on 8 of 20 known-answer runs, against 20 of
20 for escapes). Where drops are short both references coincide.

Nulls (analyzer/stats/nulls, one class each). Distances are in decades of u = log10(step + 1): learning
proceeds in stages evenly spread in log-step, and so do plateau edges. Jumps and plateau edges both cluster
(early transients, preset-typical timing), so a null that redraws jumps uniformly (log-uniform, uniform) rejects
without any coupling; a null that swaps references between runs reads a clock the runs share (a seed that learns
everything earlier) as coupling. The default ("auto") is the null bench/null_calibration.py chose under
generative models that none of the nulls assumes (clock-swap), with shift (each run on its own) for a group of
one run when the default exchanges references between runs. The jumps' frequencies (or degrees) are passed as their
labels, from which the clock-aligned swap reads each run's clock.

On a harmonics run the jumps are those of the spherical-harmonic degrees (the spectrum analysis on that basis)
and the test is the same; runs on different bases (sine and harmonics runs) are not pooled: one pooled p-value
over two kinds of experiment would answer no single question, and the distance table's mode column (`freq_hz`
or `degree`) would mix units.

Caveat to read the result with: the loss is the sum of the frequency residuals (Parseval), so a frequency
being learned lowers the loss by construction. Proximity of jumps and loss edges is therefore expected
mechanically and is not by itself evidence that saddles cause the jumps.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from analyzer.analyses.correlate.params import CorrelateParams
from analyzer.analyses.correlate.permutation import nearest, permutation_test, scale_steps
from analyzer.analyses.correlate.result import DESCRIPTIVE, REFERENCE_NAMES, CorrelateResult
from analyzer.errors import BadInputError


@dataclass(frozen=True)
class RunEvents:
    """What the test needs from one run: its name, jumps (step, mode), reference points and prediction range.

    A jump's mode is a target frequency in Hz (mode_name "freq_hz", sine runs) or a spherical-harmonic degree
    ("degree", harmonics runs), as in the spectrum's tables.
    """

    name: str
    jump_steps: np.ndarray
    jump_modes: np.ndarray
    reference_steps: np.ndarray
    first_step: int
    last_step: int
    mode_name: str = "freq_hz"
    group: str = ""  # runs of one group are exchangeable under the swap null


MODE_NOUNS = {"freq_hz": "frequency", "degree": "degree"}  # what a jump is a jump of


def run_events(run, params: CorrelateParams, deps, edge_method: str | None = None) -> RunEvents:
    """Jumps from the run's spectrum (at params.threshold), escapes or edges from its plateaus, through deps."""
    spectrum = deps.get("spectrum", threshold=params.threshold)
    plateaus = deps.get("plateaus")
    events = events_from(Path(run.path).stem, spectrum, plateaus, params, edge_method)
    return dataclasses.replace(events, group=run_group(run.config))


def run_group(config: dict) -> str:
    """The group of a run for the swap null outside a study: its preset (imported runs: their model)."""
    if config.get("preset") is not None:
        return str(config["preset"])
    return str((config.get("model") or {}).get("constructor") or config.get("source") or "")


def events_from(name: str, spectrum, plateaus, params: CorrelateParams, edge_method: str | None = None) -> RunEvents:
    """The events of one run from its spectrum (computed at params.threshold) and plateaus results (edges: those of
    detector `edge_method`, None the default one)."""
    mode = spectrum.mode_name
    if params.jumps == "all":
        jump_steps, jump_modes = spectrum.jumps.step.to_numpy(), spectrum.jumps[mode].to_numpy()
    else:
        main = spectrum.learning.dropna(subset=["jump_step"])
        jump_steps, jump_modes = main.jump_step.to_numpy(), main[mode].to_numpy()
    points = plateaus.loss_drop_steps() if params.reference == "escapes" else plateaus.edge_steps(method=edge_method)
    reference = np.asarray(points, dtype=np.float64)
    return RunEvents(name, np.asarray(jump_steps, dtype=np.float64), _mode_labels(jump_modes, mode),
                     reference, int(spectrum.steps[0]), int(spectrum.steps[-1]), mode)


def _mode_labels(labels, mode_name: str) -> np.ndarray:
    """Frequencies as floats, degrees as integers (the spectrum's table columns)."""
    return np.asarray(labels, dtype=np.int64 if mode_name == "degree" else np.float64)


def correlate_events(events: list[RunEvents], params: CorrelateParams, strict: bool = True) -> CorrelateResult:
    """The pooled test and the distance table for already-extracted events (of runs on one kind of mode); strict:
    swap on a group of one run is bad input, else that group is left out with a note."""
    kinds = sorted({e.mode_name for e in events})
    if len(kinds) > 1:
        raise BadInputError("correlate does not pool runs whose targets are on different bases: "
                            f"{_kind_list(events)}; correlate sine runs and harmonics runs separately")
    outcome = permutation_test([e.jump_steps for e in events], [e.reference_steps for e in events],
                               [(e.first_step, e.last_step) for e in events], params,
                               groups=[e.group for e in events], names=[e.name for e in events], strict=strict,
                               labels=[e.jump_modes for e in events])
    units = "steps" if outcome["null_name"] == "uniform" else "decades of log10(step+1)"
    return CorrelateResult(
        distances=_distance_table(events, params), p_value=_none_if_nan(outcome["p_value"]),
        effect_size=_none_if_nan(outcome["effect_size"]), observed_statistic=_none_if_nan(outcome["observed"]),
        null_mean=_none_if_nan(outcome["null_mean"]), null_std=_none_if_nan(outcome["null_std"]),
        n_jumps=int(outcome["n_jumps"]), n_reference_points=int(sum(len(e.reference_steps) for e in events)),
        n_runs=int(outcome["n_runs"]), reference=params.reference, statistic=params.statistic,
        null=outcome["null_name"], distance_units=units, conclusion=_conclusion(outcome, events, params, units),
        effect=_none_if_nan(outcome["effect"]), notes=tuple(outcome["notes"]), n_runs_given=len(events),
        descriptive_only=int(outcome["n_runs"]) <= 1)


def _kind_list(events: list[RunEvents]) -> str:
    words = {"freq_hz": "Fourier frequencies", "degree": "spherical-harmonic degrees"}
    return "; ".join(f"{', '.join(e.name for e in events if e.mode_name == kind)} on {words.get(kind, kind)}"
                     for kind in sorted({e.mode_name for e in events}))


def _distance_table(events: list[RunEvents], params: CorrelateParams) -> pd.DataFrame:
    rows = []
    units_of = "uniform" if params.null == "uniform" else "log-uniform"  # steps, or decades of log10(step + 1)
    for e in events:
        reference_steps = np.sort(e.reference_steps)
        for step, mode in zip(e.jump_steps, e.jump_modes):
            if len(reference_steps) == 0:
                rows.append((e.name, mode, step, np.nan, np.nan, np.nan))
                continue
            distance, index = nearest(scale_steps([step], units_of), scale_steps(reference_steps, units_of))
            nearest_step = reference_steps[int(index[0])]
            rows.append((e.name, mode, step, nearest_step, abs(step - nearest_step), float(distance[0])))
    mode_name = events[0].mode_name if events else "freq_hz"
    columns = ["run", mode_name, "jump_step", "nearest_reference_step", "distance_steps", "distance"]
    label_type = _mode_labels([], mode_name).dtype
    return pd.DataFrame(rows, columns=columns).astype({mode_name: label_type} | {c: np.float64 for c in columns[2:]})


def _none_if_nan(value: float) -> float | None:
    return None if value != value else float(value)


def _conclusion(outcome: dict, events: list[RunEvents], params: CorrelateParams, units: str) -> str:
    where = f"{len(events)} runs pooled" if len(events) > 1 else "1 run"
    points = REFERENCE_NAMES[params.reference][0]
    noun = MODE_NOUNS.get(events[0].mode_name, "mode") if events else "frequency"
    if outcome["n_jumps"] == 0:
        n_jumps = sum(len(e.jump_steps) for e in events)
        n_points = sum(len(e.reference_steps) for e in events)
        return (f"nothing to test ({where}): {n_jumps} {noun} jumps, {n_points} {points}; "
                "a test needs jumps in runs that have them")
    what = "mean distance" if params.statistic == "mean_distance" else f"fraction within {params.tolerance:g}"
    if outcome["n_runs"] <= 1:  # one run is one draw of its clock: the figures describe it, they test nothing
        one = "1 run" if len(events) == 1 else f"1 of {len(events)} runs has jumps and {points}"
        return (f"{noun} jumps and {points}, {one}: {outcome['n_jumps']} jumps; {what} {outcome['observed']:.3g} "
                f"vs {outcome['null_mean']:.3g} under the {outcome['null_name']} null (effect "
                f"{outcome['effect']:+.3g}, {units}); {DESCRIPTIVE}")
    p, direction = outcome["p_value"], "closer" if outcome["p_value"] < params.alpha else "not closer"
    return (f"{noun} jumps are {direction} to {points} than chance (p={p:.3g}, {outcome['n_runs']} runs pooled, "
            f"{outcome['n_jumps']} jumps; {what} {outcome['observed']:.3g} vs {outcome['null_mean']:.3g} "
            f"under the {outcome['null_name']} null, {units})")


def compute(run, params: CorrelateParams, deps) -> CorrelateResult:
    """The test on one run."""
    return correlate_events([run_events(run, params, deps)], params)


def pool(items, params: CorrelateParams) -> CorrelateResult:
    """The test pooled over several runs, from their (run, deps) pairs (`analyze_pooled(runs, "correlate")`)."""
    events = [run_events(run, params, deps) for run, deps in items]
    events.sort(key=lambda e: e.name)  # the null draws, hence p, must not depend on the order runs are given
    return correlate_events(events, params)
