"""The primary claim, named before the data: frequency jumps occur near escapes from plateaus.

Test: frequency jumps vs escapes (midpoints of the loss drops that end plateaus), pooled over the network runs, under
the study's null, one-sided (jumps closer than the null places them). Escapes, not plateau edges: on the diag-linear
known-answer runs the escape reference finds the planted coupling in 20 of 20 configurations, the edge reference in
8 of 20 (bench/RESULTS.md). Its robustness is the specification curve's joint test (specifications.py).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analyzer.study.claims.base import Claim, ClaimJob
from analyzer.study.claims.jump_tests import (JumpEvents, effect_text, group_lines, group_rows, per_run_effects, unit,
                                              units_of)
from analyzer.study.claims.specifications import (PRIMARY_SPEC, SpecEvents, joint_test, reference_name,
                                                  shared_swap_draws, spec_events, spec_jobs, specifications)
from analyzer.study.claims.events import EVENTS_JOBS, run_events
from analyzer.stats import ALPHA, TestRow, detectable_effect, local_level
from analyzer.study.pooled import jump_test

PRIMARY = "jumps vs escapes"
SPEC_DRAWS = 999
SHARED_DRAW_NULLS = ("swap", "clock-swap")


@dataclass(frozen=True)
class PrimaryEvents(JumpEvents):
    specs: SpecEvents | None = None  # every specification's events (None: not computed, a note says why)


class JumpsNearEscapes(Claim):
    id = "jumps_near_escapes"
    observation = "Frequency jumps occur near escapes from plateaus (the primary test)"
    rule = ("holds when the primary test (jumps vs escapes, pooled over network runs, one-sided) rejects at alpha "
            "after the family's adjustment AND the specification curve's joint test (median effect over the admissible "
            "specifications against shared null draws) rejects at alpha in the same direction; fragile when only the "
            "primary rejects; does not hold when jumps sit significantly farther from escapes than under the null; "
            "not shown otherwise")

    def jobs(self, options) -> list[ClaimJob]:
        return [ClaimJob(name, overrides) for name, overrides in [*EVENTS_JOBS, *spec_jobs()]]

    def extract(self, run, context) -> PrimaryEvents:
        events = run_events(context)
        try:
            specs = spec_events(context, events)
        except (ValueError, KeyError, IndexError) as err:
            context.notes.append(f"specification curve: {context.one_line(err)}")
            specs = None
        return PrimaryEvents(events.jump_steps, events.jump_modes, events.escape_steps, events.span, specs)

    def evaluate(self, study) -> dict:
        units = units_of(study, self.id)
        options = study.options
        primary = jump_test(PRIMARY, self.id, "escapes", units, options, primary=True)
        return {"primary": primary, "groups": group_rows(study, self.id, "escapes", units),
                "curve": specification_curve(study, self.id), "replicates": replicate_rows(study, self.id)}

    def tests(self, study, result) -> list[TestRow]:
        return [result["primary"]]

    def verdicts(self, study, result) -> list:
        row = study.family_row(PRIMARY)
        if row is None or row.p_adjusted is None:
            return [self.verdict("untested", "no run has both jumps and escapes: nothing to test, no p-value")]
        level = local_level(study.family, 0)
        curve = result["curve"]["joint"]
        closer = row.p_adjusted < ALPHA and row.effect < 0
        farther = (row.details.get("p_other_tail") or 1.0) < level
        curve_agrees = curve.get("p_median") is not None and curve["p_median"] < ALPHA
        verdict = ("holds" if closer and curve_agrees else "fragile" if closer else
                   "does not hold" if farther else "not shown")
        evidence = f"{row.n_jumps} jumps in {row.n_runs} runs: {effect_text(row)}; {curve_text(curve)}"
        detectable = detectable_effect(row.details.get("se"), level)
        if detectable is not None:
            evidence += (f"; at the level the primary is first tested at ({level:.3g}, one-sided) the study would "
                         f"detect an effect of {detectable:.3f} decades or more with 80 % power (normal approximation "
                         "from the effect's standard error)")
        return [self.verdict(verdict, evidence)]

    def section(self, study, result, figs: dict) -> list[str]:
        from analyzer.sections.markdown import image, markdown_table
        from analyzer.study.figures_tests import spec_curve_figure

        lines = ["## Primary test (named before the data)", "",
                 f"**{PRIMARY}**: frequency jumps vs escapes (midpoints of the loss drops that end plateaus), pooled "
                 f"over the network runs, {study.options.null} null, one-sided (jumps closer than the null places "
                 "them). "
                 "Escapes, not plateau edges: on the diag-linear known-answer runs the escape reference finds the "
                 "planted coupling in 20 of 20 configurations, the edge reference in 8 of 20 (bench/RESULTS.md). "
                 "Every other test is secondary (test family below).", ""]
        lines += group_lines(result["groups"])
        rows, joint = result["curve"]["rows"], result["curve"]["joint"]
        if rows:
            lines += ["### Robustness: specification curve", "",
                      f"The primary test over {len(rows)} admissible specifications fixed before the data: plateau "
                      "detector (change points: escapes; gradient method: plateau ends) x learned threshold "
                      "(0.05 / 0.1 / 0.2) x event (every jump; jumps after the initial transient; the learned step; "
                      f"the first step below the threshold), on {joint.get('n_draws', 0)} null draws shared by every "
                      f"specification. {curve_text(joint)[0].upper()}{curve_text(joint)[1:]}.", ""]
            lines += image(figs, "specification-curve.png", spec_curve_figure(rows, ALPHA),
                           "specification curve of the primary test")
        if result["replicates"]:
            lines += ["Float-rounding replicates in place of their network runs (a noise floor of the primary test, "
                      "not specifications):", ""] + markdown_table(pd.DataFrame(result["replicates"]))
        return lines

    def json(self, study, result) -> dict:
        row = study.family_row(PRIMARY)
        level = local_level(study.family, 0)
        primary = {"name": PRIMARY, "reference": "escapes", "null": row.null if row else study.options.null,
                   "p_value": row.p_value if row else None, "p_adjusted": row.p_adjusted if row else None,
                   "effect": row.effect if row else None, "ci_low": row.ci_low if row else None,
                   "ci_high": row.ci_high if row else None, "n_runs": row.n_runs if row else None,
                   "n_jumps": row.n_jumps if row else None, "level": level,
                   "detectable_effect": detectable_effect(row.details.get("se"), level) if row else None}
        return {"primary_test": primary, "p_value": primary["p_value"], "specification_curve": result["curve"]["rows"],
                "specification_joint_test": result["curve"]["joint"], "replicate_tests": result["replicates"],
                "escape_group_tests": result["groups"]}


    claimed_sign = -1
    effect_unit = "decades (observed - null mean distance per jump)"

    def per_run_effects(self, study, result) -> dict[str, float]:
        return per_run_effects(result["primary"], {r.label: r.path for r in study.runs})


def curve_text(joint: dict) -> str:
    if joint.get("p_median") is None:
        return f"specification curve: no joint test ({joint.get('reason', 'no specification could be tested')})"
    return (f"specification curve: {100 * joint['share']:.0f} % of {joint['n_specs']} specifications significant at "
            f"{ALPHA:g} in the primary's direction (joint p = {joint['p_share']:.3g}), median effect "
            f"{joint['median_effect']:+.3f} decades (joint p = {joint['p_median']:.3g})")


def specification_curve(study, claim_id: str) -> dict:
    """Per specification: effect and p on shared null draws; the curve's joint test."""
    seeds = [(r, e) for r, e in study.extracts(claim_id) if e.specs is not None]
    if not seeds:
        return {"rows": [], "joint": {"reason": "no run has its specification events"}}
    if study.options.null not in SHARED_DRAW_NULLS:
        swaps = ", ".join(SHARED_DRAW_NULLS)
        return {"rows": [], "joint": {"reason": f"the joint test's shared draws exchange whole runs ({swaps}); the "
                                                f"study's null is {study.options.null}"}}
    specs = specifications()
    spec_units = [[e.specs.units(*spec) for _, e in seeds] for spec in specs]
    groups = [study.group_of[r.path] for r, _ in seeds]
    clocks = None
    if study.options.null == "clock-swap":
        from analyzer.stats.nulls.clock_swap import estimate_clocks

        clocks = estimate_clocks([np.log10(e.jumps + 1) for _, e in seeds], groups, [e.jump_modes for _, e in seeds])
    draws = min(study.options.n_permutations, SPEC_DRAWS)
    observed, null, reference = shared_swap_draws(spec_units, groups, draws, study.options.seed, clocks)
    joint = joint_test(observed, null, ALPHA, direction=-1, reference=reference)
    rows = []
    for s, (detector, threshold, event) in enumerate(specs):
        known = len(null) > 0 and np.isfinite(observed[s]) and np.all(np.isfinite(null[:, s]))
        rows.append({"detector": detector, "threshold": threshold, "event": event, "runs": "seeds",
                     "primary": (detector, threshold, event) == PRIMARY_SPEC, "reference": reference_name(detector),
                     "effect": float(observed[s] - reference[s]) if known else None,  # not attenuated
                     "p_value": float((1 + np.sum(null[:, s] <= observed[s] + 1e-12)) / (1 + len(null)))
                     if known else None, "ci_low": None, "ci_high": None})
    return {"rows": rows, "joint": joint}


def replicate_rows(study, claim_id: str) -> list[dict]:
    """The primary test with each float-rounding replicate r in place of its network run (a noise floor)."""
    by_key = {(study.group_of[r.path], r.seed): (r, e) for r, e in study.extracts(claim_id)}
    replicates = [(r, e) for r, e in study.extracts(claim_id, study.replicate_runs)]
    rows = []
    for number in sorted({int(r.config.get("perturb_seed", 0)) for r, _ in replicates}):
        swapped = dict(by_key)
        for r, e in replicates:
            key = (study.group_of[r.path], r.seed)
            if int(r.config.get("perturb_seed", 0)) == number and key in swapped:
                swapped[key] = (r, e)
        units = [unit(r, study.group_of[r.path], e.jumps, e.references, e.span, labels=e.jump_modes)
                 for r, e in swapped.values()]
        row = jump_test(f"replicate {number}", claim_id, "escapes", units, dataclasses.replace(
            study.options, n_permutations=min(study.options.n_permutations, SPEC_DRAWS)))
        rows.append({"replicate": number, "runs": row.n_runs, "jumps": row.n_jumps, "effect": row.effect,
                     "p_value": row.p_value})
    return rows


CLAIM = JumpsNearEscapes()
