"""From run summaries to a study: groups, replicate sets, the per-group tables, pooled tests and verdicts.

Groups. Runs are grouped by preset, and within a preset by every config field that differs between its
runs other than seed, perturb, perturb_seed and device; a group is named by its preset followed by
those fields, e.g. `baseline lr=0.001` (just `baseline` when nothing else varies).
Roles. A run with `perturb > 0` in its config is a replicate control: same seed, initial weights
perturbed at float-rounding level. Replicates are kept out of every across-seed statistic and test (they
are near copies of their seed's run, not independent draws); together with the unperturbed run of the
same group and seed, if present, they form a replicate set, used only for the noise floor.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from analyzer.analyses.correlate import CorrelateParams, RunEvents, correlate_events
from analyzer.study import stats as st
from analyzer.study.collect import RunSummary, SkippedRun, StudyOptions

IGNORED_FIELDS = ("seed", "perturb", "perturb_seed", "device", "preset")
ALPHA = 0.05


@dataclass
class Study:
    runs: list[RunSummary]  # every valid run, seeds and replicates
    skipped: list[SkippedRun]
    group_of: dict[str, str]  # run path -> group name
    options: StudyOptions
    learned: pd.DataFrame  # one row per run and frequency (learned_frame)
    learned_table: pd.DataFrame  # group x frequency over seed runs
    quantities: pd.DataFrame  # plateau and Hessian quantities per group
    tests: dict = field(default_factory=dict)  # "escapes"/"edges" -> CorrelateResult, pooled over seed runs
    group_tests: pd.DataFrame = field(default_factory=pd.DataFrame)
    stall: dict = field(default_factory=dict)
    ordering: pd.DataFrame = field(default_factory=pd.DataFrame)  # per group and "all": runs ordered by frequency
    noise_floor: pd.DataFrame = field(default_factory=pd.DataFrame)
    differences: pd.DataFrame = field(default_factory=pd.DataFrame)
    observations: list[dict] = field(default_factory=list)
    family: list[dict] = field(default_factory=list)  # test_family rows (robustness.family), the primary first
    spec_curve: list[dict] = field(default_factory=list)  # the primary test over specifications
    pooled: dict = field(default_factory=dict)  # analysis name -> its StudyHooks.pool over the runs
    files: object = None  # the study's open run files (analyzer/study/files.py); None: a read opens its run

    @property
    def seed_runs(self) -> list[RunSummary]:
        return [r for r in self.runs if r.perturb <= 0]

    @property
    def replicate_runs(self) -> list[RunSummary]:
        return [r for r in self.runs if r.perturb > 0]

    @property
    def groups(self) -> list[str]:
        return sorted(set(self.group_of.values()))

    def run_result(self, path: str, name: str, **overrides):
        """analyze(path, name, **overrides) through the study's open run files, or opening the run."""
        if self.files is not None:
            return self.files.result(path, name, **overrides)
        from analyzer.core.runner import analyze

        return analyze(path, name, use_cache=self.options.use_cache, **overrides)


def group_names(runs: list[RunSummary]) -> dict[str, str]:
    """Run path -> group name: the preset plus every other config field that varies within that preset."""
    flat = {r.path: _flatten(r.config) for r in runs}
    names = {}
    for preset in sorted({r.preset for r in runs}):
        members = [r for r in runs if r.preset == preset]
        keys = sorted({k for r in members for k in flat[r.path]} - set(IGNORED_FIELDS))
        varying = [k for k in keys if len({json.dumps(flat[r.path].get(k)) for r in members}) > 1]
        short = {k: k.rsplit(".", 1)[-1] for k in varying}
        if len(set(short.values())) < len(short):  # e.g. model.init and optimizer.init: keep the dotted path
            short = {k: k for k in varying}
        for r in members:
            parts = [f"{short[k]}={_compact(flat[r.path].get(k))}" for k in varying]
            names[r.path] = " ".join([preset, *parts])
    return names


def _flatten(config: dict, prefix: str = "") -> dict:
    out = {}
    for key, value in config.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _compact(value) -> str:
    if isinstance(value, (list, tuple)):
        return ",".join(_compact(v) for v in value)
    return f"{value:g}" if isinstance(value, float) else str(value)


def replicate_set_of(run: RunSummary, group: str) -> str:
    return f"{group} seed {run.seed}"


