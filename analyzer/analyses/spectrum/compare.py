"""The spectrum's part of the comparison section of a report on several runs: the learned step of each target
frequency (or degree) side by side, and the learned-fraction heatmaps of all runs."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd

from analyzer.sections.markdown import image, markdown_table


def _target_key(run) -> str:
    target = run.target
    keys = ("kind", "freqs_hz", "degrees", "input_dim", "amps", "phases", "n_train", "n_eval")
    return json.dumps({k: target.get(k) for k in keys}, sort_keys=True)


def _spectra(runs) -> dict:
    return {r.label: r.results["spectrum"] for r in runs if r.results.get("spectrum") is not None}


def _noun(runs) -> str:
    kinds = {s.mode_name for s in _spectra(runs).values()}
    return "degree" if kinds == {"degree"} else "frequency" if len(kinds) <= 1 else "frequency or degree"


def tables(runs, pooled) -> list[str]:
    """The learned-step table, after a warning when the runs' targets differ."""
    lines = []
    same_target = len({_target_key(r) for r in runs}) == 1
    if not same_target:
        lines += ["> Targets differ between these runs: learned steps are compared only at the frequencies "
                  "they share, and heatmaps are shown per run, not as a like-for-like comparison.", ""]
    lines += [f"### Learned step per {_noun(runs)}", "", "The first step each relative error fell below the threshold "
              "(the spectrum sections list how often it went back above).", ""]
    return lines + markdown_table(_learned_table(runs, same_target))


def figures(runs, figs: dict) -> list[str]:
    """One learned-fraction heatmap per run, sharing the colour scale."""
    from analyzer.analyses.spectrum.figures import heatmap_grid_figure

    spectra = _spectra(runs)
    if not spectra:
        return []
    return image(figs, "compare-heatmaps.png", heatmap_grid_figure(spectra),
                 f"learned fraction of each target {_noun(runs)}, per run")


def _learned_table(runs, same_target: bool) -> pd.DataFrame:
    """Learned step per target mode (rows) and run (columns): the first step below the threshold, as the spectrum
    headline and the study give it; modes are (mode name, label) pairs, so a frequency and a degree of the same
    number are different rows."""
    per_run = {}
    for label, spectrum in _spectra(runs).items():
        modes = [(spectrum.mode_name, float(mode)) for mode in spectrum.learning[spectrum.mode_name]]
        per_run[label] = dict(zip(modes, spectrum.learning.first_below_step))
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
