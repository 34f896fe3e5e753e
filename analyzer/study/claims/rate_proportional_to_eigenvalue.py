"""Cao et al.: training decomposes along the NTK's eigenfunctions, each at a rate set by its eigenvalue. Per run, the
observed decay rate of the training residual along each eigendirection of the kernel at init against linearised GD's
-ln|1 - a_eff lambda| (`analyze ntk`), and per spherical-harmonic degree against the closed-form infinite-width
kernel and the empirical one (`analyze harmonics`).

Three readings: on the GD twins (linear in their parameters) the prediction is exact, to rounding, in every moving
direction; on the networks the ratio observed / predicted spreads around 1, and the spread (median |log ratio| over
a run's moving directions, or its target degrees) shrinks with width as the network nears its linearisation.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analyzer.study.claims.base import Claim, test_verdict
from analyzer.study.claims.theory_runs import NOT_IN_REGIME, DegreeRates, KernelView, degree_rates, in_regime, \
    kernel_view, series_names, theory_jobs
from analyzer.study.claims.theory_stats import finite, p_text, slope_row, slope_text, width_slope
from analyzer.stats import ALPHA, TestRow

TWIN_TOLERANCE = {"float64": 1e-6, "float32": 1e-3}  # |ratio - 1| in every moving direction of a GD twin
MEASURES = {"eigendirections": "per eigendirection of the empirical kernel at init",
            "degrees, closed form": "per target degree, against the closed-form kernel (infinite width)",
            "degrees, empirical": "per target degree, against the empirical kernel at init"}


@dataclass(frozen=True)
class RateEvidence:
    kernel: KernelView
    degrees: DegreeRates | None


class RateProportionalToEigenvalue(Claim):
    id = "rate_proportional_to_eigenvalue"
    observation = "The residual decays along each NTK eigenfunction at the rate its eigenvalue sets"
    rule = ("on the GD twins: holds when |observed / predicted - 1| is at most 1e-6 (float64; 1e-3 float32) in every "
            "moving eigendirection of every twin; on the networks, per width sweep and measure: the spread of a "
            "run's ratios (median |log(observed / predicted)|) against width, slope of log spread on log width "
            "(p from permuting widths within seeds, two-sided; seed-bootstrap CI): holds when negative at alpha after "
            "the family's adjustment, does not hold when significantly positive, not shown otherwise")

    def jobs(self, options) -> list:
        return theory_jobs("ntk", "harmonics")

    def extract(self, run, context) -> RateEvidence | None:
        if not in_regime(run.config):
            return None
        return RateEvidence(kernel_view(context), degree_rates(context))

    def evaluate(self, study) -> dict | None:
        networks = study.extracts(self.id)
        twins = study.extracts(self.id, study.twin_runs)
        if not networks and not twins:
            return None
        series = series_names([r for r, _ in networks + twins])
        rows = [{"series": series[r.path], "role": r.role, "run": r.label, "seed": r.seed, "width": e.kernel.facts.width,
                 "dtype": e.kernel.facts.dtype, **spreads(e)} for r, e in networks + twins]
        frame = pd.DataFrame(rows)
        tests = {}
        for name, part in frame[frame.role == "network"].groupby("series"):
            for measure in MEASURES:
                values = part.assign(value=part[measure])
                if part.width.nunique() >= 2 and np.isfinite(values.value).any():
                    tests[(name, measure)] = width_slope(values, study.options.n_resamples,
                                                         study.options.n_permutations, study.options.seed)
        return {"runs": frame, "tests": tests, "twin_check": twin_check(twins),
                "points": {r.path: (series[r.path], r.role, e) for r, e in networks + twins}}

    def tests(self, study, result) -> list[TestRow]:
        if result is None:
            return []
        return [slope_row(_row_name(*key), self.id, test, "no dependence of the spread on width")
                for key, test in result["tests"].items()]

    def verdicts(self, study, result) -> list:
        if result is None:
            return [self.verdict("untested", NOT_IN_REGIME)]
        out = []
        check = result["twin_check"]
        if check["n_twins"]:
            out.append(self.verdict(
                "untested" if check["n_directions"] == 0 else "holds" if check["n_over"] == 0 else "does not hold",
                f"{check['n_twins']} twins, {check['n_directions']} moving eigendirections: largest |ratio - 1| "
                f"{check['max_error']:.2g}; {check['n_over']} twins over the tolerance",
                "On the GD twins the observed rate equals the predicted one in every moving eigendirection"))
        for (name, measure), test in result["tests"].items():
            row = study.family_row(_row_name(name, measure))
            verdict = test_verdict(row.p_adjusted if row else None, finite(test["slope"]), -1, ALPHA)
            medians = _median_ratio_text(result["runs"], name, measure)
            out.append(self.verdict(verdict, f"spread of the ratios: {slope_text(test)}, p = {p_text(row)}; {medians}",
                                    f"On the networks the ratio observed / predicted nears 1 with width "
                                    f"({MEASURES[measure]}; {name})"))
        if len(out) == (1 if check["n_twins"] else 0):
            out.append(self.verdict("untested", "no width sweep of networks: nothing to compare across widths"))
        return out

    def section(self, study, result, figs: dict) -> list[str]:
        if result is None:
            return []
        from analyzer.study.claims.theory_report import rate_section

        return rate_section(study, result, figs)

    def json(self, study, result) -> dict:
        if result is None:
            return {self.id: None}
        return {self.id: {"runs": result["runs"], "twin_check": result["twin_check"],
                          "spread_slopes": [{"series": s, "measure": m, **t} for (s, m), t in result["tests"].items()]}}


def spreads(evidence: RateEvidence) -> dict:
    """Median |log ratio| per measure and the median ratio per eigendirection and per degree (NaN: none)."""
    kernel = evidence.kernel
    out = {"moving directions": int(kernel.moving.sum()),
           "median ratio": _median(kernel.ratio[kernel.moving]),
           "eigendirections": _median(kernel.deviations())}
    degrees = evidence.degrees
    for measure, predicted in (("degrees, closed form", "gd_rate"), ("degrees, empirical", "gd_rate_empirical")):
        if degrees is None:
            out[measure] = out[f"median ratio, {measure}"] = np.nan
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = degrees.rate / getattr(degrees, predicted)
        ratio = ratio[np.isfinite(ratio)]
        out[measure] = _median(np.where(ratio > 0, np.abs(np.log(np.abs(ratio))), np.inf))
        out[f"median ratio, {measure}"] = _median(ratio)
    return out


def twin_check(twins) -> dict:
    """The largest |ratio - 1| over every twin's moving directions, and how many twins exceed their tolerance."""
    errors, over, directions = [], 0, 0
    for _, evidence in twins:
        kernel = evidence.kernel
        error = np.abs(kernel.ratio[kernel.moving] - 1.0)
        directions += len(error)
        worst = float(error.max()) if len(error) else 0.0
        errors.append(worst)
        over += worst > TWIN_TOLERANCE.get(kernel.facts.dtype, 1e-3)
    return {"n_twins": len(twins), "n_directions": directions, "max_error": max(errors, default=np.nan),
            "n_over": int(over)}


def _median_ratio_text(frame: pd.DataFrame, series: str, measure: str) -> str:
    column = "median ratio" if measure == "eigendirections" else f"median ratio, {measure}"
    part = frame[(frame.role == "network") & (frame.series == series)]
    medians = part.groupby("width")[column].median()
    return "median ratio by width " + ", ".join(f"{w}: {v:.3g}" for w, v in medians.items())


def _median(values: np.ndarray) -> float:
    return float(np.median(values)) if len(values) else np.nan


def _row_name(series: str, measure: str) -> str:
    return f"rate ratio spread vs width, {measure} ({series})"



CLAIM = RateProportionalToEigenvalue()
