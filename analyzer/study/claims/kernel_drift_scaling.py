"""The lazy-regime premise of Cao et al. and Bowman & Montúfar: the NTK moves less the wider the network. Per width
sweep, the log-log slope of the relative kernel drift at the end of training, ||K_T - K_0||_F / ||K_0||_F, on the
width; the premise (the NTK parameterisation's argument) is a slope near -1/2.

A linearised twin's kernel is J_0 J_0^T at every step: the twins' drift is a check that the pipeline sees a kernel
that does not move as one that does not move.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyzer.study.claims.base import test_verdict
from analyzer.study.claims.theory_runs import NOT_IN_REGIME, KernelClaim, series_names
from analyzer.study.claims.theory_stats import finite, p_text, slope_row, slope_text, width_slope
from analyzer.stats import ALPHA, TestRow

PREMISE = -0.5
TWIN_DRIFT_TOL = 1e-8  # a twin's kernel is the same matrix at every step: its drift is rounding


class KernelDriftScaling(KernelClaim):
    id = "kernel_drift_scaling"
    observation = "The kernel moves less the wider the network (lazy regime: drift ~ width^-1/2)"
    rule = ("per width sweep, the least-squares slope of log(relative NTK drift at the end of training) on "
            "log(width) over the networks; p from permuting the widths within each seed (two-sided), CI by a cluster "
            "bootstrap over seeds; holds when the slope is negative at alpha after the family's adjustment and its CI "
            "covers -1/2; partly when negative but the CI excludes -1/2 (the kernel settles with width at another "
            "rate) or there is no CI (fewer than 5 seeds); does not hold when significantly positive; not shown "
            "otherwise")

    def evaluate(self, study) -> dict | None:
        networks = study.extracts(self.id)
        if not networks:
            return None
        twin_views = study.extracts(self.id, study.twin_runs)
        series = series_names([r for r, _ in networks + twin_views])  # the regime's runs name the sweeps
        frame = pd.DataFrame([{"series": series[r.path], "run": r.label, "seed": r.seed, "width": e.facts.width,
                               "value": e.final_drift} for r, e in networks])
        tests = {}
        for name, part in frame.groupby("series"):
            if part.width.nunique() >= 2:
                tests[name] = width_slope(part, study.options.n_resamples, study.options.n_permutations,
                                          study.options.seed)
        twins = [e.final_drift for _, e in twin_views]
        return {"runs": frame, "tests": tests, "twin_drift": twins,
                "curves": {r.path: (series[r.path], e.facts.width, e.drift_steps, e.drift) for r, e in networks}}

    def tests(self, study, result) -> list[TestRow]:
        if result is None:
            return []
        return [slope_row(_row_name(name), self.id, test, "no dependence of the drift on width")
                for name, test in result["tests"].items()]

    def verdicts(self, study, result) -> list:
        if result is None:
            return [self.verdict("untested", NOT_IN_REGIME)]
        out = []
        for name, test in result["tests"].items():
            row = study.family_row(_row_name(name))
            verdict = drift_verdict(row.p_adjusted if row else None, test)
            out.append(self.verdict(verdict, f"{slope_text(test)}, p = {p_text(row)}; premise -1/2",
                                    f"{self.observation} ({name})"))
        if not out:
            out.append(self.verdict("untested", "no width sweep: every sweep of the regime has a single width"))
        twins = np.asarray(result["twin_drift"], np.float64)
        if len(twins):
            out.append(self.verdict("holds" if np.nanmax(twins) <= TWIN_DRIFT_TOL else "does not hold",
                                    f"{len(twins)} twins, largest drift {np.nanmax(twins):.2g}",
                                    "The linearised twins' kernels do not move",
                                    f"holds when every twin's end drift is at most {TWIN_DRIFT_TOL:g}"))
        return out

    def section(self, study, result, figs: dict) -> list[str]:
        if result is None or result["runs"].empty:
            return []
        from analyzer.sections.markdown import image, markdown_table
        from analyzer.study.claims.theory_figures import drift_figure

        table = (result["runs"].groupby(["series", "width"]).value
                 .agg(n="count", median="median", low="min", high="max").reset_index()
                 .rename(columns={"median": "median drift", "low": "smallest", "high": "largest"}))
        # the slope between neighbouring widths (of the medians): where the drift's fall steepens or flattens
        local = pd.Series(np.nan, index=table.index)
        for _, part in table.groupby("series"):
            local[part.index] = np.log(part["median drift"]).diff() / np.log(part.width.astype(float)).diff()
        table["local slope from the narrower width"] = local
        lines = ["## Kernel drift against width", "",
                 "Relative change of the empirical NTK on the training inputs, ||K_t - K_0||_F / ||K_0||_F, at the end "
                 "of training, per network (`analyze ntk`, exact, 40 log-spaced checkpoints). The premise of Cao "
                 "et al. and Bowman & Montúfar is a network close to its linearisation; in the NTK parameterisation the drift falls "
                 "like width^-1/2. Our nets are PyTorch's standard parameterisation with the learning rate scaled "
                 "with the width (2 lr lambda_max(K_0) / N fixed), so the exponent is measured, not assumed; the last "
                 "column is the slope between neighbouring widths' medians.", ""]
        lines += markdown_table(table)
        lines += image(figs, "theory-drift.png", drift_figure(result["runs"], result["tests"], result["curves"]),
                       "kernel drift against width, and along training")
        return lines

    def json(self, study, result) -> dict:
        if result is None:
            return {self.id: None}
        return {self.id: {"runs": result["runs"], "slopes": result["tests"],
                          "twin_max_drift": float(np.max(result["twin_drift"])) if result["twin_drift"] else None}}


def drift_verdict(p_adjusted: float | None, test: dict) -> str:
    """The rule: significant and negative, with the CI covering -1/2 (holds) or not (partly)."""
    verdict = test_verdict(p_adjusted, finite(test["slope"]), -1, ALPHA)
    if verdict != "holds":
        return verdict
    covered = test["ci_low"] is not None and test["ci_low"] <= PREMISE <= test["ci_high"]
    return "holds" if covered else "partly"


def _row_name(series: str) -> str:
    return f"kernel drift vs width: log-log slope ({series})"



CLAIM = KernelDriftScaling()