def build_study(outcomes: list[RunSummary | SkippedRun], options: StudyOptions, files=None) -> Study:
    """All study statistics from the workers' outcomes (at least one valid run); `files`: the study's open run
    files, for what reads a run again (the median seeds' heatmaps)."""
    runs = [o for o in outcomes if isinstance(o, RunSummary)]
    skipped = [o for o in outcomes if isinstance(o, SkippedRun)]
    group_of = group_names(runs)
    learned = learned_frame(runs, group_of)
    study_runs = [r for r in runs if r.perturb <= 0]
    study = Study(runs=runs, skipped=skipped, group_of=group_of, options=options, learned=learned,
                  learned_table=st.learned_step_table(learned[~learned.replicate], options.n_resamples, options.seed),
                  quantities=quantity_frame(study_runs, group_of, options), files=files)
    from analyzer.core.registry import study_hooks

    study.pooled = {name: hooks.pool(study) for name, hooks in study_hooks() if hooks.pool is not None}
    if study_runs:
        from analyzer.study.robustness import family, specification_curve

        study.tests = {ref: correlate_events([events(r, ref, group_of) for r in study_runs],
                                             _test_params(ref, options), options.strict_null)
                       for ref in ("escapes", "edges")}
        study.group_tests = group_test_frame(study_runs, group_of, options)
        study.stall = stall(study_runs, group_of, options)
        study.ordering = ordering_frame(study_runs, group_of)
        study.family = family(study)
        study.spec_curve = specification_curve(study)
    study.noise_floor, study.differences = noise_floor(learned, options)
    from analyzer.study.verdicts import observations

    study.observations = observations(study)
    return study


def learned_frame(runs: list[RunSummary], group_of: dict[str, str]) -> pd.DataFrame:
    rows = []
    for r in runs:
        values, _ = st.censor_learned_steps(r.learned_steps, r.n_steps)
        for freq, step, value, first in zip(r.freqs_hz, r.learned_steps, values, r.first_below_or_learned_steps):
            rows.append({"path": r.path, "group": group_of[r.path], "preset": r.preset, "seed": r.seed,
                         "replicate": r.perturb > 0, "replicate_set": replicate_set_of(r, group_of[r.path]),
                         "freq_hz": float(freq), "learned_step": float(step), "run_length": r.n_steps,
                         "value": float(value), "censored": not np.isfinite(step), "reached_step": float(first)})
    columns = ["path", "group", "preset", "seed", "replicate", "replicate_set", "freq_hz", "learned_step",
               "run_length", "value", "censored", "reached_step"]
    return pd.DataFrame(rows, columns=columns).astype({"replicate": bool, "censored": bool})


def per_run_quantities(run: RunSummary, options: StudyOptions) -> dict:
    """{label: value}: plateau count and mean duration, then each hooked analysis's (StudyHooks.quantities)."""
    from analyzer.core.registry import study_hooks

    out = {"plateaus per run": float(len(run.plateaus)),
           "plateau duration (steps)": float(run.plateaus.duration.mean()) if len(run.plateaus) else np.nan}
    for _, hooks in study_hooks():
        out.update(hooks.quantities(run, options) if hooks.quantities is not None else {})
    return out


def quantity_frame(runs: list[RunSummary], group_of: dict[str, str], options: StudyOptions) -> pd.DataFrame:
    """Per group and quantity (in the order per_run_quantities gives them): n, mean and bootstrap CI."""
    rows = [per_run_quantities(r, options) for r in runs]
    per_run = pd.DataFrame([{"group": group_of[r.path], **row} for r, row in zip(runs, rows)])
    if per_run.empty:
        return pd.DataFrame(columns=["group", "quantity", "n", "mean", "ci_low", "ci_high"])
    wanted = list(dict.fromkeys(label for row in rows for label in row))
    return st.quantity_table(per_run, wanted, options.n_resamples, options.seed)


def events(run: RunSummary, reference: str, group_of: dict[str, str] | None = None) -> RunEvents:
    points = run.escape_steps if reference == "escapes" else run.edge_steps
    group = group_of[run.path] if group_of else run.preset
    return RunEvents(run.label, run.jump_steps, run.jump_freqs_hz, points, run.first_pred_step, run.last_pred_step,
                     group=group)


def _test_params(reference: str, options: StudyOptions) -> CorrelateParams:
    return CorrelateParams(reference=reference, n_permutations=options.n_permutations, seed=options.seed,
                           null=options.null)


def group_test_frame(runs: list[RunSummary], group_of: dict[str, str], options: StudyOptions) -> pd.DataFrame:
    rows = []
    for group in sorted({group_of[r.path] for r in runs}):
        members = [r for r in runs if group_of[r.path] == group]
        for reference in ("escapes", "edges"):
            result = correlate_events([events(r, reference, group_of) for r in members],
                                      _test_params(reference, options), options.strict_null)
            rows.append({"group": group, "reference": reference, "runs": result.n_runs, "jumps": result.n_jumps,
                         "observed": result.observed_statistic, "null_mean": result.null_mean,
                         "p_value": result.p_value})
    return pd.DataFrame(rows, columns=["group", "reference", "runs", "jumps", "observed", "null_mean", "p_value"])


