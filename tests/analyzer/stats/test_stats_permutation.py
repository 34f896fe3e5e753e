"""The pooled jump test: the effect against other runs' references (closed form), the exact permutation p, the
interval's rules, and the studentised p-value where a run has several units."""

from __future__ import annotations

import math

import numpy as np
import pytest

from analyzer.stats.permutation import jump_test


def test_the_swap_effect_excludes_each_run_own_references_closed_form():
    """Three runs, one jump and one reference each, at u = 1, 2, 4 (jumps) and u = 1, 3, 4 (references)."""
    jumps_u, refs_u = np.array([1.0, 2.0, 4.0]), np.array([1.0, 3.0, 4.0])
    steps = lambda u: [np.array([10 ** x - 1]) for x in u]  # noqa: E731
    test = jump_test(steps(jumps_u), steps(refs_u), [(0, 10 ** 5)] * 3, ["g"] * 3, null="swap", n_permutations=99,
                     n_resamples=0)
    distances = np.abs(jumps_u[:, None] - refs_u[None, :])  # S[i, k]: run i's jump to run k's reference
    own = np.trace(distances)
    others = sum((distances[i].sum() - distances[i, i]) / 2 for i in range(3))
    assert test.effect == pytest.approx((own - others) / 3, abs=1e-12)
    # S = [[0, 2, 3], [1, 1, 2], [3, 1, 0]]: own 0 + 1 + 0, others (2+3)/2 + (1+2)/2 + (3+1)/2 = 6
    assert test.effect == pytest.approx((1 - 6) / 3, abs=1e-12)
    permutations = [(0, 1, 2), (0, 2, 1), (1, 0, 2), (1, 2, 0), (2, 0, 1), (2, 1, 0)]
    totals = [distances[[0, 1, 2], list(p)].sum() for p in permutations]
    assert test.permutation_mean * 3 == pytest.approx(np.mean(totals[1:]))  # exact: every draw but the identity
    assert (own - np.mean(totals)) / 3 == pytest.approx(test.effect * (1 - 1 / 3))  # the attenuation it avoids
    assert test.null_mean == pytest.approx(test.observed - test.effect)
    assert test.exact and test.p_value == pytest.approx(1 / 6)  # the observed pairing is the best of 3! = 6
    assert test.ci_low is None and "too few runs" in test.ci_note


def test_per_run_sums_add_up_to_the_effect_and_ci_brackets_it():
    rng = np.random.default_rng(2)
    jumps = [10 ** rng.uniform(0.5, 3.5, 4) - 1 for _ in range(8)]
    refs = [np.concatenate([j[:2] * 1.05, 10 ** rng.uniform(0.5, 3.5, 1) - 1]) for j in jumps]  # coupled
    test = jump_test(jumps, refs, [10_000] * 8, ["g"] * 8, null="swap", n_permutations=199, n_resamples=499)
    sums = sum(r.observed_sum - r.reference_sum for r in test.per_run) / test.n_jumps
    assert sums == pytest.approx(test.effect, abs=1e-12)
    assert test.effect < 0 and test.p_value < 0.05 and test.ci_low < test.effect < test.ci_high < 0
    again = jump_test(jumps, refs, [10_000] * 8, ["g"] * 8, null="swap", n_permutations=199, n_resamples=499)
    assert (again.p_value, again.ci_low) == (test.p_value, test.ci_low)


def test_units_sharing_a_run_get_the_studentised_p_value():
    rng = np.random.default_rng(4)
    runs, freqs = 8, 3
    jumps = [np.array([10 ** rng.uniform(1, 3)]) for _ in range(runs * freqs)]
    refs = [10 ** rng.uniform(1, 3, 2) for _ in range(runs * freqs)]
    clusters = [u // freqs for u in range(runs * freqs)]
    groups = [f"f{u % freqs}" for u in range(runs * freqs)]
    test = jump_test(jumps, refs, [10_000] * len(jumps), groups, null="swap", n_permutations=99, clusters=clusters,
                     strata=["s"] * len(jumps), n_resamples=0)
    from scipy import stats

    assert test.p_method == "cluster t" and test.n_clusters == runs
    assert test.p_value == pytest.approx(stats.t.cdf(test.effect / test.se, runs - 1))
    assert 0 < test.p_permutation <= 1
    alone = jump_test(jumps, refs, [10_000] * len(jumps), groups, null="swap", n_permutations=99, n_resamples=0)
    assert alone.p_method == "permutation" and alone.p_value == alone.p_permutation


def test_nothing_to_test_is_nan_not_an_error():
    test = jump_test([np.array([5.0]), np.array([])], [np.array([]), np.array([10.0])], [100, 100], null="swap",
                     n_permutations=9)
    assert test.n_jumps == 0 and math.isnan(test.p_value) and test.ci_low is None


def test_hit_fraction_counts_jumps_within_the_tolerance():
    jumps = [np.array([99.0, 5000.0]), np.array([10.0, 2000.0])]
    refs = [np.array([100.0]), np.array([11.0])]
    test = jump_test(jumps, refs, [10_000] * 2, null="interval-jitter", statistic="hit_fraction", tolerance=0.05,
                     n_permutations=99, n_resamples=0)
    assert test.observed == pytest.approx(0.5)  # 99 vs 100 and 10 vs 11 are within 0.05 decades; the others not


def test_the_effects_interval_stays_within_what_the_statistic_allows(monkeypatch):
    """A distance in decades of log10(step + 1) cannot differ from its reference by more than the runs' log-step
    range (widened by the clocks' spread): an interval past it (the sgd group's -27.6 decades on runs of 10,000
    steps, from bootstrap-t with 8 runs and 10 jumps) is cut there; a hit fraction's to [-1, 1]."""
    import math

    import analyzer.stats.permutation as permutation
    from analyzer.stats.bootstrap import UNBOUNDED, clip_to_support

    def too_wide(estimate, se, draws, draw_ses, confidence, df=None, support=UNBOUNDED):
        return clip_to_support(-27.6, 0.5, support)  # the bootstrap-t bounds past the range, cut as studentized_ci cuts

    assert permutation.effect_bound([(0, 9999)] * 3, "mean_distance") == pytest.approx(4.0)
    assert permutation.effect_bound([999, 99], "mean_distance", clocks=[0.1, -0.2]) == pytest.approx(3.3)
    assert permutation.effect_bound([(0, 9999)], "hit_fraction") == 1.0
    monkeypatch.setattr(permutation, "studentized_ci", too_wide)
    rng = np.random.default_rng(3)
    jumps = [np.sort(rng.integers(1, 10_000, 3)).astype(float) for _ in range(6)]
    refs = [np.sort(rng.integers(1, 10_000, 2)).astype(float) for _ in range(6)]
    result = permutation.jump_test(jumps, refs, [(0, 9_999)] * 6, null="swap", n_permutations=99, n_resamples=50)
    assert result.ci_low == pytest.approx(-4.0) and result.ci_high == 0.5
    assert math.isfinite(result.effect) and -4.0 <= result.effect <= 4.0
