"""Every registered null on seeded synthetic events: shapes, determinism by seed, observed distances against a direct
numpy computation; then each null against its own definition, and the factory."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from analyzer.errors import BadInputError
from analyzer.stats.nulls import DEFAULT_NULL, NULLS, Null, get_null, permutation_draws
from analyzer.stats.nulls.clock_swap import estimate_clocks
from analyzer.stats.nulls.exchange import induced


def synthetic(seed: int = 0, runs: int = 6):
    """Two groups of runs with log-spread jumps and references (steps), and each jump's label."""
    rng = np.random.default_rng(seed)
    jumps = [10 ** rng.uniform(0.5, 3.5, rng.integers(2, 6)) - 1 for _ in range(runs)]
    refs = [10 ** rng.uniform(0.5, 3.8, rng.integers(1, 4)) - 1 for _ in range(runs)]
    labels = [np.arange(len(j)) for j in jumps]
    return jumps, refs, [(0, 10_000)] * runs, ["a"] * (runs // 2) + ["b"] * (runs - runs // 2), labels


@pytest.mark.parametrize("name", list(NULLS))
def test_every_null_draws_the_right_shapes_reproducibly_with_the_true_observed_distances(name):
    jumps, refs, spans, groups, labels = synthetic(1)
    null = get_null(name)
    draws = null.draw(jumps, refs, spans, groups, 50, np.random.default_rng(3), labels=labels)
    again = null.draw(jumps, refs, spans, groups, 50, np.random.default_rng(3), labels=labels)
    assert draws.runs == list(range(len(jumps)))
    scale = (lambda x: np.asarray(x, float)) if name == "uniform" else (lambda x: np.log10(np.asarray(x) + 1))
    for position, i in enumerate(draws.runs):
        direct = np.abs(scale(jumps[i])[:, None] - scale(refs[i])[None, :]).min(axis=1)
        np.testing.assert_allclose(draws.observed[position], direct, rtol=0, atol=1e-12)
        assert draws.null[position].shape[1] == len(jumps[i]) and draws.null[position].shape[0] >= 19
        assert np.all(np.isfinite(draws.null[position])) and np.all(draws.null[position] >= 0)
        np.testing.assert_array_equal(draws.null[position], again.null[position])
    other = null.draw(jumps, refs, spans, groups, 50, np.random.default_rng(4), labels=labels)
    assert any(not np.array_equal(a, b) for a, b in zip(draws.null, other.null)) or draws.exact


@pytest.mark.parametrize("name", list(NULLS))
def test_every_null_declares_what_it_keeps_and_where_it_was_calibrated(name):
    cls = NULLS[name]
    assert issubclass(cls, Null) and cls.name == name and len(cls.keeps) > 20
    assert isinstance(cls.calibrated_for, tuple) and all(isinstance(m, str) for m in cls.calibrated_for)
    assert not (cls.diagnostic and name == DEFAULT_NULL)


def test_calibrated_for_names_null_models_of_the_calibration_and_the_default_holds_under_all():
    from analyzer.stats.calibration import calibration_models

    null_models = {name for name, model in calibration_models().items() if model.null_for}
    for cls in NULLS.values():
        assert set(cls.calibrated_for) <= null_models, cls.name
    assert set(NULLS[DEFAULT_NULL].calibrated_for) == null_models


def test_the_factory_names_the_known_nulls_and_passes_options():
    with pytest.raises(BadInputError, match="known: .*swap.*interval-jitter"):
        get_null("gaussian")
    assert get_null("interval-jitter", window=0.05).window == 0.05
    with pytest.raises(BadInputError, match="interval-jitter"):
        get_null("interval-jitter", width=1)
    assert DEFAULT_NULL in NULLS


def test_swap_enumerates_small_groups_and_leaves_out_the_identity():
    jumps = [np.array([9.0]), np.array([99.0]), np.array([999.0])]
    draws = get_null("swap").draw(jumps, jumps, [(0, 10_000)] * 3, ["g"] * 3, 100, np.random.default_rng(0))
    assert draws.exact and [len(d) for d in draws.null] == [5, 5, 5]  # 3! - 1 permutations
    totals = np.sum([d[:, 0] for d in draws.null], axis=0)
    assert sorted(np.round(totals, 9)) == [2, 2, 4, 4, 4]  # u = 1, 2, 3: two neighbour transpositions, the rest 4


def test_permutation_draws_are_uniform_and_exact_when_few():
    rng = np.random.default_rng(1)
    assert permutation_draws([4], 23, rng)[1] and not permutation_draws([4], 22, rng)[1]
    counts = {p: 0 for p in itertools.permutations(range(4))}
    for _ in range(1000):
        for row in permutation_draws([4], 10, rng)[0][0]:
            counts[tuple(row)] += 1
    assert min(counts.values()) > 0.7 * 10_000 / 24 and max(counts.values()) < 1.3 * 10_000 / 24


def test_units_of_one_run_are_exchanged_together():
    """Two frequency groups over the same 4 runs: every draw gives both of a run's units the same donor run."""
    units = [(run, freq) for freq in range(2) for run in range(4)]
    jumps = [np.array([10.0 * (run + 1)]) for run, _ in units]
    refs = [np.array([100.0 * (run + 1) + freq]) for run, freq in units]
    draws = get_null("swap").draw(jumps, refs, [(0, 10_000)] * 8, [f"f{f}" for _, f in units], 50,
                                  np.random.default_rng(2), clusters=[run for run, _ in units])
    donors = {}
    for position, (members, null) in enumerate(zip(draws.members, draws.null)):
        run = units[draws.runs[position]][0]
        row = [np.flatnonzero(np.isclose(draws.cross[position][:, 0], value))[0] for value in null[:, 0]]
        donors.setdefault(run, []).append([units[members[r]][0] for r in row])
    for run, (first, second) in donors.items():
        assert first == second


def test_the_induced_permutation_skips_runs_outside_the_group():
    perm = np.array([[1, 2, 0, 3]])  # 0 -> 1 -> 2 -> 0, 3 fixed
    np.testing.assert_array_equal(induced(perm, [0, 2, 3], 4), [[1, 0, 2]])  # 0 -> (1 skipped) -> 2


def test_clock_swap_moves_donor_references_by_the_clock_difference():
    template = np.log10(np.array([10.0, 100.0, 1000.0]) + 1)
    clocks = np.array([0.0, 0.3, -0.2])
    jumps_u = [template + c for c in clocks]
    estimated = estimate_clocks(jumps_u, ["g"] * 3, [np.arange(3)] * 3)
    np.testing.assert_allclose(estimated - estimated[0], clocks - clocks[0], atol=1e-12)
    refs = [10 ** (np.array([1.5]) + c) - 1 for c in clocks]
    draws = get_null("clock-swap").draw([10 ** j - 1 for j in jumps_u], refs, [(0, 10_000)] * 3, ["g"] * 3, 10,
                                        np.random.default_rng(0), labels=[np.arange(3)] * 3)
    for cross in draws.cross:  # every donor's reference lands where the receiver's own is
        np.testing.assert_allclose(cross, cross[:1].repeat(3, axis=0), atol=1e-9)
    swapped = get_null("swap").draw([10 ** j - 1 for j in jumps_u], refs, [(0, 10_000)] * 3, ["g"] * 3, 10, 0)
    assert not np.allclose(swapped.cross[0], swapped.cross[0][:1])


@pytest.mark.parametrize("centred", [False, True])
def test_interval_jitter_keeps_each_reference_in_its_window(centred):
    null = get_null("interval-jitter", window=0.1, centred=centred)
    refs = np.log10(np.array([30.0, 300.0, 5000.0]) + 1)
    low, high = null.windows(refs, (0.0, 4.0), np.random.default_rng(5))
    assert np.all(low <= refs) and np.all(refs <= high) and np.all(high - low <= 0.2 + 1e-12)
    if centred:
        np.testing.assert_allclose(high - low, 0.2)
    else:  # a fixed grid of 0.2-decade cells: the cell edges differ by whole cells
        cells = (low - low[0]) / 0.2
        np.testing.assert_allclose(cells, np.round(cells), atol=1e-9)
    rng = np.random.default_rng(6)
    null_d = null.null_distances(np.array([2.0]), refs, (0.0, 4.0), 4000, rng)
    assert null_d.min() >= 0 and abs(null_d.mean() - np.abs(2.0 - refs).min()) < 0.1


def test_shift_moves_references_circularly_inside_the_run():
    refs = np.array([30.0, 300.0])
    draws = get_null("shift").draw([np.array([100.0])], [refs], [(0, 1000)], None, 2000, np.random.default_rng(4))
    u_refs, width = np.log10(refs + 1), math.log10(1001)
    grid = np.linspace(0, width, 20_001)[:-1]
    expected = np.mean([np.abs(math.log10(101) - np.mod(u_refs + s, width)).min() for s in grid])
    assert draws.null[0].mean() == pytest.approx(expected, abs=0.01)


def test_a_swap_type_null_on_a_group_of_one_run_is_bad_input_naming_the_group():
    for name in [n for n, cls in NULLS.items() if cls.exchanges]:
        with pytest.raises(BadInputError, match="'deep'"):
            get_null(name).draw([np.array([10.0]), np.array([20.0])], [np.array([12.0]), np.array([25.0])],
                                [100, 100], ["deep", "wide"], 9, 0)
        lenient = get_null(name).draw([np.array([10.0])] * 2, [np.array([12.0])] * 2, [100] * 2, ["deep", "wide"],
                                      9, 0, strict=False)
        assert lenient.runs == [] and len(lenient.notes) == 2


def test_units_of_one_run_take_the_run_clock():
    from analyzer.stats.nulls.clock_swap import run_clocks

    template = np.array([10.0, 100.0, 1000.0])
    offsets = [0.0, 0.2, -0.1, 0.1]
    jumps, labels, clusters = [], [], []
    for run, c in enumerate(offsets):
        for k, step in enumerate(template):  # one unit per run and frequency
            jumps.append(np.array([10 ** (np.log10(step + 1) + c) - 1]))
            labels.append(np.array([k]))
            clusters.append(run)
    clocks = run_clocks(jumps, labels, clusters, ["preset"] * len(jumps))
    expected = np.repeat(np.array(offsets) - np.median(offsets), 3)
    np.testing.assert_allclose(clocks - clocks[0], expected - expected[0], atol=1e-12)
