"""Lucey: gradient descent is the shrinkage mask m(s) = 1 - (1 - a_eff s^2)^q on the Jacobian's singular values
at init, so the bandwidth (directions fitted beyond 1/2) grows like sqrt(q). Per run of the regime (`analyze
mask`): the mask's fit error (largest |fitted - predicted| fraction), and the bandwidth's growth exponent in q,
observed and as the mask predicts it from the measured singular values (both fitted on the same stored steps,
where the count is neither 0 nor every direction). Three readings: the mask is exact on the GD twins; the
networks' exponent against sqrt(q); the networks' exponent against their own singular values' prediction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import pandas as pd

from analyzer.study.claims.base import Claim
from analyzer.study.claims.theory_runs import NOT_IN_REGIME, in_regime, run_facts, series_names, theory_jobs
from analyzer.study.claims.theory_stats import p_text
from analyzer.stats import ALPHA, TestRow, mean_interval, sign_flip

TWIN_TOLERANCE = {"float64": 1e-6, "float32": 1e-3}  # fit error of the exact mask on a GD twin
SQRT_Q = 0.5
MARGIN = 0.1  # an exponent within 0.1 of the reference (its whole CI) counts as that reference


@dataclass(frozen=True)
class MaskView:
    width: int
    dtype: str
    fit_error: float
    n_directions: int
    iterations: np.ndarray  # q at the sampled steps
    predicted_counts: np.ndarray
    observed_counts: np.ndarray

    @property
    def observed_exponent(self) -> float:
        return bandwidth_exponent(self.iterations, self.observed_counts, self.n_directions)

    @property
    def predicted_exponent(self) -> float:
        return bandwidth_exponent(self.iterations, self.predicted_counts, self.n_directions)


def bandwidth_exponent(iterations, counts, total: int) -> float:
    """Slope of log(count) on log(q) where the count is neither 0 nor `total` (NaN with < 2 distinct counts)."""
    q, counts = np.asarray(iterations, np.float64), np.asarray(counts, np.float64)
    usable = (q > 0) & (counts > 0) & (counts < total)
    if usable.sum() < 2 or len(np.unique(counts[usable])) < 2:
        return math.nan
    return float(np.polyfit(np.log(q[usable]), np.log(counts[usable]), 1)[0])


class GdMaskBandwidth(Claim):
    id = "gd_mask_bandwidth"
    observation = "Gradient descent is a shrinkage mask whose bandwidth grows like sqrt(q)"
    rule = (f"on the GD twins: holds when every twin's mask fit error is at most 1e-6 (float64; 1e-3 float32); on the "
            f"networks, per width sweep, the mean bandwidth exponent against 1/2 and the mean paired difference from "
            f"the exponent the singular values predict (sign flips over runs, two-sided; cluster-bootstrap CI over "
            f"runs within groups): holds when the whole CI lies within {MARGIN:g} of the reference, does not hold when "
            f"the difference is significant at alpha after the family's adjustment, not shown otherwise")

    def jobs(self, options) -> list:
        return theory_jobs("mask")

    def extract(self, run, context) -> MaskView | None:
        if not in_regime(run.config):
            return None
        result = context.result("mask")
        facts = run_facts(run.config)
        table = result.bandwidth
        return MaskView(facts.width, facts.dtype, float(result.fit_error), int(result.n_directions),
                        table.sqrt_q.to_numpy(np.float64) ** 2, table.predicted.to_numpy(np.float64),
                        table.observed.to_numpy(np.float64))

    def evaluate(self, study) -> dict | None:
        networks, twins = study.extracts(self.id), study.extracts(self.id, study.twin_runs)
        if not networks and not twins:
            return None
        series = series_names([r for r, _ in networks + twins])
        frame = pd.DataFrame([{"series": series[r.path], "role": r.role, "run": r.label, "group": study.group_of[r.path],
                               "seed": r.seed, "width": e.width, "dtype": e.dtype, "fit error": e.fit_error,
                               "directions": e.n_directions, "observed exponent": e.observed_exponent,
                               "predicted exponent": e.predicted_exponent} for r, e in networks + twins])
        tests = {}
        for name, part in frame[frame.role == "network"].groupby("series"):
            observed = part["observed exponent"].to_numpy(np.float64)
            tests[(name, "sqrt(q)")] = _reference_test(observed - SQRT_Q, part.group, study.options)
            tests[(name, "singular values")] = _reference_test(observed - part["predicted exponent"].to_numpy(),
                                                               part.group, study.options)
        return {"runs": frame, "tests": tests,
                "curves": {r.path: (series[r.path], r.role, e) for r, e in networks + twins}}

    def tests(self, study, result) -> list[TestRow]:
        if result is None:
            return []
        return [TestRow(name=_row_name(*key), claim=self.id, reference=f"the exponent {_reference(key[1])}",
                        null="sign flips of the per-run differences, two-sided", p_value=test["p_value"],
                        effect=test["difference"], ci_low=test["ci_low"], ci_high=test["ci_high"],
                        observed=test["difference"], null_mean=0.0, n_runs=test["n_runs"])
                for key, test in result["tests"].items() if test["p_value"] is not None]

    def verdicts(self, study, result) -> list:
        if result is None:
            return [self.verdict("untested", NOT_IN_REGIME)]
        runs, out = result["runs"], []
        twins = runs[runs.role == "twin"]
        if len(twins):
            limits = twins.dtype.map(lambda d: TWIN_TOLERANCE.get(d, 1e-3))
            over = int(np.sum(~(twins["fit error"] <= limits)))
            out.append(self.verdict("holds" if over == 0 else "does not hold",
                                    f"{len(twins)} twins: largest fit error {twins['fit error'].max():.2g}, {over} over "
                                    "the tolerance", "On the GD twins the mask is exact"))
        for (name, reference), test in result["tests"].items():
            row = study.family_row(_row_name(name, reference))
            observation = f"The networks' bandwidth grows with {_reference(reference)} ({name})"
            out.append(self.verdict(reference_verdict(row.p_adjusted if row else None, test),
                                    _evidence(runs, name, reference, test, row), observation))
        return out or [self.verdict("untested", "no GD networks or twins with a mask")]

    def section(self, study, result, figs: dict) -> list[str]:
        if result is None:
            return []
        from analyzer.sections.markdown import image, markdown_table
        from analyzer.study.claims.theory_figures import mask_figure

        runs = result["runs"]
        table = (runs.groupby(["series", "role", "width"])
                 .agg(runs=("run", "size"), **{"median fit error": ("fit error", "median"),
                                               "observed exponent": ("observed exponent", "mean"),
                                               "predicted exponent": ("predicted exponent", "mean")}).reset_index())
        return (["## The gradient-descent mask", "",
                 "Per run, `analyze mask`: J_0 = U diag(s) V^T at init, the fraction of each target component "
                 "u_i^T (y - f_0) fitted after q steps against m(s_i) = 1 - (1 - a_eff s_i^2)^q (fit error: the "
                 "largest difference), and the bandwidth (directions fitted beyond 1/2) against q: its growth "
                 "exponent observed, and as the mask predicts it from the measured singular values. Lucey argues "
                 "for q^(1/2) from singular values that decay like 1/k.", ""]
                + markdown_table(table)
                + image(figs, "theory-mask.png", mask_figure(result["curves"]),
                        "bandwidth against q, observed and as the mask predicts, per width"))

    def json(self, study, result) -> dict:
        if result is None:
            return {self.id: None}
        return {self.id: {"runs": result["runs"],
                          "tests": [{"series": s, "reference": r, **t} for (s, r), t in result["tests"].items()]}}


def _reference_test(differences: np.ndarray, groups, options) -> dict:
    """Mean difference over runs with a finite one, its two-sided sign-flip p and cluster-bootstrap CI."""
    keep = np.isfinite(differences)
    differences, groups = differences[keep], list(np.asarray(groups)[keep])
    out = {"n_runs": len(differences), "difference": None, "p_value": None, "ci_low": None, "ci_high": None}
    if len(differences) < 2:
        return out
    out["difference"], out["p_value"] = sign_flip(differences, options)
    out["ci_low"], out["ci_high"], _ = mean_interval(differences, groups, n_resamples=options.n_resamples,
                                                     seed=options.seed)
    return out


def reference_verdict(p_adjusted: float | None, test: dict) -> str:
    """Within the margin (the whole CI) holds; a significant difference does not hold; otherwise not shown."""
    if test["difference"] is None:
        return "untested"
    if test["ci_low"] is not None and -MARGIN <= test["ci_low"] and test["ci_high"] <= MARGIN:
        return "holds"
    if p_adjusted is not None and p_adjusted < ALPHA:
        return "does not hold"
    return "not shown"


def _evidence(runs: pd.DataFrame, series: str, reference: str, test: dict, row) -> str:
    part = runs[runs.series == series]
    networks, twins = part[part.role == "network"], part[part.role == "twin"]
    if test["difference"] is None:
        return "fewer than 2 networks with a bandwidth exponent"
    ci = (f" (95 % CI {test['ci_low']:+.2f} to {test['ci_high']:+.2f})" if test["ci_low"] is not None else "")
    text = (f"{test['n_runs']} networks, exponent {networks['observed exponent'].mean():.2f} observed, "
            f"{networks['predicted exponent'].mean():.2f} predicted by the singular values; difference from "
            f"{_reference(reference)} {test['difference']:+.2f}{ci}, p = {p_text(row)}")
    if len(twins):
        text += f"; twins {twins['observed exponent'].mean():.2f} observed"
    return text


def _reference(reference: str) -> str:
    return "sqrt(q) (exponent 1/2)" if reference == "sqrt(q)" else "the exponent its singular values predict"


def _row_name(series: str, reference: str) -> str:
    return f"mask bandwidth exponent minus {'1/2' if reference == 'sqrt(q)' else 'its prediction'} ({series})"


CLAIM = GdMaskBandwidth()
