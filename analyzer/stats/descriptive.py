"""Descriptive statistics across seeds: CIs of means, censored learned steps, orders, the stall count, the noise
floor, group differences. Pure functions on numpy arrays and pandas frames; the study's claims feed them.

Definitions (the report repeats them in words):
- Learned step of a run that never learns a frequency: censored at the run length L (its number of steps),
  so a group's mean is the restricted mean E[min(T, L)], a lower bound wherever runs are censored; the
  censored runs are counted separately (`n_not_learned`).
- 95 % CI of a mean across runs: the studentised cluster-bootstrap interval of analyzer.stats.paired.mean_interval
  (each run a cluster; never narrower than the t interval); none under MIN_RUNS_FOR_CI runs. A mean that every
  run shares (e.g. every run censored at the same length) has that value as its interval. The percentile interval
  used before undercovered at 8 runs (about 0.91 for normal data); tests/analyzer/study/test_study_stats.py measures both.
  The interval is cut to the quantity's support where one is known (learned steps in [0, L], counts and durations
  >= 0; analyzer.stats.bootstrap.clip_to_support): with one outlying run among 8 the bootstrap-t bounds can reach
  past it (a mean duration's CI below 0 steps), and the true mean lies in the support, so the cut never loses
  coverage.
- 95 % CI of a difference of two groups' means: percentile cluster bootstrap, each group's runs resampled apart.
"""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pandas as pd
from scipy import stats

from analyzer.stats.bootstrap import UNBOUNDED
from analyzer.stats.constants import CONFIDENCE, N_RESAMPLES

ROUNDING_Z = 1.96  # two single runs that differ only by rounding differ by more than 1.96 sqrt(2) SD 5 % of the time


def bootstrap_mean_ci(values, n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE,
                      seed: int = 0, support: tuple[float, float] = UNBOUNDED) -> tuple[float, float, float]:
    """(mean, ci_low, ci_high) of the mean across runs (module docstring); NaN bounds under MIN_RUNS_FOR_CI values;
    the bounds cut to `support`, the values the quantity can take."""
    from analyzer.stats.paired import mean_interval

    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) == 0:
        return math.nan, math.nan, math.nan
    mean = float(values.mean())
    if len(values) > 1 and np.all(values == values[0]):  # every resample has this mean
        return mean, mean, mean
    low, high, _ = mean_interval(values, n_resamples=n_resamples, seed=seed, confidence=confidence, support=support)
    return mean, (math.nan if low is None else low), (math.nan if high is None else high)


def bootstrap_difference_ci(first, second, n_resamples: int = N_RESAMPLES, confidence: float = CONFIDENCE,
                            seed: int = 0) -> tuple[float, float, float]:
    """(mean(first) - mean(second), ci_low, ci_high): each sample's runs resampled apart (percentile cluster
    bootstrap, analyzer.stats.cluster_bootstrap)."""
    from analyzer.stats.bootstrap import cluster_bootstrap, percentile_ci

    first = np.asarray(first, dtype=np.float64)
    second = np.asarray(second, dtype=np.float64)
    first, second = first[np.isfinite(first)], second[np.isfinite(second)]
    if len(first) == 0 or len(second) == 0:
        return math.nan, math.nan, math.nan
    difference = float(first.mean() - second.mean())
    if len(first) < 2 or len(second) < 2:
        return difference, math.nan, math.nan
    if np.all(first == first[0]) and np.all(second == second[0]):
        return difference, difference, difference
    values = np.concatenate([first, second])
    sample = np.r_[np.zeros(len(first)), np.ones(len(second))]

    def mean_difference(weights: np.ndarray) -> np.ndarray:
        a, b = weights * (sample == 0), weights * (sample == 1)
        return (a @ values) / a.sum(axis=1) - (b @ values) / b.sum(axis=1)

    low, high = percentile_ci(cluster_bootstrap(mean_difference, sample, n_resamples, seed), confidence)
    return difference, low, high


