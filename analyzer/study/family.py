"""The study's test family: typed rows from every claim, adjusted together by a weighted Holm procedure that keeps
most of the level for the primary test named before the data.

Multiplicity. The family is adjusted by Holm's procedure with weights (the weighted Bonferroni closed test, a
graphical gatekeeping design): the primary test carries PRIMARY_WEIGHT of alpha and the secondary tests share the
rest equally. At each step the hypothesis with the smallest p / weight is rejected if p <= alpha x its weight
renormalised over the hypotheses not yet rejected, so once the primary is rejected its share passes on to the
secondaries (which are then Holm-adjusted among themselves at the full alpha), and the secondaries are still
tested, at a smaller share, when it is not. Why: the primary is the study's question, fixed in advance; plain Holm
over ~10 tests would test it at alpha/10 and leave it without power at the real sample sizes, while a strict
fixed sequence (primary first, secondaries only after it) would leave every other claim untested whenever the
primary fails. The procedure controls the family-wise error rate strongly (it is a closed test); the adjusted
p-values are checked against brute-force closed testing in tests/test_study_family.py.

Effect of a jump test: observed minus null mean of the mean jump-to-reference distance, in decades of
log10(step + 1) (negative: jumps sit closer to the references than the null places them), with a cluster
bootstrap CI over runs.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from analyzer.analyses.correlate import CorrelateParams, permutation_test

ALPHA = 0.05
PRIMARY_WEIGHT = 0.8
CONFIDENCE = 0.95
MDE_Z_POWER = 0.842  # z of 80 % power
# A cluster bootstrap over fewer runs than this neither covers nor gives a valid p-value (bench/null_calibration.py):
# such a test reports no CI (and a bootstrap p-value none), saying why.
MIN_RUNS_FOR_CI = 5
TOO_FEW = f"too few runs for a CI (under {MIN_RUNS_FOR_CI})"


@dataclass(frozen=True)
class TestRow:
    """One test of the study's family (`test_family` in --json) and what the report says of it."""

    __test__ = False  # not a pytest class, despite its name

    name: str
    claim: str  # the claim whose verdict reads it
    reference: str  # what the observed statistic is compared with
    null: str  # the null model or procedure of the p-value
    p_value: float | None
    effect: float | None
    ci_low: float | None = None
    ci_high: float | None = None
    primary: bool = False
    p_adjusted: float | None = None
    observed: float | None = None
    null_mean: float | None = None
    n_runs: int = 0
    n_jumps: int = 0
    notes: tuple[str, ...] = ()
    effect_unit: str = ""  # "decades" for the jump tests (the forest plot draws those)
    details: dict = field(default_factory=dict, compare=False)  # per-run numbers for other claims (not in JSON)

    JSON_KEYS = ("name", "claim", "reference", "null", "p_value", "p_adjusted", "effect", "ci_low", "ci_high",
                 "primary")

    def as_json(self) -> dict:
        return {key: getattr(self, key) for key in self.JSON_KEYS}

    def detail_json(self) -> dict:
        return {"name": self.name, "observed": self.observed, "null_mean": self.null_mean, "n_runs": self.n_runs,
                "n_jumps": self.n_jumps, "notes": list(self.notes)}


def weighted_holm(p_values: list[float | None], weights: list[float]) -> list[float | None]:
    """Adjusted p-values of the weighted Holm procedure (None stays None and does not count in the family).

    Hypotheses are taken in increasing p / weight; the k-th gets p_k x (sum of the weights not yet taken) / w_k,
    made non-decreasing along that order and capped at 1."""
    known = [i for i, p in enumerate(p_values) if p is not None and math.isfinite(p)]
    if any(weights[i] <= 0 for i in known):
        raise ValueError("every tested hypothesis needs a positive weight")
    order = sorted(known, key=lambda i: p_values[i] / weights[i])
    adjusted: list[float | None] = [None] * len(p_values)
    remaining, running = sum(weights[i] for i in known), 0.0
    for i in order:
        running = max(running, min(1.0, p_values[i] * remaining / weights[i]))
        adjusted[i] = running
        remaining -= weights[i]
    return adjusted


def family_weights(rows: list[TestRow]) -> list[float]:
    """PRIMARY_WEIGHT for the primary, the rest shared equally by the secondaries (all equal without a primary)."""
    tested = [r for r in rows if r.p_value is not None and math.isfinite(r.p_value)]
    n_secondary = sum(not r.primary for r in tested)
    has_primary = any(r.primary for r in tested)
    if not has_primary or n_secondary == 0:
        return [1.0] * len(rows)
    return [PRIMARY_WEIGHT if r.primary else (1 - PRIMARY_WEIGHT) / n_secondary for r in rows]


