"""Plateaus appear in the loss curve: the share of network runs with at least one change-point plateau, and the
plateaus' number and length per group (a property of single runs, judged by a fraction rule with an exact CI)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analyzer.stats import descriptive as st
from analyzer.study.claims.base import Claim, ClaimJob
from analyzer.study.claims.events import EVENTS_JOBS, run_events

FRACTION_RULE = "holds when at least 80 % of the runs that can show it do (partly from 50 %)"


@dataclass(frozen=True)
class Plateaus:
    plateaus: pd.DataFrame  # start_step, end_step, duration (change-point plateaus)


class PlateausAppear(Claim):
    id = "plateaus_appear"
    observation = "Plateaus appear in the loss curve"
    rule = FRACTION_RULE
    network_runs_only = True

    def jobs(self, options) -> list[ClaimJob]:
        return [ClaimJob(name, overrides) for name, overrides in EVENTS_JOBS]

    def extract(self, run, context) -> Plateaus:
        return Plateaus(run_events(context).plateaus)

    def evaluate(self, study) -> dict:
        seeds = study.extracts(self.id)
        per_run = pd.DataFrame([{"group": study.group_of[r.path], "plateaus per run": float(len(e.plateaus)),
                                 "plateau duration (steps)": float(e.plateaus.duration.mean()) if len(e.plateaus)
                                 else np.nan} for r, e in seeds])
        quantities = (st.quantity_table(per_run, ["plateaus per run", "plateau duration (steps)"],
                                        study.options.n_resamples, study.options.seed,
                                        supports={"plateaus per run": (0, np.inf),
                                                  "plateau duration (steps)": (0, np.inf)}) if len(per_run) else
                      pd.DataFrame(columns=["group", "quantity", "n", "mean", "ci_low", "ci_high"]))
        return {"counts": [len(e.plateaus) for _, e in seeds], "quantities": quantities}

    def verdicts(self, study, result) -> list:
        counts = result["counts"]
        if not counts:
            return [self.verdict("untested", "no network runs")]
        hits = sum(c > 0 for c in counts)
        fraction, low, high = st.proportion_ci(hits, len(counts))
        evidence = (f"{hits} of {len(counts)} runs have at least one loss plateau ({100 * fraction:.0f} %, 95 % CI "
                    f"{100 * low:.0f}-{100 * high:.0f} %); {min(counts)}-{max(counts)} plateaus per run")
        return [self.verdict(st.verdict(fraction), evidence)]

    def section(self, study, result, figs: dict) -> list[str]:
        from analyzer.sections.markdown import markdown_table

        table = result["quantities"]
        if table.empty:
            return []
        return ["## Plateaus per run", "",
                "Per network run: the number of change-point plateaus and their mean duration; mean across network "
                "runs with its 95 % bootstrap CI.", ""] + markdown_table(table.sort_values(["quantity", "group"],
                                                                                      ascending=[False, True])
                                                                    .reset_index(drop=True))

    def json(self, study, result) -> dict:
        return {"plateau_quantities": result["quantities"]}

    effect_unit = "runs with a plateau (share)"

    def per_run_effects(self, study, result) -> dict[str, float]:
        return {r.path: float(len(e.plateaus) > 0) for r, e in study.extracts(self.id)}


CLAIM = PlateausAppear()
