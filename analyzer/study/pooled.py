"""The study's pooled tests on its units, as rows of the test family: the jump-to-reference test (analyzer.stats's,
under the study's null) and the stall test (plateau intervals swapped among a group's runs).

A unit is a run, or one frequency of a run (the decoupled test): a dict with jumps, refs, span, group, name, and
optionally labels (each jump's mode: the clock-aligned swap reads a run's clock off them), cluster (the run a unit
belongs to, when a run has several units) and stratum (the group its run is resampled in).
"""

from __future__ import annotations

import math

import numpy as np

from analyzer.stats import TestRow
from analyzer.stats import jump_test as stats_jump_test


def jump_test(name: str, claim: str, reference: str, units: list[dict], options, primary: bool = False,
              two_sided: bool = False) -> TestRow:
    """One pooled jump-to-reference test: one-sided (jumps closer than the null places them) or two-sided (the
    direction is the effect's sign). details: per_run (each tested unit's observed sum, the sum its effect compares
    with, `null_sum`, and its jumps), unit_groups, unit_names, p_other_tail (the one-sided p of jumps farther than
    the null places them), se (the effect's standard error)."""
    labels = [u.get("labels") for u in units]
    clusters = [u.get("cluster", u["name"]) for u in units]
    result = stats_jump_test(
        [u["jumps"] for u in units], [u["refs"] for u in units], [u["span"] for u in units],
        [u["group"] for u in units], null=options.null, n_permutations=options.n_permutations, seed=options.seed,
        names=[u["name"] for u in units], strict=options.strict_null,
        labels=labels if all(label is not None for label in labels) else None,
        clusters=clusters if len(set(clusters)) < len(clusters) else None,
        strata=[u.get("stratum", u["group"]) for u in units], n_resamples=options.n_resamples)
    p_value, other = _finite(result.p_value), _other_tail(result)
    if two_sided and p_value is not None and other is not None:
        p_value = min(1.0, 2 * min(p_value, other))
    per_run = [{"index": s.index, "n_jumps": s.n_jumps, "observed_sum": s.observed_sum, "null_sum": s.reference_sum}
               for s in result.per_run]
    notes = tuple(result.notes) + ((result.ci_note,) if result.ci_note and result.n_jumps else ())
    return TestRow(name=name, claim=claim, reference=reference,
                   null=result.null + (f" ({result.p_method})" if result.p_method != "permutation" else "")
                   + (", two-sided" if two_sided else ""),
                   p_value=p_value, effect=_finite(result.effect), ci_low=result.ci_low, ci_high=result.ci_high,
                   primary=primary, observed=_finite(result.observed), null_mean=_finite(result.null_mean),
                   n_runs=int(result.n_runs), n_jumps=int(result.n_jumps), notes=notes,
                   effect_unit="steps" if result.null == "uniform" else "decades",
                   details={"per_run": per_run, "unit_groups": [units[s.index]["group"] for s in result.per_run],
                            "unit_names": [units[s.index]["name"] for s in result.per_run], "p_other_tail": other,
                            "se": result.se})


def _other_tail(result) -> float | None:
    """The one-sided p of the opposite direction (jumps farther than the null places them)."""
    if result.p_method != "permutation":
        return None if not math.isfinite(result.p_value) else 1.0 - result.p_value  # continuous (a t test)
    null = np.asarray(result.null_statistics, dtype=np.float64)
    if not len(null) or not math.isfinite(result.observed):
        return None
    return float((1 + np.sum(null >= result.observed - 1e-12)) / (1 + len(null)))


def stall_swap_test(runs: list[dict], options) -> dict:
    """Do fewer jumps fall inside their own run's plateaus than when plateaus are permuted among the runs of a
    group (swap null)?

    runs: dicts with jumps, intervals ((n, 2) plateau start/end steps), group, name. One-sided p = P(null count
    <= observed), and the two-sided one; effect = (observed - null mean) / jumps, the change in the fraction of
    jumps inside plateaus.
    """
    from analyzer.stats.nulls.exchange import permutation_draws

    blocks = {}
    for group in dict.fromkeys(r["group"] for r in runs):
        members = [r for r in runs if r["group"] == group]
        if len(members) >= 2 and sum(len(r["jumps"]) for r in members):
            blocks[group] = np.array([[inside_count(a["jumps"], b["intervals"]) for b in members] for a in members])
    n_jumps = int(sum(len(r["jumps"]) for r in runs if r["group"] in blocks))
    if not blocks or n_jumps == 0:
        return {"observed": 0, "expected": math.nan, "p_value": math.nan, "p_two_sided": math.nan,
                "effect": math.nan, "n_jumps": 0}
    perms, _ = permutation_draws([len(b) for b in blocks.values()], options.n_permutations,
                                 np.random.default_rng(options.seed))
    observed = int(sum(np.trace(b) for b in blocks.values()))
    null = sum(b[np.arange(len(b))[None, :], p].sum(axis=1) for b, p in zip(blocks.values(), perms))
    null = np.asarray(null, dtype=np.float64)
    fewer = float((1 + np.sum(null <= observed)) / (1 + len(null)))
    more = float((1 + np.sum(null >= observed)) / (1 + len(null)))
    return {"observed": observed, "expected": float(null.mean()), "p_value": fewer,
            "p_two_sided": min(1.0, 2 * min(fewer, more)), "effect": (observed - float(null.mean())) / n_jumps,
            "n_jumps": n_jumps, "ratio": observed / float(null.mean()) if null.mean() > 0 else math.nan}


def inside_count(jumps, intervals) -> int:
    """How many of the jumps fall inside one of the (start, end) intervals."""
    jumps = np.asarray(jumps, dtype=np.float64)
    intervals = np.asarray(intervals, dtype=np.float64).reshape(-1, 2)
    return int(np.sum(np.any((jumps[:, None] >= intervals[None, :, 0]) & (jumps[:, None] <= intervals[None, :, 1]),
                             axis=1))) if len(jumps) and len(intervals) else 0


def _finite(value) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None
