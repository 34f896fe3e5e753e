"""The spectral-bias claim's tables, figures and report section: learned steps per group and mode, how many runs
learn in ascending order, and the median seeds' spectral heatmaps."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyzer.stats import descriptive as st

CLAIM_ID = "spectral_bias"


def learned_frame(study) -> pd.DataFrame:
    """One row per run (seeds and replicates) and mode: group, seed, replicate, learned step, censored value."""
    from analyzer.study.groups import replicate_set_of

    rows = []
    for r, extract in study.extracts(CLAIM_ID, study.network_runs + study.replicate_runs):
        group = study.group_of[r.path]
        values, _ = st.censor_learned_steps(extract.learned_steps, r.n_steps)
        reached = extract.first_below_steps if len(extract.first_below_steps) == len(extract.modes) \
            else extract.learned_steps
        for mode, step, value, first in zip(extract.modes, extract.learned_steps, values, reached):
            rows.append({"path": r.path, "group": group, "preset": r.preset, "seed": r.seed,
                         "replicate": r.role == "replicate", "replicate_set": replicate_set_of(r, group),
                         "mode": float(mode), "mode_unit": extract.mode_unit, "learned_step": float(step),
                         "run_length": r.n_steps,
                         "value": float(value), "censored": not np.isfinite(step), "reached_step": float(first)})
    columns = ["path", "group", "preset", "seed", "replicate", "replicate_set", "mode", "mode_unit", "learned_step",
               "run_length", "value", "censored", "reached_step"]
    return pd.DataFrame(rows, columns=columns).astype({"replicate": bool, "censored": bool})


def json_modes(table: pd.DataFrame, learned: pd.DataFrame) -> pd.DataFrame:
    """A table's rows as `--json` gives them: `mode_unit` after `mode` (a group's unit; a row of two groups: its
    `first` group's), and `freq_hz`, the earlier name of `mode`, kept readable (CHANGELOG.md)."""
    if table.empty or "mode" not in table:
        return table
    units = learned.groupby("group").mode_unit.first() if len(learned) else pd.Series(dtype=object)
    group = table["group"] if "group" in table else table["first"]
    at = list(table.columns).index("mode") + 1
    out = table.copy()
    out.insert(at, "mode_unit", group.map(units).to_numpy())
    return out.assign(freq_hz=table["mode"])


def learned_step_table(seeds: pd.DataFrame, options) -> pd.DataFrame:
    return st.learned_step_table(seeds, options.n_resamples, options.seed)


def ordering_frame(seeds, group_of: dict[str, str]) -> pd.DataFrame:
    """Per group (and all runs): how many runs learn their learned modes in strictly ascending order (descriptive,
    with an exact 95 % CI), by the learned step and by the first step below the threshold."""
    ordered = {r.path: st.ordered_among_learned(e.learned_steps) for r, e in seeds}
    reached = {r.path: st.ordered_among_learned(e.first_below_steps if len(e.first_below_steps) else e.learned_steps)
               for r, e in seeds}
    runs = [r for r, _ in seeds]
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
                     "unordered": ", ".join(r.label for r in judged if not ordered[r.path])})
    return pd.DataFrame(rows, columns=["group", "runs", "ordered", "fraction", "ci_low", "ci_high", "excluded",
                                       "ordered_reached", "runs_reached", "unordered"])


def learned_section(study, result: dict, figs: dict) -> list[str]:
    from analyzer.sections.markdown import image, markdown_table
    from analyzer.study import figures as study_figures

    lines = ["## Spectral bias: learned step per frequency", "",
             "A frequency is learned at the first step after which its relative error stays below the threshold to "
             "the end of the run. Mean across network runs with its 95 % bootstrap CI; runs that never learn a "
             "frequency count at the run length (restricted mean) and are listed as *not learned*; of those, "
             "*reached, lost* fell below the threshold at some step and drifted back above it later.", ""]
    table = result["table"]
    harmonics = table.group.astype(str).str.endswith(study_figures.HARMONICS_GROUP)
    mode = "Hz" if not harmonics.any() else "degree" if harmonics.all() else "Hz (degree: harmonics)"
    lines += markdown_table(table.rename(columns={"mode": mode, "n_not_learned": "not learned",
                                                  "n_reached_then_lost": "reached, lost",
                                                  "ci_low": "CI low", "ci_high": "CI high"}))
    seeds = result["learned"][~result["learned"].replicate]
    if len(seeds):
        lines += image(figs, "learned-steps.png", study_figures.learned_steps_figure(seeds),
                       "learned step per frequency across seeds")
    lines += order_lines(result)
    return lines + heatmap_lines(study, result, figs)


def order_lines(result: dict) -> list[str]:
    """The rank statistic per condition and group, and the strict-order count beside it (descriptive)."""
    from analyzer.sections.markdown import markdown_table

    taus = result["taus"]
    if taus.empty:
        return []
    per_group = (taus.assign(tau=taus.tau.astype(float)).groupby(["condition", "group"], sort=True)
                 .agg(runs=("tau", "size"), mean_tau=("tau", "mean"),
                      runs_with_order=("tau", lambda t: int(np.isfinite(t).sum())))
                 .reset_index())
    ordering = result["ordering"].set_index("group")
    per_group["strictly ascending"] = [f"{int(ordering.loc[g, 'ordered'])}/{int(ordering.loc[g, 'runs'])}"
                                       if g in ordering.index else "-" for g in per_group.group]
    return (["### Learning order", "",
             "Per run, Kendall's tau-b between the mode and its learned step (1: strictly ascending; ties allowed, "
             "a mode never learned counts at the run length). The verdict rests on the mean over runs per condition "
             "(test family); the per-group means and the count of runs in strictly ascending order are descriptive.",
             ""] + markdown_table(per_group.rename(columns={"runs_with_order": "runs with a tau"})))


def median_runs(study, learned: pd.DataFrame) -> dict:
    """Per group, the network run whose learned steps are closest to the group's median (in log10 step + 1)."""
    chosen = {}
    seeds = learned[~learned.replicate]
    for group, part in seeds.groupby("group", sort=True):
        log_steps = part.assign(u=np.log10(part.value + 1)).pivot_table(index="path", columns="mode", values="u")
        distance = (log_steps - log_steps.median(axis=0)).abs().sum(axis=1)
        best = distance.sort_values(kind="stable").index[0]
        chosen[group] = next(r for r in study.runs if r.path == best)
    return chosen


def heatmap_lines(study, result: dict, figs: dict) -> list[str]:
    """Per group, the spectral heatmap of the median network run."""
    from analyzer.analyses.spectrum.figures import heatmap_grid_figure
    from analyzer.errors import AnalyzerError
    from analyzer.sections.markdown import image

    spectra = {}
    for group, run in median_runs(study, result["learned"]).items():
        try:
            spectra[f"{group}: {run.label} (median seed)"] = study.run_result(run.path, "spectrum")
        except (AnalyzerError, OSError):
            continue
    if not spectra:
        return []
    return (["### Median-seed spectral heatmaps", "",
             "Per group, the network run whose learned steps are closest to the group's median (sum of distances in "
             "log10 step).", ""]
            + image(figs, "median-heatmaps.png", heatmap_grid_figure(spectra), "heatmaps of the median seeds"))