def censor_learned_steps(learned_steps, run_lengths) -> tuple[np.ndarray, np.ndarray]:
    """Learned steps with the never-learned (NaN) replaced by the run length; returns (values, censored mask)."""
    learned = np.asarray(learned_steps, dtype=np.float64)
    lengths = np.broadcast_to(np.asarray(run_lengths, dtype=np.float64), learned.shape)
    censored = ~np.isfinite(learned)
    return np.where(censored, lengths, np.minimum(learned, lengths)), censored


def learned_step_table(learned: pd.DataFrame, n_resamples: int = N_RESAMPLES, seed: int = 0) -> pd.DataFrame:
    """Per group and frequency: n runs, n_not_learned, restricted mean learned step with its CI, median.

    Args:
        learned: one row per run and frequency with columns group, mode, learned_step (NaN: never), run_length,
            and optionally reached_step (first step below the threshold, NaN: never): a frequency reached but not
            learned was learned and lost again (counted in n_reached_then_lost, and among n_not_learned).
    """
    rows = []
    for (group, freq), part in learned.groupby(["group", "mode"], sort=True):
        values, censored = censor_learned_steps(part.learned_step, part.run_length)
        mean, low, high = bootstrap_mean_ci(values, n_resamples, seed=seed,
                                            support=(0.0, float(np.max(part.run_length))))
        lost = int((censored & np.isfinite(part.reached_step.to_numpy(np.float64))).sum()) \
            if "reached_step" in part else 0
        rows.append({"group": group, "mode": float(freq), "n": len(values), "n_not_learned": int(censored.sum()),
                     "n_reached_then_lost": lost, "mean": mean, "ci_low": low, "ci_high": high,
                     "median": float(np.median(values))})
    return pd.DataFrame(rows, columns=["group", "mode", "n", "n_not_learned", "n_reached_then_lost", "mean",
                                       "ci_low", "ci_high", "median"])


def quantity_table(per_run: pd.DataFrame, quantities: list[str], n_resamples: int = N_RESAMPLES,
                   seed: int = 0, supports: dict[str, tuple[float, float]] | None = None) -> pd.DataFrame:
    """Per group and quantity: n runs with a finite value, mean and bootstrap CI across runs (cut to the quantity's
    support in `supports`, where given)."""
    rows = []
    for group, part in per_run.groupby("group", sort=True):
        for quantity in quantities:
            values = part[quantity].to_numpy(dtype=np.float64)
            finite = values[np.isfinite(values)]
            mean, low, high = bootstrap_mean_ci(finite, n_resamples, seed=seed,
                                                support=(supports or {}).get(quantity, UNBOUNDED))
            rows.append({"group": group, "quantity": quantity, "n": len(finite), "mean": mean, "ci_low": low,
                         "ci_high": high})
    return pd.DataFrame(rows, columns=["group", "quantity", "n", "mean", "ci_low", "ci_high"])


def proportion_ci(successes: int, trials: int, confidence: float = CONFIDENCE) -> tuple[float, float, float]:
    """(fraction, low, high): the exact Clopper-Pearson interval of a binomial proportion."""
    if trials == 0:
        return math.nan, math.nan, math.nan
    interval = stats.binomtest(int(successes), int(trials)).proportion_ci(confidence, method="exact")
    return successes / trials, float(interval.low), float(interval.high)


def ordered_by_frequency(learned_steps: np.ndarray) -> np.ndarray:
    """Per run (rows), whether learned steps never decrease with frequency (columns ascending; NaN = never)."""
    values = np.where(np.isfinite(learned_steps), learned_steps, np.inf)
    return np.all(values[:, :-1] <= values[:, 1:], axis=1)  # not np.diff: inf - inf is NaN


