"""The noise floor: do differences between groups exceed what float rounding alone produces?

Float-rounding replicates (the same seed, initial weights perturbed at 1e-7) measure how far rounding alone moves a
run's learned steps; the network runs measure the spread across seeds. Every difference of mean learned steps between
groups is set against both (stats.group_differences). Descriptive: counts of cells, no test in the family.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyzer.stats import descriptive as st
from analyzer.study.claims.base import Claim
from analyzer.study.claims.spectral_tables import json_modes


class NoiseFloor(Claim):
    id = "noise_floor"
    observation = "Differences between groups exceed what float rounding alone produces"
    rule = ("descriptive: the share of between-group differences of mean learned steps (group pair x frequency, "
            "censored pairs left out) beyond the rounding floor 1.96 sqrt(sd_a^2 + sd_b^2) of single runs")

    def evaluate(self, study) -> dict:
        learned = study.results["spectral_bias"]["learned"]
        replicate_sets = set(learned.loc[learned.replicate, "replicate_set"])
        if not replicate_sets:
            return {"table": pd.DataFrame(), "differences": pd.DataFrame()}
        in_sets = learned[learned.replicate_set.isin(replicate_sets)]
        seeds = learned[~learned.replicate]
        floor = st.noise_floor_table(in_sets, seeds)
        rounding_sd = {(row.group, row.mode): row.sd_rounding for row in floor.itertuples()}
        for freq, part in in_sets.groupby("mode"):
            rounding_sd[(None, float(freq))] = st.pooled_sd([s.value for _, s in part.groupby("replicate_set")
                                                             if not st.all_censored(s)])[0]
        differences = st.group_differences(seeds, rounding_sd, study.options.n_resamples, study.options.seed)
        return {"table": floor, "differences": differences}

    def verdicts(self, study, result) -> list:
        if result["table"].empty:
            return [self.verdict("untested", "no float-rounding replicates among the inputs (runs whose config has "
                                             "perturb > 0): the noise floor is not measured")]
        return [self.verdict("descriptive", noise_sentence(result).rstrip("."))]

    def section(self, study, result, figs: dict) -> list[str]:
        from analyzer.sections.markdown import image, markdown_table
        from analyzer.study import figures as study_figures

        lines = ["## Noise floor: float rounding vs seeds vs groups", ""]
        floor, differences = result["table"], result["differences"]
        if floor.empty:
            return lines + ["*No float-rounding replicates among the inputs (runs whose config has `perturb > 0`), "
                            "so the noise floor is not measured.*", ""]
        lines += [noise_sentence(result), "",
                  "SD of the learned step across replicates of one seed (pooled over replicate sets) and across "
                  "seeds:", ""]
        lines += markdown_table(floor.rename(columns={"mode": "Hz", "n_replicates": "replicates",
                                                      "n_seeds": "seeds", "rounding_over_seeds": "ratio"}))
        lines += image(figs, "noise-floor.png", study_figures.noise_floor_figure(floor),
                       "noise floor: rounding vs seeds")
        if len(differences):
            lines += ["Differences of the mean learned step between groups (first - second), against the rounding "
                      "floor (1.96 sqrt(sd_a^2 + sd_b^2) of single runs) and against seed variation (bootstrap CI of "
                      "the difference excludes 0); pairs where a run never learned the frequency (`censored`) get no "
                      "verdict:", ""] + markdown_table(differences.rename(columns={"mode": "Hz"}))
        return lines

    def json(self, study, result) -> dict:
        if result["table"].empty:
            return {}
        learned = study.results["spectral_bias"]["learned"]
        return {"noise_floor": {"table": json_modes(result["table"], learned),
                                "differences": json_modes(result["differences"], learned),
                                "summary": noise_sentence(result)}}


def noise_sentence(result: dict) -> str:
    """The plain-words answer: do differences between groups exceed what float rounding alone produces?"""
    floor, diffs = result["table"], result["differences"]
    ratio = floor.rounding_over_seeds.to_numpy(np.float64)
    ratio = ratio[np.isfinite(ratio)]
    parts = []
    if len(ratio):
        parts.append(f"Float rounding alone moves a run's learned steps by {np.median(ratio):.2f} times the "
                     f"seed-to-seed SD (median over {len(ratio)} group x frequency cells, range "
                     f"{ratio.min():.2f}-{ratio.max():.2f})")
    known = diffs[diffs.beyond_rounding.notna()] if len(diffs) else diffs
    if len(known):
        beyond = int(known.beyond_rounding.astype(bool).sum())
        seeds_beyond = int(known.beyond_seeds.astype(bool).sum())
        verdict = ("so differences between groups do exceed what float rounding alone produces" if beyond
                   else "so no difference between groups exceeds what float rounding alone produces")
        parts.append(f"{beyond} of {len(known)} between-group differences (group pair x frequency, censored pairs "
                     f"left out) exceed the rounding floor, {verdict}; {seeds_beyond} of {len(known)} also exceed "
                     "seed-to-seed variation")
    else:
        parts.append("no between-group difference could be compared (one group only, or censored learned steps)")
    return "; ".join(parts) + "."


CLAIM = NoiseFloor()
