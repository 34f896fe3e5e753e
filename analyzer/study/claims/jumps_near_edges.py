"""A secondary claim: frequency jumps occur near plateau edges (the change points themselves, not the escapes)."""

from __future__ import annotations

from analyzer.study.claims.base import Claim, ClaimJob
from analyzer.study.claims.jump_tests import JumpEvents, effect_text, group_lines, group_rows, units_of
from analyzer.study.claims.events import EVENTS_JOBS, run_events
from analyzer.stats import TestRow
from analyzer.study.pooled import jump_test

ROW = "jumps vs plateau edges"


class JumpsNearEdges(Claim):
    id = "jumps_near_edges"
    observation = "Frequency jumps occur near plateau edges (secondary)"
    rule = ("holds when jumps vs plateau edges (pooled, two-sided) rejects at alpha after the family's adjustment "
            "with jumps closer than the null places them; does not hold when they sit significantly farther; not "
            "shown otherwise")
    network_runs_only = True

    def jobs(self, options) -> list[ClaimJob]:
        return [ClaimJob(name, overrides) for name, overrides in EVENTS_JOBS]

    def extract(self, run, context) -> JumpEvents:
        events = run_events(context)
        return JumpEvents(events.jump_steps, events.jump_modes, events.edge_steps, events.span)

    def evaluate(self, study) -> dict:
        units = units_of(study, self.id)
        return {"row": jump_test(ROW, self.id, "edges", units, study.options, two_sided=True),
                "groups": group_rows(study, self.id, "edges", units)}

    def tests(self, study, result) -> list[TestRow]:
        return [result["row"]]

    def verdicts(self, study, result) -> list:
        return [self.row_verdict(study.family_row(ROW), -1, "no run has both jumps and plateau edges: no p-value",
                                 lambda row: f"{row.n_jumps} jumps in {row.n_runs} runs: {effect_text(row)}")]

    def section(self, study, result, figs: dict) -> list[str]:
        lines = group_lines(result["groups"])
        return ["## Jumps near plateau edges (secondary)", ""] + lines if lines else []

    def json(self, study, result) -> dict:
        row = study.family_row(ROW)
        return {"p_value_edges": row.p_value if row else None, "edge_group_tests": result["groups"]}


CLAIM = JumpsNearEdges()