def adjust_family(rows: list[TestRow]) -> list[TestRow]:
    """The rows with p_adjusted set, the primary first; exactly one primary is allowed."""
    primaries = [r for r in rows if r.primary]
    if len(primaries) > 1:
        raise ValueError(f"the family has {len(primaries)} primary tests; it must have one")
    ordered = primaries + [r for r in rows if not r.primary]
    adjusted = weighted_holm([r.p_value for r in ordered], family_weights(ordered))
    return [dataclasses.replace(r, p_adjusted=p) for r, p in zip(ordered, adjusted)]


def primary_level(rows: list[TestRow], alpha: float = ALPHA) -> float:
    """The level at which the primary is first tested: alpha times its weight (PRIMARY_WEIGHT when the family has
    secondary tests)."""
    weights = family_weights(rows)
    total = sum(w for w, r in zip(weights, rows) if r.p_value is not None and math.isfinite(r.p_value))
    return alpha * next((w / total for w, r in zip(weights, rows) if r.primary), 1.0) if total else alpha


def detectable_effect(ci_low: float | None, ci_high: float | None, level: float) -> float | None:
    """The smallest effect (decades, magnitude) the one-sided test at `level` would detect with 80 % power, in the
    normal approximation: (z_(1 - level) + z_0.8) x SE, the SE read off the 95 % bootstrap CI (width / 3.92)."""
    from scipy import stats

    if ci_low is None or ci_high is None:
        return None
    return (float(stats.norm.isf(level)) + MDE_Z_POWER) * (ci_high - ci_low) / (2 * 1.96)


def jump_test(name: str, claim: str, reference: str, units: list[dict], options, primary: bool = False,
              two_sided: bool = False) -> TestRow:
    """One pooled jump-to-reference test: one-sided (jumps closer than the null places them) or two-sided (the
    direction is the effect's sign). units: dicts with jumps, refs, span, group, name (a run, or a run's
    frequency). details: per_run (the test's per-unit sums), unit_groups, p_other_tail (jumps farther than the
    null places them: the one-sided p of the opposite claim)."""
    params = CorrelateParams(n_permutations=options.n_permutations, seed=options.seed, null=options.null)
    outcome = permutation_test([u["jumps"] for u in units], [u["refs"] for u in units], [u["span"] for u in units],
                               params, groups=[u["group"] for u in units], names=[u["name"] for u in units],
                               strict=options.strict_null)
    groups = [units[r["index"]]["group"] for r in outcome["per_run"]]
    low, high = cluster_bootstrap(outcome["per_run"], groups, options.n_resamples, options.seed)
    notes = tuple(outcome["notes"])
    if len(groups) < MIN_RUNS_FOR_CI:
        low, high, notes = None, None, (*notes, TOO_FEW)
    null = np.asarray(outcome["null"], dtype=np.float64)
    other = float((1 + np.sum(null >= outcome["observed"] - 1e-12)) / (1 + len(null))) if len(null) else None
    p_value = _finite(outcome["p_value"])
    if two_sided and p_value is not None and other is not None:
        p_value = min(1.0, 2 * min(p_value, other))
    return TestRow(name=name, claim=claim, reference=reference, null=outcome["null_name"] + (
                       ", two-sided" if two_sided else ""),
                   p_value=p_value, effect=_finite(outcome["effect"]), ci_low=low, ci_high=high,
                   primary=primary, observed=_finite(outcome["observed"]), null_mean=_finite(outcome["null_mean"]),
                   n_runs=int(outcome["n_runs"]), n_jumps=int(outcome["n_jumps"]), notes=notes,
                   effect_unit="decades" if outcome["null_name"] != "uniform" else "steps", details={"per_run": outcome["per_run"], "unit_groups": groups, "p_other_tail": other,
                            "unit_names": [units[r["index"]]["name"] for r in outcome["per_run"]]})


EXACT_FLIPS = 16  # up to 2^16 sign patterns are enumerated (an exact test); more are sampled


def sign_flip(differences, options, total: float | None = None) -> tuple[float | None, float | None]:
    """(sum(differences) / total, two-sided p) with each unit's difference's sign flipped at random: a paired test
    whose units (runs, or network-twin pairs) are exchangeable in sign under the null; total: the divisor (the
    number of units by default, the number of jumps for a per-jump mean)."""
    differences = np.asarray(differences, dtype=np.float64)
    total = float(len(differences) if total is None else total)
    if len(differences) == 0 or total <= 0:
        return None, None
    if len(differences) <= EXACT_FLIPS:
        signs = np.array(list(itertools.product((1.0, -1.0), repeat=len(differences))))
    else:
        rng = np.random.default_rng(options.seed)
        signs = np.vstack([np.ones(len(differences)),
                           rng.choice((1.0, -1.0), size=(options.n_permutations, len(differences)))])
    observed = float(differences.sum() / total)
    null = signs @ differences / total
    return observed, float(np.mean(np.abs(null) >= abs(observed) - 1e-12))


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
