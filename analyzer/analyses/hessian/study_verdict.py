"""The saddle control in the study's test family and its verdict: do plateaus sit at saddles?"""

from __future__ import annotations

import math

import numpy as np

SADDLE_ROW = "index fraction at plateau vs time-matched checkpoints (saddle control)"  # the first of saddle_rows


def saddle_rows(control: dict | None) -> list[dict]:
    """The time-matched saddle control (saddle_control.py) as family rows: index fraction, lambda_min."""
    from analyzer.study.robustness import bootstrap_row

    if not control:
        return []
    return [bootstrap_row(f"{quantity} at plateau vs time-matched checkpoints (saddle control)",
                          "time-matched non-plateau checkpoints", result.get("p_value"), result.get("difference"),
                          result.get("ci_low"), result.get("ci_high"), result.get("plateau"), result.get("control"),
                          result.get("n_runs", control.get("n_runs")))
            for quantity, result in (("index fraction", control), ("lambda_min", control.get("lambda_min") or {}))]


def saddles(runs, control: dict | None, row: dict | None) -> dict:
    """The seed's hypothesis behind the observations: plateaus sit at saddles. Only a time-matched control can
    test it (every checkpoint of these networks has negative curvature); the index count is descriptive, and
    an uncertified index counts there only where its bounds decide (index_low >= 1, or index_high < 1)."""
    from analyzer.study.verdicts import ALPHA

    what = "Plateaus sit at saddles"
    rule = ("tested only against time-matched non-plateau checkpoints (index fraction on the log-step grid): holds "
            f"when plateau checkpoints have more negative curvature than the control at {ALPHA:g} after Holm's "
            "correction across the study's whole test family, at every index tolerance; fragile when the tolerances "
            "disagree; does not hold when plateau checkpoints have significantly less; not shown otherwise (no "
            "detectable difference: the CI bounds it); untested until that control is computed")
    described = saddle_description(runs)
    if not control:
        return {"observation": what, "evidence": described + "; the time-matched control has not been computed",
                "verdict": "untested", "rule": rule}
    p_value = row["p_adjusted"] if row and row.get("p_adjusted") is not None else control.get("p_holm")
    difference = control.get("difference")
    evidence = (f"index fraction at plateau checkpoints {control['plateau']:.4g} vs time-matched control "
                f"{control['control']:.4g}: difference {difference:+.3g} (95 % run-bootstrap CI "
                f"{control['ci_low']:+.3g} to {control['ci_high']:+.3g}), p = {_g(control['p_value'])}, "
                f"Holm-adjusted {_g(p_value)}; the same reading at every index tolerance: "
                f"{'yes' if control.get('stable_across_tolerances') else 'no'}; " + described)
    verdict = _saddle_verdict(p_value, difference, ALPHA)
    if verdict == "holds" and not control.get("stable_across_tolerances"):
        verdict = "fragile"
    return {"observation": what, "evidence": evidence, "verdict": verdict, "rule": rule}


def _saddle_verdict(p_value, difference, alpha: float) -> str:
    """Like a test's verdict, but a difference of either sign without significance is 'not shown', not a reversal."""
    if p_value is None or difference is None or not math.isfinite(p_value):
        return "untested"
    if p_value >= alpha:
        return "not shown"
    return "holds" if difference > 0 else "does not hold"


def _g(value) -> str:
    return "none" if value is None or not math.isfinite(value) else f"{value:.3g}"


def saddle_description(runs) -> str:
    """How many plateau middles have index >= 1, from the bounds where the index is not certified."""
    from analyzer.analyses.hessian.saddle_control import checkpoint_rows

    tables = [checkpoint_rows(r) for r in runs]
    middles = [t[t.role == "middle"] for t in tables if t is not None]
    low = np.concatenate([_bound(m, "index_low") for m in middles]) if middles else np.empty(0)
    high = np.concatenate([_bound(m, "index_high") for m in middles]) if middles else np.empty(0)
    decided = (low >= 1) | (high < 1)
    if not len(low):
        return "no plateau-middle checkpoints analysed"
    if not decided.any():
        return f"the index is not certified at any of the {len(low)} plateau-middle checkpoints: undecided"
    text = (f"descriptive only: {int(np.sum(low[decided] >= 1))} of {int(decided.sum())} plateau-middle checkpoints "
            "have index >= 1, which checkpoints outside plateaus also have")
    if not decided.all():
        text += f" ({int((~decided).sum())} more left out: not certified, their bracket straddles 1)"
    return text


def _bound(rows, column: str) -> np.ndarray:
    """A bound on the index of each row (rows without bounds: their count)."""
    return rows[column if column in rows else "index_count"].to_numpy(np.float64)