def ordered_among_learned(learned_steps) -> bool | None:
    """Whether the learned frequencies (columns ascending in frequency; NaN = never learned) are learned in strictly
    ascending order; None when fewer than two are learned (no order to judge)."""
    values = np.asarray(learned_steps, dtype=np.float64)
    values = values[np.isfinite(values)]
    if len(values) < 2:
        return None
    return bool(np.all(np.diff(values) > 0))


def stall_test(jump_steps_per_run, intervals_per_run, spans, n_draws: int = N_RESAMPLES, seed: int = 0) -> dict:
    """Do fewer jumps fall inside plateaus than if jumps were log-uniform over each run (learning stalls)?

    Each run's jumps fall inside its plateaus with probability q_r, the share of [log10(first+1),
    log10(last+1)] the plateaus cover, under the same log-uniform null as the jump-vs-escape test; the
    count inside is then a sum of binomials. One-sided p = P(count <= observed), by simulation.
    Returns observed, expected, ratio (observed / expected), p_value, n_jumps.
    """
    observed, n_jumps, shares = 0, [], []
    for jumps, intervals, (first, last) in zip(jump_steps_per_run, intervals_per_run, spans):
        jumps = np.asarray(jumps, dtype=np.float64)
        intervals = np.asarray(intervals, dtype=np.float64).reshape(-1, 2)
        inside = np.zeros(len(jumps), dtype=bool)
        for start, end in intervals:
            inside |= (jumps >= start) & (jumps <= end)
        observed += int(inside.sum())
        n_jumps.append(len(jumps))
        shares.append(_log_share(intervals, first, last))
    total = int(sum(n_jumps))
    expected = float(np.dot(n_jumps, shares)) if total else math.nan
    if total == 0:
        return {"observed": 0, "expected": math.nan, "ratio": math.nan, "p_value": math.nan, "n_jumps": 0}
    rng = np.random.default_rng(seed)
    null = sum(rng.binomial(n, q, size=n_draws) for n, q in zip(n_jumps, shares))
    p_value = float((1 + np.sum(null <= observed)) / (1 + n_draws))
    ratio = observed / expected if expected > 0 else math.nan
    return {"observed": observed, "expected": expected, "ratio": ratio, "p_value": p_value, "n_jumps": total}


def _log_share(intervals: np.ndarray, first: float, last: float) -> float:
    """Fraction of [log10(first+1), log10(last+1)] covered by the union of the step intervals."""
    low, high = math.log10(first + 1), math.log10(last + 1)
    if high <= low or len(intervals) == 0:
        return 0.0
    clipped = np.clip(np.log10(np.sort(intervals, axis=0) + 1), low, high)
    covered, reach = 0.0, low
    for start, end in sorted(map(tuple, clipped)):
        start = max(start, reach)
        if end > start:
            covered += end - start
            reach = end
    return covered / (high - low)


def pooled_sd(values_per_set) -> tuple[float, int]:
    """Within-set standard deviation pooled over sets (variances weighted by their degrees of freedom)."""
    squares, dof = 0.0, 0
    for values in values_per_set:
        values = np.asarray(values, dtype=np.float64)
        if len(values) >= 2:
            squares += float(np.sum((values - values.mean()) ** 2))
            dof += len(values) - 1
    return (math.sqrt(squares / dof) if dof else math.nan), dof


