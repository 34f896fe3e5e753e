"""Study statistics against oracles: closed forms, known distributions, coverage and calibration by simulation."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from analyzer.stats import descriptive as st
from analyzer.analyses.correlate import CorrelateParams, RunEvents, correlate_events

# ---- bootstrap CIs ----------------------------------------------------------------------------------


@pytest.mark.parametrize("n", [8, 30])
def test_bootstrap_ci_covers_the_true_mean_at_the_nominal_rate(n):
    # the studentised interval, never narrower than the t interval: 0.93-0.98 at 8 and 30 runs of normal data
    rng = np.random.default_rng(1)
    covered = [st.bootstrap_mean_ci(rng.normal(5.0, 2.0, n), n_resamples=500, seed=i)[1:] for i in range(300)]
    rate = np.mean([lo <= 5.0 <= hi for lo, hi in covered])
    assert 0.93 <= rate <= 0.99


def test_bootstrap_ci_is_never_narrower_than_the_t_interval():
    values = np.random.default_rng(2).exponential(100.0, 12)
    mean, low, high = st.bootstrap_mean_ci(values, n_resamples=4000, seed=3)
    half = stats.t.ppf(0.975, len(values) - 1) * values.std(ddof=1) / np.sqrt(len(values))
    assert mean == pytest.approx(values.mean(), rel=1e-12)
    assert low <= mean - half * (1 - 1e-9) and high >= mean + half * (1 - 1e-9)
    assert high - mean > mean - low  # a right-skewed sample: the bootstrap-t interval leans right


def test_bootstrap_ci_stays_in_the_quantitys_support_and_keeps_its_coverage():
    """One outlying run among 8 (seven plateaus of ~900 steps, one of 10): the bootstrap-t bounds reach below 0
    steps; cut to the support [0, inf) they do not, and the cut covers the true mean exactly as often."""
    values = np.array([905.0, 921.0, 880.0, 930.0, 899.0, 915.0, 940.0, 10.0])
    free = st.bootstrap_mean_ci(values, n_resamples=2000, seed=1)
    cut = st.bootstrap_mean_ci(values, n_resamples=2000, seed=1, support=(0.0, math.inf))
    assert free[1] < 0 <= cut[1] and cut[2] == free[2] and cut[0] == free[0]
    rng = np.random.default_rng(4)  # durations: a mixture, 1 run in 8 short; the cut never loses coverage
    truth = 0.875 * 900 + 0.125 * 50
    samples = [np.where(rng.random(8) < 0.125, rng.exponential(50.0, 8), rng.normal(900.0, 20.0, 8).clip(0))
               for _ in range(200)]
    for_support = {support: np.mean([lo <= truth <= hi for lo, hi in
                                     (st.bootstrap_mean_ci(v, n_resamples=300, seed=i, support=support)[1:]
                                      for i, v in enumerate(samples))])
                   for support in ((-math.inf, math.inf), (0.0, math.inf))}
    assert for_support[(0.0, math.inf)] == for_support[(-math.inf, math.inf)] > 0


def test_bootstrap_ci_edge_cases_and_seeding():
    assert all(math.isnan(v) for v in st.bootstrap_mean_ci([]))
    mean, low, high = st.bootstrap_mean_ci([7.0, np.nan])
    assert mean == 7.0 and math.isnan(low) and math.isnan(high)  # one finite value: no interval
    mean, low, high = st.bootstrap_mean_ci([1.0, 5.0, 2.0, 8.0])
    assert math.isnan(low) and math.isnan(high)  # four runs: too few for an interval
    assert st.bootstrap_mean_ci([3.0, 3.0, 3.0]) == (3.0, 3.0, 3.0)
    assert st.bootstrap_mean_ci([1, 5, 2, 8, 4], seed=5) == st.bootstrap_mean_ci([1, 5, 2, 8, 4], seed=5)


def test_difference_ci_covers_the_true_difference():
    rng = np.random.default_rng(6)
    hits = []
    for i in range(300):
        a, b = rng.normal(10.0, 1.0, 20), rng.normal(8.0, 2.0, 25)
        difference, low, high = st.bootstrap_difference_ci(a, b, n_resamples=2000, seed=i)
        assert difference == pytest.approx(a.mean() - b.mean())
        hits.append(low <= 2.0 <= high)
    assert 0.90 <= np.mean(hits) <= 0.98


# ---- censored learned steps ------------------------------------------------------------------------


def test_censoring_replaces_never_learned_by_the_run_length():
    values, censored = st.censor_learned_steps([10.0, np.nan, 500.0], [300, 300, 300])
    np.testing.assert_array_equal(values, [10.0, 300.0, 300.0])
    np.testing.assert_array_equal(censored, [False, True, False])


def test_learned_step_table_gives_the_restricted_mean_of_censored_exponentials():
    # T ~ Exp(mean m), censored at L: E[min(T, L)] = m (1 - exp(-L / m)), P(T > L) = exp(-L / m)
    rng = np.random.default_rng(7)
    m, length, n = 1000.0, 1500.0, 4000
    steps = rng.exponential(m, n)
    frame = pd.DataFrame({"group": "g", "mode": 3.0, "learned_step": np.where(steps < length, steps, np.nan),
                          "run_length": length})
    row = st.learned_step_table(frame, n_resamples=2000).iloc[0]
    expected = m * (1 - math.exp(-length / m))
    assert row.ci_low <= expected <= row.ci_high
    assert row["mean"] == pytest.approx(expected, rel=0.03)
    assert row.n == n and row.n_not_learned == pytest.approx(n * math.exp(-length / m), rel=0.1)


def test_quantity_table_counts_only_finite_values():
    per_run = pd.DataFrame({"group": ["a", "a", "a"], "x": [1.0, np.nan, 3.0]})
    row = st.quantity_table(per_run, ["x"]).iloc[0]
    assert row.n == 2 and row["mean"] == 2.0


# ---- proportions and ordering ----------------------------------------------------------------------


def test_proportion_ci_is_clopper_pearson():
    fraction, low, high = st.proportion_ci(0, 8)
    assert fraction == 0 and low == 0 and high == pytest.approx(1 - 0.025 ** (1 / 8), rel=1e-9)
    fraction, low, high = st.proportion_ci(8, 8)
    assert low == pytest.approx(0.025 ** (1 / 8), rel=1e-9) and high == 1
    _, low, high = st.proportion_ci(3, 10)
    assert low == pytest.approx(stats.beta.ppf(0.025, 3, 8)) and high == pytest.approx(stats.beta.ppf(0.975, 4, 7))


def test_ordered_by_frequency_treats_never_learned_as_last():
    learned = np.array([[10, 100, 1000, np.nan], [10, 100, np.nan, np.nan], [100, 10, 1000, 2000],
                        [10, np.nan, 1000, 2000]])
    np.testing.assert_array_equal(st.ordered_by_frequency(learned), [True, True, False, False])


@pytest.mark.parametrize("fraction, expected", [(1.0, "holds"), (0.8, "holds"), (0.79, "partly"),
                                                (0.5, "partly"), (0.49, "does not hold"), (math.nan, "untested")])
def test_verdict_thresholds(fraction, expected):
    assert st.verdict(fraction) == expected


# ---- the stall test -----------------------------------------------------------------------------------


def test_log_share_of_overlapping_intervals_is_the_covered_fraction_of_log_steps():
    share = st._log_share(np.array([[9.0, 99.0], [49.0, 999.0]]), 0, 9999)  # union [1, 3] of [0, 4] decades
    assert share == pytest.approx(0.5)


def test_stall_p_value_is_the_binomial_cdf_for_one_run():
    jumps = [5.0, 50.0, 500.0, 5000.0, 20.0, 200.0, 2000.0, 8000.0]
    outcome = st.stall_test([jumps], [[(9.0, 99.0)]], [(0, 9999)], n_draws=200_000, seed=1)
    assert outcome["observed"] == 2 and outcome["expected"] == pytest.approx(8 * 0.25)
    assert outcome["p_value"] == pytest.approx(stats.binom.cdf(2, 8, 0.25), abs=0.005)


def test_stall_test_is_calibrated_under_the_log_uniform_null_and_detects_stalls():
    rng = np.random.default_rng(8)
    spans = [(0, 9999), (0, 999)]
    intervals = [[(30.0, 300.0), (2000.0, 5000.0)], [(5.0, 60.0)]]
    p_values = []
    for sim in range(300):
        jumps = [10 ** rng.uniform(0, math.log10(last + 1), 6) - 1 for _, last in spans]
        p_values.append(st.stall_test(jumps, intervals, spans, n_draws=999, seed=sim)["p_value"])
    for alpha in (0.05, 0.2, 0.5):  # a count is discrete: conservative, never more rejections than alpha
        assert np.mean(np.asarray(p_values) <= alpha) <= alpha + 3 * math.sqrt(alpha * (1 - alpha) / 300)
    outside = [np.array([3.0, 10.0, 500.0, 1000.0, 7000.0, 9000.0, 12.0, 600.0, 8000.0]),
               np.array([1.0, 2.0, 100.0, 500.0, 3.0, 200.0])]
    assert st.stall_test(outside, intervals, spans)["p_value"] < 0.01


# ---- the pooled, run-stratified jump test (the correlate analysis's machinery, as the study calls it)


def _log_uniform(rng, last, n):
    return 10 ** rng.uniform(0, math.log10(last + 1), n) - 1


def _pooled_p(runs, seed, n_permutations=199):
    events = [RunEvents(f"r{i}", jumps, np.ones(len(jumps)), refs, 0, last) for i, (jumps, refs, last) in enumerate(runs)]
    return correlate_events(events, CorrelateParams(n_permutations=n_permutations, seed=seed,
                                                    null="log-uniform")).p_value


def test_stratified_pooled_p_is_uniform_on_null_runs_of_very_different_lengths():
    # each run draws jumps over its own range: 100 steps vs 100,000 steps; pooled nulls would be miscalibrated
    rng = np.random.default_rng(9)
    p_values = []
    for sim in range(300):
        runs = [(_log_uniform(rng, last, 3), _log_uniform(rng, last, 4), last) for last in (100, 3000, 100_000)]
        p_values.append(_pooled_p(runs, sim))
    assert stats.kstest(p_values, "uniform").pvalue > 0.01


def test_stratified_pooled_p_is_small_when_jumps_sit_at_escapes():
    rng = np.random.default_rng(10)
    runs = []
    for last in (300, 10_000, 10_000):
        escapes = _log_uniform(rng, last, 4)
        runs.append(((escapes + 1) * 10 ** rng.normal(0, 0.02, 4) - 1, escapes, last))
    assert _pooled_p(runs, 0, 999) < 0.01


def test_pooled_p_of_one_jump_and_one_reference_has_a_closed_form():
    # U uniform on [0, u_max]; P(|U - u_ref| <= d) = (min(u_ref + d, u_max) - max(u_ref - d, 0)) / u_max
    last, reference, jump = 9999, 99.0, 199.0
    u_max, u_ref = math.log10(last + 1), math.log10(reference + 1)
    d = math.log10(jump + 1) - u_ref
    expected = (min(u_ref + d, u_max) - max(u_ref - d, 0.0)) / u_max
    p = _pooled_p([(np.array([jump]), np.array([reference]), last)], 3, n_permutations=99_999)
    assert p == pytest.approx(expected, abs=0.005)


# ---- noise floor ------------------------------------------------------------------------------------


def test_pooled_sd_weights_sets_by_their_degrees_of_freedom():
    sd, dof = st.pooled_sd([[1.0, 3.0], [10.0, 10.0, 16.0], [5.0]])
    assert dof == 3 and sd == pytest.approx(math.sqrt((2.0 + 24.0) / 3))


def _seed_frame(rng, means: dict, n, sd):
    rows = [{"group": g, "mode": 7.0, "value": v, "censored": False} for g, m in means.items()
            for v in rng.normal(m, sd, n)]
    return pd.DataFrame(rows)


def test_noise_floor_recovers_rounding_and_seed_spread():
    rng = np.random.default_rng(11)
    replicates = pd.DataFrame([{"group": "a", "replicate_set": f"s{s}", "mode": 7.0, "value": v}
                               for s in range(200) for v in rng.normal(1000 + 50 * s, 10.0, 5)])
    seeds = _seed_frame(rng, {"a": 1000.0}, 400, 100.0)
    row = st.noise_floor_table(replicates, seeds).iloc[0]
    assert row.sd_rounding == pytest.approx(10.0, rel=0.1) and row.sd_seeds == pytest.approx(100.0, rel=0.1)
    assert row.rounding_over_seeds == pytest.approx(0.1, rel=0.15)


def test_group_differences_against_rounding_floor_and_seed_variation():
    rng = np.random.default_rng(12)
    seeds = _seed_frame(rng, {"a": 1000.0, "b": 1000.0, "c": 3000.0}, 8, 50.0)
    rounding = {("a", 7.0): 30.0, (None, 7.0): 100.0}  # b and c have no replicates: the pooled floor
    table = st.group_differences(seeds, rounding, n_resamples=2000).set_index(["first", "second"])
    assert table.loc[("a", "b"), "rounding_floor"] == pytest.approx(1.96 * math.hypot(30.0, 100.0))
    assert table.loc[("a", "c"), "beyond_rounding"] and table.loc[("a", "c"), "beyond_seeds"]
    assert not table.loc[("a", "b"), "beyond_rounding"] and not table.loc[("a", "b"), "beyond_seeds"]
    censored = seeds.assign(censored=seeds.group.eq("c") & (seeds.index % 8 == 0))
    flagged = st.group_differences(censored, rounding, n_resamples=500).set_index(["first", "second"])
    assert flagged.loc[("a", "c"), "beyond_rounding"] is None and flagged.loc[("a", "c"), "censored"] == 1
