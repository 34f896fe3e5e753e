"""The one cluster bootstrap against brute force: every resample of a tiny study enumerated, the jump effect at
resampling weights against the resampled data rebuilt by hand, its influence against finite differences, and the
interval rules."""

from __future__ import annotations

import itertools
from collections import Counter

import numpy as np
import pytest

from analyzer.stats.bootstrap import (centred_p_value, clip_to_support, cluster_bootstrap, group_ci, percentile_ci,
                                      resampling_weights, studentized_ci, too_few_runs)
from analyzer.stats.effect import ExchangeBlock, JumpEffect


def ratio(weights, d, n):
    return (weights @ d) / (weights @ n)


def test_resampling_weights_draw_each_stratum_with_replacement():
    strata = ["a", "a", "b", "b", "b"]
    weights = resampling_weights(strata, 20_000, np.random.default_rng(0))
    np.testing.assert_array_equal(weights[:, :2].sum(axis=1), 2)
    np.testing.assert_array_equal(weights[:, 2:].sum(axis=1), 3)
    # P(a run of a 3-run stratum is drawn k times) is binomial(3, 1/3)
    counts = Counter(weights[:, 2].astype(int))
    for k, p in enumerate([8 / 27, 12 / 27, 6 / 27, 1 / 27]):
        assert counts[k] / 20_000 == pytest.approx(p, abs=0.015)


def test_the_bootstrap_distribution_equals_the_enumerated_resamples():
    """Two strata of 2 and 3 clusters: the 2^2 x 3^3 equally likely ordered resamples, each statistic computed on the
    resampled rows directly; the weighted statistic's draws have the same distribution (quantiles)."""
    d, n = np.array([1.0, -2.0, 0.5, 3.0, -1.0]), np.array([2.0, 1.0, 3.0, 1.0, 2.0])
    exact = []
    for first in itertools.product([0, 1], repeat=2):
        for second in itertools.product([2, 3, 4], repeat=3):
            rows = list(first) + list(second)
            exact.append(sum(d[rows]) / sum(n[rows]))
    draws = cluster_bootstrap(lambda w: ratio(w, d, n), ["a", "a", "b", "b", "b"], 40_000, seed=1)
    for q in (0.05, 0.25, 0.5, 0.75, 0.95):
        assert np.quantile(draws, q) == pytest.approx(np.quantile(exact, q), abs=0.05)
    assert np.mean(draws) == pytest.approx(np.mean(exact), abs=0.01)


def tiny_exchange(seed: int = 0, m: int = 4):
    rng = np.random.default_rng(seed)
    sums = rng.uniform(0.5, 2.0, (m, m))
    n = rng.integers(1, 4, m).astype(float)
    block = ExchangeBlock(sums=sums, own=np.arange(m), n=n, member_clusters=np.arange(m), receiver_clusters=np.arange(m))
    model = JumpEffect(blocks=(block,), observed=np.empty(0), reference=np.empty(0), n=np.empty(0),
                       clusters=np.empty(0, int), strata=("g",) * m, n_clusters=m)
    return sums, n, model


def test_the_weighted_effect_equals_the_resampled_study_rebuilt_by_hand():
    """Each copy of a run is a receiver; its reference is the mean over the copies of every OTHER run."""
    sums, n, model = tiny_exchange()
    for counts in [(1, 1, 1, 1), (2, 0, 1, 1), (0, 3, 1, 0), (1, 0, 0, 3)]:
        copies = [i for i, c in enumerate(counts) for _ in range(c)]
        numerator = 0.0
        for i in copies:
            others = [k for k in copies if k != i]
            numerator += sums[i, i] - np.mean([sums[i, k] for k in others])
        expected = numerator / sum(n[i] for i in copies)
        effect, _ = model.estimate(np.array([counts], dtype=float))
        assert effect[0] == pytest.approx(expected, abs=1e-12)


def test_the_influence_is_the_derivative_of_the_effect_by_a_run_weight():
    sums, n, model = tiny_exchange(3, m=5)
    weights = np.array([1.0, 2.0, 1.0, 0.0, 2.0])
    effect, influence = model.influence(weights[None])
    for c in range(5):
        step = np.zeros(5)
        step[c] = 1e-6
        up, _ = model.influence((weights + step)[None])
        down, _ = model.influence((weights - step)[None])
        assert influence[0, c] == pytest.approx((up[0] - down[0]) / 2e-6, abs=1e-6)


def test_intervals_p_values_and_too_few_runs():
    draws = np.linspace(-1, 1, 2001)
    assert percentile_ci(draws) == pytest.approx((-0.95, 0.95))
    assert centred_p_value(draws, 0.5) == pytest.approx((np.sum(np.abs(draws - 0.5) >= 0.5) + 1) / 2002)
    low, high = studentized_ci(0.2, 0.1, 0.2 + 0.1 * np.linspace(-2, 2, 1001), np.full(1001, 0.1), 0.95, df=3)
    assert (low, high) == pytest.approx((0.2 - 3.182446 * 0.1, 0.2 + 3.182446 * 0.1), abs=1e-5)  # t_3 is wider
    assert studentized_ci(0.2, 0.1, 0.2 + 0.1 * np.linspace(-2, 2, 1001), np.full(1001, 0.1), 0.95, df=3,
                          support=(0.0, 0.4)) == pytest.approx((0.0, 0.4))  # cut on both sides
    assert too_few_runs(4) == "too few runs for a CI (4 < 5)" and too_few_runs(5) is None
    assert group_ci(4, lambda: (0.0, 1.0)) == (None, None, "too few runs for a CI (4 < 5)")
    assert group_ci(6, lambda: (0.0, 1.0)) == (0.0, 1.0, "")


def test_the_support_cut_keeps_inner_bounds_and_missing_ones():
    assert clip_to_support(-0.5, 2.0, (0.0, 1.0)) == (0.0, 1.0)
    assert clip_to_support(0.25, 0.75, (0.0, 1.0)) == (0.25, 0.75)
    assert clip_to_support(-1e300, 1e300) == (-1e300, 1e300)  # no support given: unbounded
    assert clip_to_support(None, 3.0, (0.0, 1.0)) == (None, 1.0)


def test_resamples_without_spread_do_not_blow_up_the_studentised_interval():
    """24 runs at 0.1 and one elsewhere (a twin contrast where most pairs differ by the same share): a resample
    without the odd run has an SE of rounding noise (~1e-17) and a t of ~1e16; such resamples count as SE 0. The
    interval of a mean of values in [lo, hi] then stays within a few times that range (it reached 3e31 before)."""
    from analyzer.stats.paired import mean_interval

    rng = np.random.default_rng(0)
    for trial in range(100):
        values = np.full(25, 0.1)
        values[rng.integers(25)] = 0.1 + rng.normal()
        low, high, _ = mean_interval(values, n_resamples=500, seed=trial)
        spread = values.max() - values.min()
        assert low is not None and values.min() - 2 * spread <= low <= values.mean() <= high
        assert high <= values.max() + 2 * spread
