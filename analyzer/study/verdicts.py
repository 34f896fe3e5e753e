"""Which of seed 000's observations hold across seeds: each verdict is computed from the study's statistics.

Rules (stated in the report): an observation that is a property of single runs "holds" when at least 80 %
of the seed runs show it, "partly" from 50 %, else "does not hold", each with its exact 95 % binomial CI;
an observation that is a test "holds" when the pooled, run-stratified test rejects at ALPHA in the claimed
direction, is "not shown" when the effect points the claimed way without significance, and "does not hold"
when it points the other way.
"""

from __future__ import annotations

import math

import numpy as np

from analyzer.study import stats as st

ALPHA = 0.05


def observations(study) -> list[dict]:
    """One dict per observation: observation, evidence (numbers in words), verdict."""
    runs = study.seed_runs
    if not runs:
        return []
    found = [_spectral_bias(study), _plateaus_appear(runs), _stall(study.stall), _near_edges(study.tests)]
    if study.options.hessian:
        found.append(_saddles(runs))
    return found


def _fraction_evidence(hits: int, total: int, what: str, unit: str = "runs") -> tuple[str, str]:
    fraction, low, high = st.proportion_ci(hits, total)
    return (f"{hits} of {total} {unit} {what} ({100 * fraction:.0f} %, 95 % CI {100 * low:.0f}-{100 * high:.0f} %)",
            st.verdict(fraction))


def _spectral_bias(study) -> dict:
    row = study.ordering[study.ordering.group == "all"].iloc[0]
    evidence, verdict = _fraction_evidence(int(row.ordered), int(row.runs),
                                           "learn their target frequencies in ascending order")
    failing = study.ordering[(study.ordering.group != "all") & (study.ordering.fraction < 0.8)]
    if len(failing):
        evidence += "; below 80 % in " + ", ".join(f"{g.group} ({g.ordered}/{g.runs})" for g in failing.itertuples())
    if "ordered_reached" in row and int(row.ordered_reached) != int(row.ordered):
        names = row.unordered.split(", ")
        shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        evidence += (f". By the step each frequency first reaches the threshold, {int(row.ordered_reached)} of "
                     f"{int(row.runs)} are in ascending order")
        evidence += (f": in the others ({shown}) a lower frequency was learned first and drifted back above the "
                     f"threshold later" if int(row.ordered_reached) == int(row.runs)
                     else f" (out of order by learned step: {shown})")
    return {"observation": "Spectral bias: lower frequencies are learned first", "evidence": evidence,
            "verdict": verdict}


def _plateaus_appear(runs) -> dict:
    hits = sum(len(r.plateaus) > 0 for r in runs)
    counts = [len(r.plateaus) for r in runs]
    evidence, verdict = _fraction_evidence(hits, len(runs), "have at least one loss plateau")
    evidence += f"; {min(counts)}-{max(counts)} plateaus per run"
    return {"observation": "Plateaus appear in the loss curve", "evidence": evidence, "verdict": verdict}


def _test_verdict(p_value, effect_points_the_claimed_way: bool) -> str:
    if p_value is None or not math.isfinite(p_value):
        return "untested"
    if p_value < ALPHA and effect_points_the_claimed_way:
        return "holds"
    return "not shown" if effect_points_the_claimed_way else "does not hold"


def _stall(stall: dict) -> dict:
    what = "Higher-frequency learning stalls during plateaus"
    if not stall or stall.get("n_jumps", 0) == 0:
        return {"observation": what, "evidence": "no jumps of frequencies above the lowest to test", "verdict": "untested"}
    ratio = stall["ratio"]
    evidence = (f"{stall['observed']} of {stall['n_jumps']} jumps of frequencies above the lowest fall inside a "
                f"plateau, against {stall['expected']:.1f} expected if jumps were log-uniform over each run "
                f"(ratio {ratio:.2f}, one-sided p = {stall['p_value']:.3g})")
    return {"observation": what, "evidence": evidence,
            "verdict": _test_verdict(stall["p_value"], bool(math.isfinite(ratio) and ratio < 1))}


def _near_edges(tests: dict) -> dict:
    what = "Frequency jumps occur near plateau edges"
    edges, escapes = tests.get("edges"), tests.get("escapes")
    if edges is None or edges.p_value is None:
        return {"observation": what, "evidence": "no run has both jumps and plateau edges", "verdict": "untested"}
    closer = edges.observed_statistic < edges.null_mean
    evidence = (f"pooled over {edges.n_runs} runs, {edges.n_jumps} jumps sit {edges.observed_statistic:.3g} decades "
                f"from the nearest plateau edge against {edges.null_mean:.3g} under the run-stratified null "
                f"(p = {edges.p_value:.3g})")
    if escapes is not None and escapes.p_value is not None:
        evidence += (f"; from the nearest escape (loss-drop midpoint) {escapes.observed_statistic:.3g} against "
                     f"{escapes.null_mean:.3g} (p = {escapes.p_value:.3g})")
    return {"observation": what, "evidence": evidence, "verdict": _test_verdict(edges.p_value, bool(closer))}


def _saddles(runs) -> dict:
    """The seed's hypothesis behind the observations: plateau middles are saddles (negative curvature).

    An uncertified index counts where its bounds decide (index_low >= 1: a saddle; index_high < 1: not one);
    the others are left out, and the evidence says how many."""
    what = "Plateaus sit at saddles (Hessian index > 0 at plateau middles)"
    middles = [r.hessian[r.hessian.role == "middle"] for r in runs if r.hessian is not None]
    low = np.concatenate([_bound(m, "index_low") for m in middles]) if middles else np.empty(0)
    high = np.concatenate([_bound(m, "index_high") for m in middles]) if middles else np.empty(0)
    decided = (low >= 1) | (high < 1)
    if not decided.any():
        evidence = "no plateau-middle checkpoints analysed" if len(low) == 0 else \
            f"the index is not certified at any of the {len(low)} plateau-middle checkpoints: undecided"
        return {"observation": what, "evidence": evidence, "verdict": "untested"}
    evidence, verdict = _fraction_evidence(int(np.sum(low[decided] >= 1)), int(decided.sum()), "have index >= 1",
                                           unit="plateau-middle checkpoints")
    if not decided.all():
        evidence += (f"; {int((~decided).sum())} more left out: their index is not certified and its bracket "
                     f"straddles 1")
    return {"observation": what, "evidence": evidence, "verdict": verdict}


def _bound(rows, column: str) -> np.ndarray:
    """A bound on the index of each row (rows without bounds: their count)."""
    return rows[column if column in rows else "index_count"].to_numpy(np.float64)
