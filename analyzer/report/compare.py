"""The comparison section of a report on several runs: learned steps, plateau counts, pooled tests, overlays."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from analyzer.report.figures import heatmap_grid_figure, loss_overlay_figure
from analyzer.report.markdown import image, markdown_table
from analyzer.report.model import MSE_LABEL, RunAnalyses, loss_name, loss_of


def _target_key(run: RunAnalyses) -> str:
    target = run.target
    keys = ("kind", "freqs_hz", "degrees", "input_dim", "amps", "phases", "n_train", "n_eval")
    return json.dumps({k: target.get(k) for k in keys}, sort_keys=True)


def comparison_section(runs: list[RunAnalyses], pooled, figs: dict) -> list[str]:
    """Learned steps and plateau counts side by side, the pooled correlation tests and the overlay figures."""
    lines = ["## Comparison", ""]
    same_target = len({_target_key(r) for r in runs}) == 1
    if not same_target:
        lines += ["> Targets differ between these runs: learned steps are compared only at the frequencies "
                  "they share, and heatmaps are shown per run, not as a like-for-like comparison.", ""]
    spectra = {r.label: r.results["spectrum"] for r in runs if r.results.get("spectrum") is not None}
    kinds = {s.mode_name for s in spectra.values()}
    noun = "degree" if kinds == {"degree"} else "frequency" if len(kinds) <= 1 else "frequency or degree"
    lines += [f"### Learned step per {noun}", "", "The first step each relative error fell below the threshold "
              "(the spectrum sections list how often it went back above).", ""]
    lines += markdown_table(_learned_table(runs, same_target))
    lines += ["### Plateaus per run", ""] + markdown_table(_plateau_counts(runs))
    lines += ["### Pooled correlation", ""]
    for result in pooled:  # a CorrelateResult, or the reason runs were not pooled
        if isinstance(result, str):
            lines += [f"*{result}*", ""]
            continue
        lines += [f"**{result.conclusion}**", ""] + markdown_table(result.tables()["permutation test"])
    curves = {r.label + ("" if loss_name(r) == MSE_LABEL else f" ({loss_name(r)})"): loss_of(r) for r in runs}
    lines += image(figs, "compare-loss.png", loss_overlay_figure(curves), "training loss of all runs")
    if spectra:
        lines += image(figs, "compare-heatmaps.png", heatmap_grid_figure(spectra),
                        f"learned fraction of each target {noun}, per run")
    return lines


def _learned_table(runs: list[RunAnalyses], same_target: bool) -> pd.DataFrame:
    """Learned step per target mode (rows) and run (columns): the first step below the threshold, as the spectrum
    headline and the study give it; modes are (mode name, label) pairs, so a frequency and a degree of the same
    number are different rows."""
    per_run = {}
    for run in runs:
        spectrum = run.results.get("spectrum")
        if spectrum is not None:
            modes = [(spectrum.mode_name, float(label)) for label in spectrum.learning[spectrum.mode_name]]
            per_run[run.label] = dict(zip(modes, spectrum.learning.first_below_step))
    if not per_run:
        return pd.DataFrame()
    modes = sorted(set.intersection(*(set(v) for v in per_run.values())) if not same_target
                   else set.union(*(set(v) for v in per_run.values())))
    # runs on different bases have different targets, so they share no mode: the rows are of one kind
    header = "degree" if modes and modes[0][0] == "degree" else "frequency (Hz)"
    frame = pd.DataFrame({header: [f"{label:g}" for _, label in modes]})
    for label, learned in per_run.items():
        frame[label] = [float(learned.get(mode, np.nan)) for mode in modes]
    return frame


def _plateau_counts(runs: list[RunAnalyses]) -> pd.DataFrame:
    rows = []
    for run in runs:
        result = run.results.get("plateaus")
        if result is None:
            rows.append((run.label, np.nan, np.nan, np.nan))
            continue
        rows.append((run.label, len(result.plateaus("changepoint")), len(result.plateaus("gradient")),
                     len(result.change_points)))
    return pd.DataFrame(rows, columns=["run", "plateaus (change points)", "plateaus (gradient)", "change points"])
