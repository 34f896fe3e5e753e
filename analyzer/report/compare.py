"""The comparison section of a report on several runs: learned steps, plateau counts, pooled tests, overlays."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from analyzer.report.figures import heatmap_grid_figure, loss_overlay_figure
from analyzer.report.markdown import image, markdown_table
from analyzer.report.model import RunAnalyses, loss_of


def _target_key(run: RunAnalyses) -> str:
    target = run.target
    return json.dumps({k: target.get(k) for k in ("freqs_hz", "amps", "phases", "n_train", "n_eval")}, sort_keys=True)


def comparison_section(runs: list[RunAnalyses], pooled, figs: dict) -> list[str]:
    """Learned steps and plateau counts side by side, the pooled correlation tests and the overlay figures."""
    lines = ["## Comparison", ""]
    same_target = len({_target_key(r) for r in runs}) == 1
    if not same_target:
        lines += ["> Targets differ between these runs: learned steps are compared only at the frequencies "
                  "they share, and heatmaps are shown per run, not as a like-for-like comparison.", ""]
    lines += ["### Learned step per frequency", ""] + markdown_table(_learned_table(runs, same_target))
    lines += ["### Plateaus per run", ""] + markdown_table(_plateau_counts(runs))
    lines += ["### Pooled correlation", ""]
    for result in pooled:
        lines += [f"**{result.conclusion}**", ""] + markdown_table(result.tables()["permutation test"])
    curves = {r.label: (np.arange(r.n_steps), loss_of(r)) for r in runs}
    lines += image(figs, "compare-loss.png", loss_overlay_figure(curves), "training loss of all runs")
    spectra = {r.label: r.results["spectrum"] for r in runs if r.results.get("spectrum") is not None}
    if spectra:
        lines += image(figs, "compare-heatmaps.png", heatmap_grid_figure(spectra),
                        "learned fraction of each target frequency, per run")
    return lines


def _learned_table(runs: list[RunAnalyses], same_target: bool) -> pd.DataFrame:
    per_run = {}
    for run in runs:
        spectrum = run.results.get("spectrum")
        if spectrum is not None:
            per_run[run.label] = dict(zip(spectrum.learning.freq_hz.astype(float), spectrum.learning.learned_step))
    if not per_run:
        return pd.DataFrame()
    freqs = sorted(set.intersection(*(set(v) for v in per_run.values())) if not same_target
                   else set.union(*(set(v) for v in per_run.values())))
    frame = pd.DataFrame({"frequency (Hz)": [f"{f:g}" for f in freqs]})
    for label, learned in per_run.items():
        frame[label] = [float(learned.get(f, np.nan)) for f in freqs]
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
