"""The family procedure against brute-force closed testing, and power at the level the verdict uses."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from scipy import stats

from analyzer.stats.family import (PRIMARY_WEIGHT, TestRow, adjust, detectable_effect, family_weights, holm,
                                   local_level, weighted_holm)


def closed_testing(p_values, weights) -> list[float]:
    """Adjusted p-values by closed testing: every intersection J tested by the weighted Bonferroni test with the
    weights renormalised over J (p_J = min_{j in J} p_j sum_J w / w_j); p~_i = max over J holding i of p_J."""
    n = len(p_values)
    adjusted = [0.0] * n
    for size in range(1, n + 1):
        for subset in itertools.combinations(range(n), size):
            total = sum(weights[j] for j in subset)
            p_subset = min(min(1.0, p_values[j] * total / weights[j]) for j in subset)
            for i in subset:
                adjusted[i] = max(adjusted[i], p_subset)
    return adjusted


@pytest.mark.parametrize("seed", range(40))
def test_weighted_holm_equals_closed_testing(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(2, 7))
    p_values = list(rng.uniform(0, 0.2, n) ** rng.uniform(0.5, 2))
    primary = [i == 0 for i in range(n)] if seed % 2 else [False] * n
    weights = family_weights(primary)
    assert weighted_holm(p_values, weights) == pytest.approx(closed_testing(p_values, list(weights)), abs=1e-12)


def test_holm_is_the_equal_weight_case():
    assert holm([0.01, 0.04, 0.03, 0.005, None]) == pytest.approx([0.03, 0.06, 0.06, 0.02, None])
    assert holm([0.9, 0.8]) == [1.0, 1.0] and holm([]) == []


def test_the_primary_keeps_most_of_alpha_and_passes_it_on():
    rows = [TestRow("primary", "jumps_near_escapes", "escapes", "swap", 0.039, primary=True)]
    rows += [TestRow(f"secondary {k}", "other", "edges", "swap", 0.004 + 0.001 * k) for k in range(10)]
    adjusted = adjust(rows)
    assert adjusted[0].p_adjusted == pytest.approx(0.039 / PRIMARY_WEIGHT) and adjusted[0].p_adjusted <= 0.05
    assert holm([r.p_value for r in rows])[0] > 0.05  # plain Holm over 11 tests would not reject it
    # the primary rejected, the secondaries are plain Holm among themselves at alpha: 0.004 x 10 = 0.04
    assert adjusted[1].p_adjusted == pytest.approx(max(0.039 / PRIMARY_WEIGHT, 0.004 * 10))  # step-down max
    failing = adjust([TestRow("primary", "c", "r", "swap", 0.5, primary=True),
                      TestRow("s", "c", "r", "swap", 0.001)])
    assert failing[1].p_adjusted == pytest.approx(0.001 / 0.2) and failing[1].p_adjusted < 0.05  # still tested
    assert family_weights([True, False, False]) == pytest.approx([0.8, 0.1, 0.1])


def test_power_at_the_level_the_verdict_uses():
    rows = [TestRow("p", "c", "r", "swap", 0.01, primary=True)] + [TestRow(f"s{k}", "c", "r", "swap", 0.2)
                                                                    for k in range(19)]
    assert local_level(rows, 0) == pytest.approx(0.04) and local_level(rows, 3) == pytest.approx(0.01 / 19)
    se = 0.0084
    assert detectable_effect(se, 0.05) == pytest.approx((1.644854 + 0.841621) * se, abs=1e-7)
    at_primary = detectable_effect(se, local_level(rows, 0))
    assert at_primary == pytest.approx((stats.norm.ppf(0.96) + stats.norm.ppf(0.8)) * se)
    assert detectable_effect(se, local_level(rows, 3)) > at_primary > detectable_effect(se, 0.05)
    assert detectable_effect(None, 0.05) is None
