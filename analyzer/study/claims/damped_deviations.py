"""Bowman & Montúfar: in the underparameterised setting (fewer parameters than training points) the kernel's deviations
from its value at init matter less along directions with large eigenvalues (a damping factor). Per network run
with fewer parameters than points whose kernel moves (end drift at least MIN_DRIFT of its norm), Kendall's tau-b
between the eigen-index of K_0 (eigenvalues descending) and the deviation |log(observed / predicted rate)| over the
run's moving directions (a component that grew instead of decaying deviates most): +1 when the deviations grow as
the eigenvalue falls. Pooled over runs as the spectral-bias tau is (mean, within-run permutation null,
cluster-bootstrap CI). Overparameterised runs are shown beside it, outside the test.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.stats import rankdata

from analyzer.study.claims.spectral_bias import kendall_tau_b, rank_test
from analyzer.study.claims.theory_runs import NOT_IN_REGIME, KernelClaim, KernelView, series_names
from analyzer.study.claims.theory_stats import tau_row, tau_text
from analyzer.stats import TestRow

MIN_DRIFT = 0.01  # "while the kernel moves": by at least 1 % of its norm by the end of training
MIN_DIRECTIONS = 3  # a rank correlation needs a few moving directions


class DampedDeviations(KernelClaim):
    id = "damped_deviations"
    observation = ("Kernel deviations matter less along large-eigenvalue directions (underparameterised networks "
                   "whose kernel moves)")
    rule = (f"per network run with fewer parameters than training points and an end kernel drift of at least "
            f"{MIN_DRIFT:g}, Kendall's tau-b between eigen-index (eigenvalue descending) and |log(observed / "
            f"predicted rate)| over its moving directions (at least {MIN_DIRECTIONS}); mean over runs per width "
            "sweep; holds when above 0 at alpha after the family's adjustment (two-sided; null: deviations permuted "
            "among a run's directions), does not hold for a significant reversal, not shown otherwise")

    def evaluate(self, study) -> dict | None:
        networks = study.extracts(self.id)
        if not networks:
            return None
        series = series_names([r for r, _ in networks])
        frame = pd.DataFrame([{"series": series[r.path], "run": r.label, "group": study.group_of[r.path],
                               "width": e.facts.width, "parameters": e.facts.n_params, "points": e.facts.n_points,
                               "underparameterised": e.facts.underparameterised, "end drift": e.final_drift,
                               "moving directions": int(e.moving.sum()), **deviation_tau(e)} for r, e in networks])
        tested = frame[frame.underparameterised & (frame["end drift"] >= MIN_DRIFT)
                       & (frame["moving directions"] >= MIN_DIRECTIONS)]
        tests = {name: rank_test(part, study.options) for name, part in tested.groupby("series")}
        return {"runs": frame, "tests": tests,
                "points": {r.path: (series[r.path], e) for r, e in networks if e.facts.underparameterised}}

    def tests(self, study, result) -> list[TestRow]:
        if result is None:
            return []
        return [tau_row(_row_name(name), self.id, test, "deviations permuted among a run's directions")
                for name, test in result["tests"].items()]

    def verdicts(self, study, result) -> list:
        if result is None:
            return [self.verdict("untested", NOT_IN_REGIME)]
        if not result["tests"]:
            runs = result["runs"]
            return [self.verdict("untested", f"no underparameterised network whose kernel moves (of "
                                             f"{len(runs)} networks, {int(runs.underparameterised.sum())} have fewer "
                                             "parameters than training points)")]
        out = []
        for name, test in result["tests"].items():
            over = result["runs"]
            over = over[(over.series == name) & ~over.underparameterised].tau
            more = f"; overparameterised networks {over.mean():+.2f} (not tested)" if over.notna().any() else ""
            out.append(self.row_verdict(study.family_row(_row_name(name)), 1, "no run with two distinct deviations",
                                        lambda row, t=test, m=more: tau_text(t, row, "underparameterised networks") + m,
                                        f"{self.observation} ({name})"))
        return out

    def section(self, study, result, figs: dict) -> list[str]:
        if result is None:
            return []
        from analyzer.sections.markdown import image, markdown_table
        from analyzer.study.claims.theory_figures import damped_figure

        runs = result["runs"]
        table = (runs.groupby(["series", "width", "parameters", "points"])
                 .agg(runs=("tau", "size"), **{"median end drift": ("end drift", "median"),
                                               "mean tau": ("tau", "mean"),
                                               "moving directions": ("moving directions", "median")}).reset_index())
        lines = ["## Damped deviations", "",
                 "Per network: Kendall's tau between the eigen-index of the kernel at init (largest eigenvalue first) "
                 "and |log(observed / predicted rate)| over its moving directions; positive when directions with "
                 "large eigenvalues follow the linearised prediction more closely. Bowman & Montúfar's setting is the "
                 "underparameterised one (parameters < points); the test uses those runs only.", ""]
        lines += markdown_table(table)
        if result["points"]:
            lines += image(figs, "theory-damped.png", damped_figure(result["points"]),
                           "deviation from the linearised rate against the eigenvalue, underparameterised networks")
        return lines

    def json(self, study, result) -> dict:
        if result is None:
            return {self.id: None}
        return {self.id: {"runs": result["runs"].drop(columns=["values"]), "tests": result["tests"]}}


def deviation_tau(kernel: KernelView) -> dict:
    """tau-b between eigen-index and deviation rank (inf deviations: the largest, tied), and those ranks."""
    deviations = kernel.deviations()
    if len(deviations) < MIN_DIRECTIONS:
        return {"tau": np.nan, "values": np.zeros(0)}
    values = rankdata(deviations)  # ranks: an infinite deviation sorts last without breaking the sign arithmetic
    return {"tau": kendall_tau_b(values), "values": values}


def _row_name(series: str) -> str:
    return f"damped deviations: mean Kendall tau, two-sided ({series})"


CLAIM = DampedDeviations()
