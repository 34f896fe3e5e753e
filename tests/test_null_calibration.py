"""The jump-test nulls: each generator against its definition, the swap null's level on simulated studies without
coupling (the default must hold alpha), its power on planted coupling, and bad input."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from analyzer.analyses.correlate import CorrelateParams, permutation_test
from analyzer.analyses.correlate.nulls import DEFAULT_NULL, draw_null, nearest_distance, permutation_draws
from analyzer.errors import BadInputError
from analyzer.study.calibration import rejection_rate


def test_default_null_holds_its_level_where_log_uniform_does_not():
    """Small version of bench/null_calibration.py: 4 presets x 8 runs, jumps and edges clustered, no coupling."""
    n = 240
    default = rejection_rate(DEFAULT_NULL, n, n_draws=99, seed=7, reference="edges")
    assert default["rate"] <= 0.05 + 3 * math.sqrt(0.05 * 0.95 / n), default  # clearly above 0.05 fails
    diagnostic = rejection_rate("log-uniform", 60, n_draws=99, seed=7, reference="edges")
    assert diagnostic["rate"] > 0.5  # the clustering alone rejects the log-uniform null (issue 21: 96-100 %)


def test_default_null_finds_planted_coupling():
    power = rejection_rate(DEFAULT_NULL, 40, n_draws=99, seed=3, reference="escapes", coupling=0.3)
    assert power["rate"] >= 0.8 and power["effect"] < 0


def test_swap_measures_each_run_against_the_other_runs_references():
    jumps = [np.array([9.0]), np.array([99.0]), np.array([999.0])]
    refs = [np.array([9.0]), np.array([99.0]), np.array([999.0])]
    draws = draw_null(jumps, refs, [(0, 10_000)] * 3, ["g"] * 3, "swap", 100, np.random.default_rng(0))
    assert draws.exact and [len(d) for d in draws.null] == [5, 5, 5]  # 3! - 1 permutations, the identity left out
    np.testing.assert_allclose(np.concatenate(draws.observed), 0)
    # u = 1, 2, 3: every permutation but the identity moves at least two runs onto another run's reference
    totals = np.sum([d[:, 0] for d in draws.null], axis=0)
    assert sorted(np.round(totals, 9)) == [2, 2, 4, 4, 4]  # two transpositions of neighbours, the rest 4
    outcome = permutation_test(jumps, refs, [10_000] * 3, CorrelateParams(null="swap", n_permutations=99),
                               groups=["g"] * 3)
    assert outcome["p_value"] == pytest.approx(1 / 6)  # exact: the observed pairing is the best of 3! = 6


def test_swap_stays_within_groups_and_draws_uniform_permutations():
    rng = np.random.default_rng(1)
    assert permutation_draws([4], 23, rng)[1] and not permutation_draws([4], 22, rng)[1]  # 4! - 1 = 23 enumerable
    counts = {p: 0 for p in itertools.permutations(range(4))}
    for _ in range(2000):
        perms, exact = permutation_draws([4], 10, rng)
        for row in perms[0]:
            counts[tuple(row)] += 1
    assert min(counts.values()) > 0.7 * 20_000 / 24 and max(counts.values()) < 1.3 * 20_000 / 24
    jumps = [np.array([10.0])] * 4
    refs = [np.array([10.0]), np.array([10.0]), np.array([5000.0]), np.array([5000.0])]
    draws = draw_null(jumps, refs, [(0, 10_000)] * 4, ["a", "a", "b", "b"], "swap", 50, np.random.default_rng(2))
    np.testing.assert_allclose(np.concatenate([d.ravel() for d in draws.null[:2]]), 0)  # group a: same references


def test_shift_moves_references_circularly_inside_the_run():
    rng = np.random.default_rng(4)
    refs = np.array([30.0, 300.0])
    draws = draw_null([np.array([100.0])], [refs], [(0, 1000)], [""], "shift", 2000, rng)
    u_refs, width = np.log10(refs + 1), math.log10(1001)
    # the references stay inside the run's range: no null distance exceeds the jump's distance to its far end
    assert draws.null[0].max() <= max(math.log10(101), width - math.log10(101)) + 1e-9
    # one uniform offset per draw, wrapping at the ends: the null mean is that over every offset
    grid = np.linspace(0, width, 20_001)[:-1]
    expected = np.mean([nearest_distance(np.array([math.log10(101)]), np.mod(u_refs + s, width))[0] for s in grid])
    assert draws.null[0].mean() == pytest.approx(expected, abs=0.01)


def test_swap_on_a_group_of_one_run_is_bad_input_naming_the_group():
    with pytest.raises(BadInputError, match="'deep'"):
        permutation_test([np.array([10.0]), np.array([20.0])], [np.array([12.0]), np.array([25.0])], [100, 100],
                         CorrelateParams(null="swap", n_permutations=9), groups=["deep", "wide"])


def test_auto_swaps_between_runs_and_shifts_a_single_run():
    jumps, refs = [np.array([10.0]), np.array([20.0])], [np.array([12.0]), np.array([25.0])]
    both = permutation_test(jumps, refs, [100, 100], CorrelateParams(n_permutations=9), groups=["a", "a"])
    alone = permutation_test(jumps[:1], refs[:1], [100], CorrelateParams(n_permutations=9), groups=["a"])
    assert both["null_name"] == "swap" and alone["null_name"] == "shift"


def test_swap_per_run_shares_add_up_to_the_pooled_effect():
    from analyzer.study.calibration import simulate_study

    jumps, refs, spans, groups = simulate_study(np.random.default_rng(3), reference="escapes")
    outcome = permutation_test(jumps, refs, spans, CorrelateParams(null="swap", n_permutations=4000), groups=groups)
    shares = sum(r["observed_sum"] - r["null_sum"] for r in outcome["per_run"]) / outcome["n_jumps"]
    assert shares == pytest.approx(outcome["effect"], abs=0.005)  # the draws' mean vs the exact permutation mean
