"""The study's family of tests: one primary test named before the data, the secondary ones, Holm across all.

Primary test (fixed here, before any data): frequency jumps vs escapes (midpoints of the loss drops that end
plateaus), pooled over the seed runs, under the study's null (swap by default). Why escapes: on the diag-linear
known-answer runs, where the answer is known, the escape reference detects the planted coupling on 20 of 20
configurations against 8 of 20 for plateau edges (bench/RESULTS.md, known-answer validation); a jump is a
frequency being learned, i.e. a loss drop, whose midpoint is the escape. Every other test is secondary.

Effect: observed minus null mean of the mean jump-to-reference distance, in decades of log10(step + 1)
(negative: jumps sit closer to the references than the null places them). Its 95 % CI is a percentile
cluster bootstrap: runs (the clusters: a run's jumps share its references) are resampled with replacement
within each group, each run carrying its jumps' observed distances and their share of the null mean (under
swap the double-centred share, analyzer/analyses/correlate/nulls.py), widened by sqrt(n / (n - 1)). On 100
simulated no-coupling studies (4 x 8 runs) it covered 0 in 88 of 100 before the widening; its SE was 0.89
times the permutation null's SD (4.1 times before the double centring).
"""

from __future__ import annotations

import math

import numpy as np

from analyzer.analyses.correlate import CorrelateParams, permutation_test

PRIMARY = "jumps vs escapes"
CONFIDENCE = 0.95
MDE_Z = 1.645 + 0.842  # one-sided alpha 0.05 plus 80 % power, in standard errors


def detectable_effect(ci_low: float | None, ci_high: float | None) -> float | None:
    """The smallest effect (decades, magnitude) the test would detect with 80 % power at one-sided alpha 0.05, in
    the normal approximation: (z_0.95 + z_0.8) x SE, the SE read off the 95 % bootstrap CI (width / 3.92)."""
    if ci_low is None or ci_high is None:
        return None
    return MDE_Z * (ci_high - ci_low) / (2 * 1.96)


def jump_test(name: str, reference: str, units: list[dict], options, primary: bool = False) -> dict:
    """One pooled jump-to-reference test. units: dicts with jumps, refs, span, group, name (a run, or a run's
    frequency); returns a test_family row plus observed, null_mean, n_runs, n_jumps and notes."""
    params = CorrelateParams(n_permutations=options.n_permutations, seed=options.seed, null=options.null)
    outcome = permutation_test([u["jumps"] for u in units], [u["refs"] for u in units], [u["span"] for u in units],
                               params, groups=[u["group"] for u in units], names=[u["name"] for u in units],
                               strict=options.strict_null)
    low, high = cluster_bootstrap(outcome["per_run"], [units[r["index"]]["group"] for r in outcome["per_run"]],
                                  options.n_resamples, options.seed)
    return {"name": name, "reference": reference, "null": outcome["null_name"], "p_value": _finite(outcome["p_value"]),
            "p_adjusted": None, "effect": _finite(outcome["effect"]), "ci_low": low, "ci_high": high,
            "primary": primary, "observed": _finite(outcome["observed"]), "null_mean": _finite(outcome["null_mean"]),
            "n_runs": int(outcome["n_runs"]), "n_jumps": int(outcome["n_jumps"]), "notes": list(outcome["notes"]),
            "per_run": outcome["per_run"], "unit_groups": [units[r["index"]]["group"] for r in outcome["per_run"]]}


def cluster_bootstrap(per_run: list[dict], groups: list[str], n_resamples: int, seed: int,
                      confidence: float = CONFIDENCE) -> tuple[float | None, float | None]:
    """Percentile CI of sum(observed - null) / sum(jumps) with runs resampled within their groups."""
    if len(per_run) < 2:
        return None, None
    diff = np.array([r["observed_sum"] - r["null_sum"] for r in per_run])
    count = np.array([r["n_jumps"] for r in per_run], dtype=np.float64)
    rng = np.random.default_rng(seed)
    weights = np.zeros((n_resamples, len(per_run)))
    for group in dict.fromkeys(groups):
        members = np.flatnonzero(np.asarray(groups) == group)
        weights[:, members] = rng.multinomial(len(members), np.full(len(members), 1 / len(members)), n_resamples)
    effects = (weights @ diff) / np.maximum(weights @ count, 1e-12)
    # a bootstrap mean of n values varies (n - 1) / n times as much as the mean itself: widen by that factor
    # (mean group size; at 8 runs per group the plain percentile interval covered 0.88 of null studies)
    estimate, n = diff.sum() / count.sum(), len(per_run) / len(set(groups))
    effects = estimate + (effects - estimate) * np.sqrt(n / (n - 1)) if n > 1 else effects
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(effects, [tail, 100 - tail])
    return float(low), float(high)


def holm(p_values: list[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (None stays None and does not count in the family)."""
    known = [(p, i) for i, p in enumerate(p_values) if p is not None and math.isfinite(p)]
    adjusted: list[float | None] = [None] * len(p_values)
    running = 0.0
    for rank, (p, i) in enumerate(sorted(known)):
        running = max(running, min(1.0, (len(known) - rank) * p))
        adjusted[i] = running
    return adjusted


def stall_swap_test(runs: list[dict], options) -> dict:
    """Do fewer jumps fall inside their own run's plateaus than when plateaus are permuted among the runs of a
    group (swap null)?

    runs: dicts with jumps, intervals ((n, 2) plateau start/end steps), group, name. One-sided p = P(null count
    <= observed); effect = (observed - null mean) / jumps, the change in the fraction of jumps inside plateaus.
    """
    from analyzer.analyses.correlate.nulls import permutation_draws

    blocks = {}
    for group in dict.fromkeys(r["group"] for r in runs):
        members = [r for r in runs if r["group"] == group]
        if len(members) >= 2 and sum(len(r["jumps"]) for r in members):
            blocks[group] = np.array([[_inside(a["jumps"], b["intervals"]) for b in members] for a in members])
    n_jumps = int(sum(len(r["jumps"]) for r in runs if r["group"] in blocks))
    if not blocks or n_jumps == 0:
        return {"observed": 0, "expected": math.nan, "p_value": math.nan, "effect": math.nan, "n_jumps": 0}
    perms, _ = permutation_draws([len(b) for b in blocks.values()], options.n_permutations,
                                  np.random.default_rng(options.seed))
    observed = int(sum(np.trace(b) for b in blocks.values()))
    null = sum(b[np.arange(len(b))[None, :], p].sum(axis=1) for b, p in zip(blocks.values(), perms))
    null = np.asarray(null, dtype=np.float64)
    return {"observed": observed, "expected": float(null.mean()), "p_value": float((1 + np.sum(null <= observed))
                                                                                  / (1 + len(null))),
            "effect": (observed - float(null.mean())) / n_jumps, "n_jumps": n_jumps,
            "ratio": observed / float(null.mean()) if null.mean() > 0 else math.nan}


def _inside(jumps, intervals) -> int:
    jumps = np.asarray(jumps, dtype=np.float64)
    intervals = np.asarray(intervals, dtype=np.float64).reshape(-1, 2)
    return int(np.sum(np.any((jumps[:, None] >= intervals[None, :, 0]) & (jumps[:, None] <= intervals[None, :, 1]),
                             axis=1))) if len(jumps) and len(intervals) else 0


def _finite(value) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None