def noise_floor_table(replicates: pd.DataFrame, seeds: pd.DataFrame) -> pd.DataFrame:
    """Per group and frequency: SD of the learned step across rounding replicates vs across seeds.

    Args:
        replicates: rows group, replicate_set, mode, value (censored learned step), censored, of replicate runs.
        seeds: rows group, mode, value, censored, of network runs.
    Censored values (never learned) count at the run length, so an SD over them is a lower bound. A cell where
    no run of a replicate set (or no network run) learns the frequency carries no information about the spread:
    its SD is NaN and `information` says so, instead of an SD of 0 between identical censored values.
    Returns rows group, mode, sd_rounding, n_replicates, sd_seeds, n_seeds, rounding_over_seeds, information.
    """
    rows = []
    for (group, freq), part in replicates.groupby(["group", "mode"], sort=True):
        informative = [s.value for _, s in part.groupby("replicate_set") if not all_censored(s)]
        sd_rounding, _ = pooled_sd(informative)
        seed_part = seeds[(seeds.group == group) & (seeds["mode"] == freq)]
        seed_values = seed_part.value.to_numpy(np.float64)
        seeds_informative = len(seed_values) >= 2 and not all_censored(seed_part)
        sd_seeds = float(np.std(seed_values, ddof=1)) if seeds_informative else math.nan
        ratio = sd_rounding / sd_seeds if sd_seeds > 0 else math.nan
        information = ("none: no replicate set learns it" if not informative else
                       "none across seeds: no network run learns it" if not seeds_informative else
                       f"{len(informative)} replicate set(s)")
        rows.append({"group": group, "mode": float(freq), "sd_rounding": sd_rounding, "n_replicates": len(part),
                     "sd_seeds": sd_seeds, "n_seeds": len(seed_values), "rounding_over_seeds": ratio,
                     "information": information})
    return pd.DataFrame(rows, columns=["group", "mode", "sd_rounding", "n_replicates", "sd_seeds", "n_seeds",
                                       "rounding_over_seeds", "information"])


def all_censored(part: pd.DataFrame) -> bool:
    return "censored" in part and bool(part.censored.astype(bool).all())


def group_differences(seeds: pd.DataFrame, rounding_sd: dict, n_resamples: int = N_RESAMPLES,
                      seed: int = 0) -> pd.DataFrame:
    """Per frequency and pair of groups: difference of mean learned steps vs rounding and vs seed variation.

    Args:
        seeds: rows group, mode, value (censored learned step), censored (bool) of network runs.

    The rounding floor of a difference is ROUNDING_Z * sqrt(sd_a^2 + sd_b^2), sd the single-run rounding SD of
    each group (`rounding_sd[(group, freq)]`; a group without replicates uses the pooled `rounding_sd[(None,
    freq)]`): two single runs that differ only by float rounding exceed it 5 % of the time (normal
    approximation). `beyond_seeds` says the bootstrap CI of the difference of means excludes zero. Where either
    group has a run that never learned the frequency (`censored`), the difference depends on the run lengths,
    so both verdicts are None.
    """
    rows = []
    for freq, part in seeds.groupby("mode", sort=True):
        groups = sorted(part.group.unique())
        for first, second in combinations(groups, 2):
            pair = part[part.group.isin([first, second])]
            a, b = (pair.loc[pair.group == g, "value"].to_numpy(np.float64) for g in (first, second))
            difference, low, high = bootstrap_difference_ci(a, b, n_resamples, seed=seed)
            sds = [rounding_sd.get((g, freq), rounding_sd.get((None, freq), math.nan)) for g in (first, second)]
            floor = ROUNDING_Z * math.sqrt(sds[0] ** 2 + sds[1] ** 2)
            censored = int(pair.censored.sum())
            rows.append({"mode": float(freq), "first": first, "second": second, "difference": difference,
                         "ci_low": low, "ci_high": high, "rounding_floor": floor, "censored": censored,
                         "beyond_rounding": bool(abs(difference) > floor) if math.isfinite(floor) and not censored
                         else None,
                         "beyond_seeds": bool(low > 0 or high < 0) if math.isfinite(low) and not censored else None})
    return pd.DataFrame(rows, columns=["mode", "first", "second", "difference", "ci_low", "ci_high",
                                       "rounding_floor", "censored", "beyond_rounding", "beyond_seeds"])


def verdict(fraction: float, holds_at: float = 0.8, fails_below: float = 0.5) -> str:
    """'holds', 'partly' or 'does not hold' for the fraction of runs that show an observation."""
    if not math.isfinite(fraction):
        return "untested"
    return "holds" if fraction >= holds_at else "partly" if fraction >= fails_below else "does not hold"