def stall(runs: list[RunSummary], group_of: dict[str, str], options: StudyOptions) -> dict:
    """The stall test on the jumps of every frequency above each run's lowest one (higher frequencies): plateau
    intervals swapped between runs of a group under the swap null, jumps log-uniform under the others."""
    if options.null == "swap":
        from analyzer.study.robustness import swap_stall

        return swap_stall(runs, group_of, options)
    jumps = [r.jump_steps[r.jump_freqs_hz > r.freqs_hz.min()] if len(r.freqs_hz) else r.jump_steps for r in runs]
    intervals = [r.plateaus[["start_step", "end_step"]].to_numpy() for r in runs]
    spans = [(r.first_pred_step, r.last_pred_step) for r in runs]
    result = st.stall_test(jumps, intervals, spans, options.n_resamples, options.seed)
    return result | {"effect": (result["observed"] - result["expected"]) / result["n_jumps"]
                     if result["n_jumps"] else float("nan")}


def ordering_frame(runs: list[RunSummary], group_of: dict[str, str]) -> pd.DataFrame:
    """Per group (and all runs): how many runs learn their learned frequencies in ascending order, with a 95 % CI.

    Order is judged only among the frequencies a run learns (a frequency never learned is no evidence either
    way), strictly (two frequencies learned at the same step are not in order), and only in runs that learn at
    least two frequencies; `runs` counts those, `excluded` the others. `ordered` uses the learned step (below the
    threshold from then on); `ordered_reached` the step each frequency first reached the threshold, which does
    not count a frequency that is learned early and drifts back above the threshold late against the order."""
    ordered = {r.path: st.ordered_among_learned(r.learned_steps) for r in runs}
    reached = {r.path: st.ordered_among_learned(r.first_below_or_learned_steps) for r in runs}
    rows = []
    for group in [*sorted({group_of[r.path] for r in runs}), "all"]:
        members = [r for r in runs if group == "all" or group_of[r.path] == group]
        judged = [r for r in members if ordered[r.path] is not None]
        hits = sum(bool(ordered[r.path]) for r in judged)
        fraction, low, high = st.proportion_ci(hits, len(judged))
        rows.append({"group": group, "runs": len(judged), "ordered": hits, "fraction": fraction,
                     "ci_low": low, "ci_high": high, "excluded": len(members) - len(judged),
                     "ordered_reached": sum(bool(reached[r.path]) for r in members if reached[r.path] is not None),
                     "runs_reached": sum(reached[r.path] is not None for r in members),
                     "unordered": ", ".join(Path(r.path).stem for r in judged if not ordered[r.path])})
    return pd.DataFrame(rows, columns=["group", "runs", "ordered", "fraction", "ci_low", "ci_high", "excluded",
                                       "ordered_reached", "runs_reached", "unordered"])


def noise_floor(learned: pd.DataFrame, options: StudyOptions) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rounding SD vs seed SD per group and frequency, and every preset difference against both."""
    replicate_sets = set(learned.loc[learned.replicate, "replicate_set"])
    if not replicate_sets:
        return pd.DataFrame(), pd.DataFrame()
    in_sets = learned[learned.replicate_set.isin(replicate_sets)]
    seeds = learned[~learned.replicate]
    floor = st.noise_floor_table(in_sets, seeds)
    rounding_sd = {(row.group, row.freq_hz): row.sd_rounding for row in floor.itertuples()}
    for freq, part in in_sets.groupby("freq_hz"):
        rounding_sd[(None, float(freq))] = st.pooled_sd([s.value for _, s in part.groupby("replicate_set")
                                                         if not st.all_censored(s)])[0]
    differences = st.group_differences(seeds, rounding_sd, options.n_resamples, options.seed)
    return floor, differences


def median_runs(study: Study) -> dict[str, RunSummary]:
    """Per group, the seed run whose learned steps are closest to the group's median (in log10 step + 1)."""
    chosen = {}
    seeds = study.learned[~study.learned.replicate]
    for group, part in seeds.groupby("group", sort=True):
        log_steps = part.assign(u=np.log10(part.value + 1)).pivot_table(index="path", columns="freq_hz", values="u")
        distance = (log_steps - log_steps.median(axis=0)).abs().sum(axis=1)
        best = distance.sort_values(kind="stable").index[0]
        chosen[group] = next(r for r in study.runs if r.path == best)
    return chosen


def run_study(inputs, options: StudyOptions, on_start=None, on_done=None, files=None) -> Study:
    """Collect the run files, summarize them on Dask, and build the study; no valid run is bad input.

    Args:
        files: the study's open run files (analyzer/study/files.py), each run opened once for the summaries and
            the report's figures (keep them open until the report is rendered); None: opened for the summaries.
    """
    from analyzer.errors import BadInputError
    from analyzer.study.collect import collect_paths, summarize_runs

    paths = collect_paths(list(inputs))
    if on_start is not None:
        on_start(len(paths))
    outcomes = summarize_runs(paths, options, on_done, files)
    if not any(isinstance(o, RunSummary) for o in outcomes):
        first = next(o for o in outcomes if isinstance(o, SkippedRun))
        raise BadInputError(f"none of the {len(paths)} run files could be analysed ({first.path}: {first.reason})")
    return build_study(outcomes, options, files)
