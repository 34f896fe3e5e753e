"""Cao et al.: lower degrees (frequencies) are learned faster, read as rates, not as learned steps. Per network run
of the regime, the convergence rate of the residual's component on each target mode (the harmonics analysis' fit
from 0.9 to 0.1 of its start, on the spectrum's per-mode error), and Kendall's tau-b between the mode and its
slowness: +1 when the rates fall with degree. A mode that never falls to 0.9 of its start is slower than every
measured one (censored, ordered among its kind by how little it fell). Pooled as the spectral-bias claim pools its
tau: the mean over runs, a within-run permutation null, a cluster-bootstrap CI over runs within groups.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyzer.study.claims.base import Claim, ClaimJob
from analyzer.study.claims.events import EVENTS_JOBS
from analyzer.study.claims.spectral_bias import kendall_tau_b, rank_test
from analyzer.study.claims.theory_runs import NOT_IN_REGIME, ModeRates, in_regime, mode_rates, regime_run, \
    series_names
from analyzer.study.claims.theory_stats import tau_row, tau_text
from analyzer.stats import TestRow


class RatesOrderedByDegree(Claim):
    id = "rates_ordered_by_degree"
    observation = "Convergence rates fall with degree (frequency)"
    rule = ("per network run of the regime, Kendall's tau-b between the target mode and its slowness (minus its rate; "
            "modes that never fall to 0.9 of their start slowest), averaged over runs per width sweep; holds when the "
            "mean is above 0 at alpha after the family's adjustment (two-sided; null: rates permuted among a run's "
            "modes); does not hold for a significant reversal; not shown otherwise")

    def jobs(self, options) -> list[ClaimJob]:
        return [ClaimJob(name, overrides, regime_run) for name, overrides in EVENTS_JOBS]

    def extract(self, run, context) -> ModeRates | None:
        return mode_rates(context) if in_regime(run.config) else None

    def evaluate(self, study) -> dict | None:
        networks, twins = study.extracts(self.id), study.extracts(self.id, study.twin_runs)
        if not networks:
            return None
        series = series_names([r for r, _ in networks + twins])
        frame = pd.DataFrame([{"series": series[r.path], "role": r.role, "run": r.label, "group": study.group_of[r.path],
                               "width": r.config["model"]["width"],
                               "tau": kendall_tau_b(e.order_values()) if len(e.modes) > 1 else np.nan,
                               "values": e.order_values(), "n_censored": int(np.sum(~np.isfinite(e.rates)))}
                              for r, e in networks + twins])
        tests = {name: rank_test(part, study.options)
                 for name, part in frame[frame.role == "network"].groupby("series")}
        rates = pd.DataFrame([{"series": series[r.path], "role": r.role, "width": r.config["model"]["width"],
                               "mode": m, "unit": e.unit, "rate": rate, "end_fraction": end}
                              for r, e in networks + twins for m, rate, end in zip(e.modes, e.rates, e.end_fraction)])
        return {"taus": frame, "tests": tests, "rates": rates}

    def tests(self, study, result) -> list[TestRow]:
        if result is None:
            return []
        return [tau_row(_row_name(name), self.id, test, "rates permuted among each run's modes")
                for name, test in result["tests"].items()]

    def verdicts(self, study, result) -> list:
        if result is None:
            return [self.verdict("untested", NOT_IN_REGIME)]
        out = []
        taus = result["taus"]
        for name, test in result["tests"].items():
            twins = taus[(taus.role == "twin") & (taus.series == name)].tau
            more = f"; {test['n_ordered']} fully ordered" + (f"; their twins {twins.mean():+.2f}" if len(twins) else "")
            out.append(self.row_verdict(study.family_row(_row_name(name)), 1, "no run has two target modes",
                                        lambda row, t=test, m=more: tau_text(t, row, "networks") + m,
                                        f"{self.observation} ({name})"))
        return out

    def section(self, study, result, figs: dict) -> list[str]:
        if result is None:
            return []
        from analyzer.sections.markdown import markdown_table

        rates = result["rates"]
        table = (rates.groupby(["series", "role", "mode", "unit", "width"]).rate.median().unstack("width")
                 .reset_index())
        table.columns = [f"median rate, width {c}" if isinstance(c, (int, np.integer)) else c for c in table.columns]
        return ["## Rates by degree", "",
                "Per target mode (degree on the sphere, frequency on the sines) the median convergence rate per step "
                "across seeds, for the networks (role network) and their linearised twins, over the runs in which the "
                "mode's residual fell to 0.9 of its start (empty: in none; the order statistic counts such a mode "
                "as the slowest).", ""] + markdown_table(table)

    def json(self, study, result) -> dict:
        if result is None:
            return {self.id: None}
        taus = result["taus"].drop(columns=["values"])
        return {self.id: {"taus": taus, "rates": result["rates"],
                          "tests": {name: {k: v for k, v in t.items()} for name, t in result["tests"].items()}}}


def _row_name(series: str) -> str:
    return f"rates by degree: mean Kendall tau, two-sided ({series})"


CLAIM = RatesOrderedByDegree()
