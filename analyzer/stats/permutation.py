"""The pooled jump-to-reference permutation test on arrays: per unit (a run, or a run's frequency) its jumps and
reference points; the statistic pooled over every jump of every unit; the null from analyzer/stats/nulls.

Statistic: mean_distance (the mean distance from each jump to its unit's nearest reference point; small means
association; one-sided p = P(null <= observed)) or hit_fraction (the fraction of jumps within `tolerance`; one-
sided p = P(null >= observed)); ties count against the association, and p = (1 + extreme draws) / (1 + draws).
Effect and its interval: analyzer/stats/effect.py (against the other runs' references for swap-type nulls), the
interval studentised over a cluster bootstrap of runs within groups (analyzer/stats/bootstrap.py).

Several units per run (`clusters`: the decoupled test's run x frequency units). A run's units are not independent:
two frequencies learned together are each other's reference, so one coincidence is counted twice, and no null
that redraws units apart reproduces that (the permutation p rejected 0.08-0.11 of simulated Parseval studies
without coupling, at alpha 0.05, under swap, clock-swap and interval-jitter). The p-value is then the one-sided
studentised test of the effect with runs as clusters (t with runs - groups degrees of freedom; `p_method`
"cluster t"): 0.052 (swap) and 0.061 (clock-swap) on 1,000 Parseval studies; the permutation p is kept as
`p_permutation`. With one unit per run the p-value is the permutation p.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from analyzer.errors import BadInputError
from analyzer.stats.bootstrap import cluster_bootstrap, studentized_ci, too_few_runs
from analyzer.stats.constants import CONFIDENCE, N_PERMUTATIONS, N_RESAMPLES
from analyzer.stats.effect import ExchangeBlock, JumpEffect
from analyzer.stats.nulls import DEFAULT_NULL, Null, NullDraws, get_null
from analyzer.stats.nulls.clock_swap import run_clocks

STATISTICS = ("mean_distance", "hit_fraction")


@dataclass(frozen=True)
class UnitSums:
    """One tested unit: its position in the input, jumps, and the sums of its jumps' scores against its own
    references (observed_sum) and against what the effect compares them with (reference_sum)."""

    index: int
    n_jumps: int
    observed_sum: float
    reference_sum: float


@dataclass(frozen=True)
class JumpTest:
    """The pooled test. `effect` = observed - null_mean in the statistic's units (negative distance: closer);
    `null_mean` is what the effect compares with (swap-type: other runs' references), `permutation_mean` the mean
    of the permutation null; `effect_size` the effect in null SDs, positive for association; ci_* the effect's
    interval (None with `ci_note` saying why); statistics NaN when no jump can be tested."""

    observed: float
    null_mean: float
    effect: float
    p_value: float
    ci_low: float | None
    ci_high: float | None
    n_runs: int
    n_jumps: int
    per_run: tuple[UnitSums, ...]
    notes: tuple[str, ...]
    null: str
    exact: bool
    se: float | None = None
    null_std: float = math.nan
    effect_size: float = math.nan
    permutation_mean: float = math.nan
    statistic: str = "mean_distance"
    units: str = "decades of log10(step+1)"
    n_clusters: int = 0
    ci_note: str = ""
    p_permutation: float = math.nan
    p_method: str = "permutation"
    null_statistics: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False, compare=False)


def jump_test(jumps, references, spans, groups=None, *, null: str | Null = DEFAULT_NULL,
              n_permutations: int = N_PERMUTATIONS, seed: int = 0, statistic: str = "mean_distance",
              tolerance: float = 0.1, names=None, strict: bool = True, labels=None, clocks=None, clusters=None,
              strata=None, n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE) -> JumpTest:
    """The permutation test pooled over units (module docstring).

    Args:
        jumps, references: per unit, steps. spans: per unit, (first, last) prediction step or the last step.
        groups: per unit, its group (swap-type nulls exchange within a group; default: one group).
        null: a registered name (analyzer.stats.nulls.NULLS) or a Null made by get_null(name, **options).
        labels: per unit, each jump's label (frequency); clocks: per unit, its run's clock (clock-aligned swap).
        clusters: per unit, its run (units of one run are resampled together; default: each unit its own run).
        strata: per unit, the stratum its run is resampled in (default: groups).
        n_resamples: bootstrap resamples of the effect's interval (0: no interval).
    """
    if statistic not in STATISTICS:
        raise BadInputError(f"unknown statistic {statistic!r}; known: {', '.join(STATISTICS)}")
    model = get_null(null) if isinstance(null, str) else null
    groups = list(groups) if groups is not None else [""] * len(jumps)
    if clocks is None and clusters is not None and len(set(clusters)) < len(clusters):  # a run's units: its clock
        clocks = run_clocks(jumps, labels, clusters, list(strata) if strata is not None else groups)
    draws = model.draw(jumps, references, spans, groups, n_permutations, np.random.default_rng(seed), names,
                       strict, labels, clocks, clusters)
    n_jumps = sum(len(o) for o in draws.observed)
    if n_jumps == 0:
        nan = math.nan
        return JumpTest(nan, nan, nan, nan, None, None, 0, 0, (), tuple(draws.notes), model.name, False,
                        statistic=statistic, units=model.units, ci_note="nothing to test")
    score = (lambda d: d) if statistic == "mean_distance" else (lambda d: (d <= tolerance).astype(np.float64))
    observed = float(sum(score(o).sum() for o in draws.observed)) / n_jumps
    null_stats = np.sum([score(d).sum(axis=1) for d in draws.null], axis=0) / n_jumps
    sign = 1.0 if statistic == "mean_distance" else -1.0  # +1: small values are the association
    extreme = np.sum(sign * null_stats <= sign * observed + 1e-12)
    p_permutation = float((1 + extreme) / (1 + len(null_stats)))
    model_effect = effect_model(draws, score, groups, clusters, strata)
    effect, se = (float(x[0]) for x in model_effect.estimate(np.ones((1, model_effect.n_clusters))))
    shared = clusters is not None and len({clusters[i] for i in draws.runs}) < len(draws.runs)
    p_value = cluster_t_p(sign * effect, se, model_effect.degrees_of_freedom) if shared else p_permutation
    low, high, note = effect_interval(model_effect, effect, se, n_resamples, seed, confidence,
                                      effect_bound(spans, statistic, clocks))
    null_std = float(null_stats.std(ddof=1)) if len(null_stats) > 1 else math.nan
    rows = unit_sums(draws, model_effect, score)
    return JumpTest(observed=observed, null_mean=observed - effect, effect=effect, p_value=p_value,
                    p_permutation=p_permutation, p_method="cluster t" if shared else "permutation",
                    ci_low=low, ci_high=high,
                    n_runs=len(draws.runs), n_jumps=n_jumps, per_run=rows, notes=tuple(draws.notes), null=model.name,
                    exact=draws.exact, se=se if math.isfinite(se) else None, null_std=null_std,
                    effect_size=-sign * effect / null_std if null_std > 0 else math.nan,
                    permutation_mean=float(null_stats.mean()), statistic=statistic, units=model.units,
                    n_clusters=model_effect.n_clusters, ci_note=note, null_statistics=null_stats)


def cluster_t_p(association: float, se: float, df: int) -> float:
    """One-sided p of "no association" from the studentised effect (association < 0: jumps closer), t with df."""
    from scipy import stats

    if not (math.isfinite(association) and math.isfinite(se)) or se <= 0 or df < 1:
        return math.nan
    return float(stats.t.cdf(association / se, df))


def effect_bound(spans, statistic: str, clocks=None) -> float:
    """The largest |effect| the statistic allows: a hit fraction's difference lies in [-1, 1]; a distance in decades
    of log10(step + 1) lies within the runs' log-step range, widened by the spread of the clocks that move the
    references, so observed - reference lies within -+ that."""
    if statistic != "mean_distance":
        return 1.0
    lasts = [float(span[-1]) if np.ndim(span) else float(span) for span in spans]
    spread = float(np.ptp(np.asarray(clocks, np.float64))) if clocks is not None and len(clocks) else 0.0
    return math.log10(max(max(lasts, default=0.0), 0.0) + 1) + spread if lasts else math.inf


def effect_interval(model: JumpEffect, effect: float, se: float, n_resamples: int, seed: int,
                    confidence: float, bound: float = math.inf) -> tuple[float | None, float | None, str]:
    """The effect's bootstrap-t interval over runs resampled within strata, or (None, None, why not); cut to
    [-bound, bound], the effects the statistic allows (effect_bound; analyzer.stats.bootstrap.clip_to_support): with
    few runs and one extreme run the bootstrap-t bounds can reach past it (-27.6 decades on runs of 4 decades)."""
    reason = too_few_runs(model.n_clusters)
    if reason or n_resamples < 1:
        return None, None, reason or "no resamples"
    draws = cluster_bootstrap(lambda w: np.stack(model.estimate(w), axis=1), model.strata, n_resamples,
                              np.random.default_rng([seed, 1]))
    low, high = studentized_ci(effect, se, draws[:, 0], draws[:, 1], confidence, model.degrees_of_freedom,
                               (-bound, bound))
    if low is None or high is None:
        return None, None, "the effect does not vary between resamples"
    return low, high, ""


def effect_model(draws: NullDraws, score, groups, clusters=None, strata=None) -> JumpEffect:
    """The weighted effect of the tested units (analyzer/stats/effect.py), with runs as clusters."""
    n_units = len(groups)
    involved = sorted(set(draws.runs) | {k for members in draws.members for k in members})
    labels = list(clusters) if clusters is not None else list(range(n_units))
    layers = list(strata) if strata is not None else list(groups)
    index: dict = {}
    for i in involved:
        index.setdefault(labels[i], len(index))
    stratum_of: dict = {}
    for i in involved:
        if stratum_of.setdefault(index[labels[i]], layers[i]) != layers[i]:
            raise BadInputError(f"run {labels[i]!r} has units in two strata ({stratum_of[index[labels[i]]]!r}, "
                                f"{layers[i]!r}): a run is resampled within one group")
    blocks, single = [], []
    by_members: dict = {}
    for position, members in enumerate(draws.members):
        by_members.setdefault(members, []).append(position)
    for members, positions in by_members.items():
        sums = np.stack([score(draws.cross[p]).sum(axis=1) for p in positions])
        receivers = [draws.runs[p] for p in positions]
        blocks.append(ExchangeBlock(sums=sums, own=np.array([members.index(i) for i in receivers]),
                                    n=np.array([len(draws.observed[p]) for p in positions], dtype=np.float64),
                                    member_clusters=np.array([index[labels[k]] for k in members]),
                                    receiver_clusters=np.array([index[labels[i]] for i in receivers])))
    if not draws.members:
        single = list(range(len(draws.runs)))
    return JumpEffect(
        blocks=tuple(blocks),
        observed=np.array([score(draws.observed[p]).sum() for p in single]),
        reference=np.array([score(draws.null[p]).sum(axis=1).mean() for p in single]),
        n=np.array([len(draws.observed[p]) for p in single], dtype=np.float64),
        clusters=np.array([index[labels[draws.runs[p]]] for p in single], dtype=np.int64),
        strata=tuple(stratum_of[c] for c in range(len(index))), n_clusters=len(index))


def unit_sums(draws: NullDraws, model: JumpEffect, score) -> tuple[UnitSums, ...]:
    """Per tested unit, its observed sum and the sum the effect compares it with (unweighted)."""
    rows = []
    for p, i in enumerate(draws.runs):
        observed = float(score(draws.observed[p]).sum())
        if draws.members:
            sums = score(draws.cross[p]).sum(axis=1)
            own = draws.members[p].index(i)
            reference = float((sums.sum() - sums[own]) / (len(sums) - 1))
        else:
            reference = float(score(draws.null[p]).sum(axis=1).mean())
        rows.append(UnitSums(index=i, n_jumps=len(draws.observed[p]), observed_sum=observed, reference_sum=reference))
    return tuple(rows)
