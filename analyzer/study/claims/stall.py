"""Higher-frequency learning stalls during plateaus: fewer jumps of the modes above a run's lowest fall inside its
plateaus than when the plateaus are exchanged among the runs of its group.

The null swaps plateau intervals among the runs of a group, keeping every run's jumps and every run's plateaus.
A shared per-run clock (a run that does everything later) puts a run's own jumps and plateaus at similar times,
so it pushes the count inside plateaus up, against the claim: under such a clock this test is conservative.
When the null places (almost) no jump inside a plateau, fewer cannot be seen: the test is untestable there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analyzer.study.claims.base import Claim, ClaimJob, test_verdict
from analyzer.study.claims.events import EVENTS_JOBS, run_events
from analyzer.stats import ALPHA, TestRow
from analyzer.study.pooled import stall_swap_test

ROW = "higher-frequency jumps inside plateaus (stall)"
MIN_EXPECTED = 1.0  # fewer jumps expected inside plateaus under the null: nothing to see fewer of


@dataclass(frozen=True)
class StallEvents:
    jumps: np.ndarray  # jumps of the modes above the run's lowest
    intervals: np.ndarray  # (n, 2) plateau start and end steps


class Stall(Claim):
    id = "stall"
    observation = "Higher-frequency learning stalls during plateaus"
    rule = ("holds when fewer jumps of the modes above the lowest fall inside plateaus than under the swap null, at "
            "alpha after the family's adjustment (two-sided; does not hold when significantly more do); untestable "
            f"when the null expects fewer than {MIN_EXPECTED:g} jump inside a plateau")
    network_runs_only = True

    def jobs(self, options) -> list[ClaimJob]:
        return [ClaimJob(name, overrides) for name, overrides in EVENTS_JOBS]

    def extract(self, run, context) -> StallEvents:
        events = run_events(context)
        higher = events.jump_modes > events.modes.min() if len(events.modes) else np.ones(len(events.jump_steps), bool)
        return StallEvents(events.jump_steps[higher], events.plateaus[["start_step", "end_step"]].to_numpy())

    def evaluate(self, study) -> dict:
        units = [{"jumps": e.jumps, "intervals": e.intervals, "group": study.group_of[r.path], "name": r.label}
                 for r, e in study.extracts(self.id)]
        options = study.options
        result = stall_swap_test(units, options)
        result["n_runs"] = sum(len(u["jumps"]) > 0 for u in units)
        result["testable"] = math.isfinite(result["expected"]) and result["expected"] >= MIN_EXPECTED
        return result

    def tests(self, study, result) -> list[TestRow]:
        if not result["testable"]:
            return []
        return [TestRow(name=ROW, claim=self.id, reference="plateau intervals of other runs of the group",
                        null="swap (plateaus)", p_value=result["p_two_sided"], effect=result["effect"],
                        observed=float(result["observed"]), null_mean=result["expected"], n_runs=result["n_runs"],
                        n_jumps=int(result["n_jumps"]))]

    def verdicts(self, study, result) -> list:
        if result.get("n_jumps", 0) == 0:
            return [self.verdict("untested", "no jumps of modes above the lowest to test")]
        if not result["testable"]:
            return [self.verdict("untested", f"untestable here: the null expects {result['expected']:.2g} of "
                                             f"{result['n_jumps']} jumps inside a plateau, so fewer cannot be seen")]
        row = study.family_row(ROW)
        evidence = (f"{result['observed']} of {result['n_jumps']} jumps of modes above the lowest fall inside a "
                    f"plateau, against {result['expected']:.1f} with plateaus swapped among a group's runs "
                    f"(p = {row.p_value:.3g}, adjusted {row.p_adjusted:.3g})")
        return [self.verdict(test_verdict(row.p_adjusted, row.effect, -1, ALPHA), evidence)]

    claimed_sign = -1
    effect_unit = "share of the run's jumps inside plateaus, minus its group's swap-null mean"

    def per_run_effects(self, study, result) -> dict[str, float]:
        """Per run: the share of its jumps inside its own plateaus minus the mean share inside the plateaus of the
        runs of its group (the swap null's expectation for that run)."""
        from analyzer.study.pooled import inside_count

        seeds = study.extracts(self.id)
        out = {}
        for r, e in seeds:
            members = [m for m, _ in seeds if study.group_of[m.path] == study.group_of[r.path]]
            if len(e.jumps) == 0 or len(members) < 2:
                continue
            shares = [inside_count(e.jumps, m_e.intervals) / len(e.jumps) for m, m_e in seeds
                      if study.group_of[m.path] == study.group_of[r.path]]
            out[r.path] = inside_count(e.jumps, e.intervals) / len(e.jumps) - float(np.mean(shares))
        return out

    def json(self, study, result) -> dict:
        return {"stall": {k: v for k, v in result.items() if k != "testable"} | {"testable": result["testable"]}}


CLAIM = Stall()
