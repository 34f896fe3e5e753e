"""Escape directions: does the escape from a plateau move along the plateau's negative curvature more than a control
displacement with the same loss drop does, and does the most negative direction carry the frequency that jumps?

Per escape (`analyze escape`): the fraction of the displacement's squared norm in the plateau Hessian's negative
eigenspace in units of a random direction's (n_negative / rank), against the same for a control displacement of
the same run: a stretch outside every plateau and escape whose loss drop (and, where the run has one, log-step
span) matches the escape's, measured against the Hessian at its own start, chosen with a number of negative
eigenvalues close to the escape's (escape_pool.py pools them: the paired difference over escapes with a
loss-matched control, with a cluster bootstrap over runs). The frequency match is tested against its chance rate:
the jumping frequencies permuted across the escapes. The escape time against curvature (gradient-descent runs) is
descriptive.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyzer.study.claims.base import Claim, ClaimJob
from analyzer.study.claims.saddles import is_network_run
from analyzer.stats import ALPHA, MIN_RUNS_FOR_CI, TOO_FEW_RUNS, TestRow

DIRECTION_ROW = ("escape vs loss-matched control displacement: normalised overlap with the negative eigenspace "
                 "(escape directions)")
CONTROL = ("a stretch of the same run outside every plateau and escape with a matching loss drop (and log-step span "
           "where possible), against the Hessian at its own start, of similar index")
FREQUENCY_ROW = "most negative direction carries the jumping frequency, vs frequencies permuted across escapes"


class EscapeDirections(Claim):
    id = "escape_directions"
    observation = ("Escapes move along the plateau's negative curvature more than control displacements with the same "
                   "loss drop")
    rule = ("holds when the escape-minus-control overlap with the negative eigenspace, each in units of a random "
            "direction's (n_negative / rank), is above 0 at alpha after the family's adjustment (two-sided sign flips "
            "over runs, escapes with a loss-matched control only); does not hold when "
            f"it is significantly below; not shown otherwise; untested with fewer than {MIN_RUNS_FOR_CI} runs")
    network_runs_only = True

    def jobs(self, options) -> list[ClaimJob]:
        return [ClaimJob("escape", {}, is_network_run)] if options.hessian else []

    def extract(self, run, context) -> pd.DataFrame | None:
        from analyzer.errors import AnalysisFailed, BadInputError

        if not context.options.hessian:
            return None
        try:
            return context.result("escape").table.reset_index(drop=True)
        except (BadInputError, AnalysisFailed) as err:
            context.notes.append(f"escape: {' '.join(str(err).split())}")
            return None

    def evaluate(self, study) -> dict | None:
        from analyzer.study.claims.escape_pool import escape_frame, escape_time_fit, pooled_escapes

        if not study.options.hessian:
            return None
        escapes = escape_frame(study.extracts(self.id), study.group_of)
        resamples, seed = min(study.options.n_resamples, 4000), study.options.seed
        return {"escape_pool": pooled_escapes(escapes, resamples, seed) if len(escapes) else None,
                "escape_time": escape_time_fit(escapes, resamples, seed) if len(escapes) else None}

    def tests(self, study, result) -> list[TestRow]:
        pool = (result or {}).get("escape_pool")
        if not pool:
            return []
        rows = []
        if pool["n_tested"]:
            difference = pool["difference"]
            rows.append(TestRow(name=DIRECTION_ROW, claim=self.id, reference=CONTROL,
                                null="sign flips over runs, two-sided", p_value=pool["p_value"],
                                effect=difference["mean"], ci_low=difference["ci_low"], ci_high=difference["ci_high"],
                                observed=pool["overlap_negative_norm"]["mean"],
                                null_mean=pool["control_overlap_negative_norm"]["mean"], n_runs=pool["n_runs"]))
        if pool.get("freq_match_p") is not None:
            rows.append(TestRow(name=FREQUENCY_ROW, claim=self.id, reference="jumping frequencies permuted across "
                                "escapes", null="permutation, one-sided", p_value=pool["freq_match_p"],
                                effect=float(pool["freq_matches_jump"] - pool["freq_match_chance"]),
                                observed=float(pool["freq_matches_jump"]), null_mean=pool["freq_match_chance"],
                                n_runs=pool["n_runs_with_escapes"]))
        return rows

    def verdicts(self, study, result) -> list:
        if result is None:
            return []
        pool = result["escape_pool"]
        if not pool:
            return [self.verdict("untested", "no escape from a plateau with stored checkpoints on both sides")]
        return [self._direction_verdict(study, pool), *self._frequency_verdict(study, pool)]

    def _direction_verdict(self, study, pool: dict):
        kinds = ", ".join(f"{n} {kind}" for kind, n in pool["control_kinds"].items())
        if not pool["n_tested"]:
            return self.verdict("untested", f"{pool['n_escapes']} escapes, none with a loss-matched control "
                                            f"(controls: {kinds})")
        row = study.family_row(DIRECTION_ROW)
        counts = (f"{pool['n_tested']} of {pool['n_escapes']} escapes with a loss-matched control (controls: {kinds}) "
                  f"in {pool['n_runs']} runs: overlap_negative in units of chance "
                  f"{pool['overlap_negative_norm']['mean']:.3f} vs control "
                  f"{pool['control_overlap_negative_norm']['mean']:.3f} (raw {pool['overlap_negative']['mean']:.3f} "
                  f"vs {pool['control_overlap_negative']['mean']:.3f})")
        return self.row_verdict(row, 1, counts + f"; {TOO_FEW_RUNS}: no bootstrap test",
                                lambda row: counts + f", difference {row.effect:+.3f} (95 % CI {row.ci_low:+.3f} to "
                                                     f"{row.ci_high:+.3f}), p = {row.p_value:.3g}, adjusted "
                                                     f"{row.p_adjusted:.3g}")

    def _frequency_verdict(self, study, pool: dict) -> list:
        frequency = study.family_row(FREQUENCY_ROW)
        if frequency is None:
            return []
        verdict = "holds" if frequency.p_adjusted < ALPHA else "not shown"
        return [self.verdict(
            verdict, f"in {pool['freq_matches_jump']} of {pool['n_with_jump']} escapes with a jump, against "
                     f"{pool['freq_match_chance']:.1f} with the jumping frequencies permuted across escapes "
                     f"(p = {frequency.p_value:.3g}, adjusted {frequency.p_adjusted:.3g})",
            "The most negative direction carries the frequency that jumps in the escape",
            "holds when the number of matches exceeds its permutation distribution at alpha after the family's "
            "adjustment (one-sided); not shown otherwise")]

    def section(self, study, result, figs: dict) -> list[str]:
        from analyzer.study.claims.escape_report import escape_section

        return escape_section(study, result, figs, DIRECTION_ROW) if result is not None else []

    effect_unit = "escape minus control overlap with the negative eigenspace (raw fractions; a twin has none)"

    def per_run_effects(self, study, result) -> dict[str, float]:
        """Per run: the mean raw difference overlap_negative - control_overlap_negative over its escapes with a
        control (raw, not normalised: a twin's Hessian has no negative eigenspace, so both are 0 there)."""
        out = {}
        for run, table in study.extracts(self.id):
            if table is None or table.empty:
                continue
            known = table[table.control_kind.astype(str) != "none"] if "control_kind" in table else table
            difference = (known.overlap_negative.astype(float) - known.control_overlap_negative.astype(float))
            difference = difference[np.isfinite(difference)]
            if len(difference):
                out[run.path] = float(difference.mean())
        return out

    def json(self, study, result) -> dict:
        result = result or {}
        return {"escape_pool": result.get("escape_pool"), "escape_time": result.get("escape_time")}


CLAIM = EscapeDirections()
