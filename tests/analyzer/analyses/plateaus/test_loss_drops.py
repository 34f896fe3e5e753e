"""The logistic fit of one loss drop against closed forms, and the cases where it must refuse."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from analyzer.analyses.plateaus.loss_drops import EDGE_LOGIT, _half_gone, fit_logistic_drop, true_runs


def logistic_drop(steps, mid, kappa, level_before, level_after):
    learned = 1.0 / (1.0 + np.exp(-kappa * (steps - mid)))
    return level_after + (level_before - level_after) * (1.0 - learned) ** 2


@pytest.mark.parametrize("mid, kappa, levels", [(500.0, 0.02, (2.0, 0.5)), (1234.5, 0.005, (0.3, 1e-3)),
                                                (80.0, 0.3, (1.0, 0.0))])
def test_fit_recovers_the_midpoint_and_rate_of_an_exact_logistic_drop(mid, kappa, levels):
    steps = np.arange(0, int(mid + 12 / kappa), dtype=np.float64)
    fit = fit_logistic_drop(steps, logistic_drop(steps, mid, kappa, *levels), *levels)
    assert fit is not None
    np.testing.assert_allclose(fit, (mid, kappa), rtol=1e-9)
    # the 10 % and 90 % points of the learned fraction: s(mid -+ ln 9 / kappa) = 0.1, 0.9
    for sign, learned in ((-1, 0.1), (1, 0.9)):
        t = fit[0] + sign * EDGE_LOGIT / fit[1]
        assert 1.0 / (1.0 + np.exp(-kappa * (t - mid))) == pytest.approx(learned, rel=1e-9)


def test_fit_is_insensitive_to_small_errors_in_the_levels():
    """Only 0.2 < A < 0.8 is fitted: a 1 % error in the level after moves the midpoint by < 1 % of the width."""
    mid, kappa, before, after = 600.0, 0.01, 1.0, 0.2
    steps = np.arange(1500, dtype=np.float64)
    loss = logistic_drop(steps, mid, kappa, before, after)
    fitted_mid, fitted_kappa = fit_logistic_drop(steps, loss, before, after * 1.01)
    width = 2 * EDGE_LOGIT / kappa
    assert abs(fitted_mid - mid) < 0.01 * width and fitted_kappa == pytest.approx(kappa, rel=0.03)


@pytest.mark.parametrize("case", ["levels inverted", "no drop", "rising loss", "one point inside"])
def test_fit_refuses_what_is_no_drop(case):
    steps = np.arange(100, dtype=np.float64)
    if case == "levels inverted":
        assert fit_logistic_drop(steps, logistic_drop(steps, 50, 0.2, 1.0, 0.5), 0.5, 1.0) is None
    elif case == "no drop":
        assert fit_logistic_drop(steps, np.full(100, 1.0), 1.0, 0.5) is None  # A = 1 everywhere
    elif case == "rising loss":
        assert fit_logistic_drop(steps, logistic_drop(steps, 50, -0.2, 1.0, 0.5), 1.0, 0.5) is None
    else:  # a drop within one step: no two points with 0.2 < A < 0.8
        assert fit_logistic_drop(steps, np.where(steps < 50, 1.0, 0.5), 1.0, 0.5) is None


def test_half_gone_is_where_three_quarters_of_the_loss_drop_is_done():
    """A = sqrt((L - L1) / (L0 - L1)) <= 1/2 once L <= L1 + (L0 - L1) / 4."""
    loss = np.array([1.0, 0.9, 0.6, 0.45, 0.3, 0.2])
    assert _half_gone(loss, 1.0, 0.2) == 4  # threshold 0.4
    assert _half_gone(loss, 1.0, 0.0) == 5  # threshold 0.25
    assert _half_gone(loss, 1.0, 0.9) == 1  # threshold 0.925
    assert _half_gone(np.array([1.0, 0.95]), 1.0, 0.0) is None  # never half gone
    assert _half_gone(loss, 0.5, 0.6) is None  # no drop between the levels


def test_true_runs():
    assert true_runs(np.array([True, True, False, True, False, False, True])) == [(0, 2), (3, 4), (6, 7)]
    assert true_runs(np.zeros(4, dtype=bool)) == []


# ---- through detect_plateaus: cases a review found (fuzzing ~3,600 curves) ----------------------------


def escape(steps, mid, width):
    with np.errstate(over="ignore"):
        return 1.0 / (1.0 + np.exp(-(steps - mid) * 2 * np.log(9) / width))


def assert_segments_tile_the_run(result, steps):
    segments = result.segments[result.segments.method == "changepoint"]
    starts, ends = segments.start_step.to_numpy(), segments.end_step.to_numpy()
    assert np.all(starts <= ends) and starts[0] == steps[0] and ends[-1] == steps[-1]
    np.testing.assert_array_equal(np.searchsorted(steps, starts[1:]), np.searchsorted(steps, ends[:-1]) + 1)
    assert not segments.mean_log10_loss.isna().any()


def test_a_short_strided_run_keeps_every_segment_non_empty():
    """12 points logged every 100 steps, one logistic drop: the last plateau's end was clipped past its start."""
    from analyzer.analyses.plateaus import detect_plateaus

    x = np.arange(12, dtype=np.float64)
    loss = 1e-3 + (1.0 - 1.0 / (1.0 + np.exp(-(x - 3.5) * 0.8))) ** 2
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = detect_plateaus(100 * np.arange(12), loss)
    assert_segments_tile_the_run(result, 100 * np.arange(12))
    ends = result.plateau_edges[(result.plateau_edges.method == "changepoint") & (result.plateau_edges.kind == "end")].step.to_numpy()
    np.testing.assert_array_equal(result.loss_drops.end_step.to_numpy(), ends)  # one convention for both


def test_levels_come_from_the_plateau_next_to_the_drop():
    """A sharp step at 400 (width 3) and a drop at 1,500 (width 150): each is its own drop, and the level
    before the second is the plateau between them (0.31), not the loss before the step."""
    from analyzer.analyses.plateaus import detect_plateaus

    steps = np.arange(3000)
    loss = 0.9 * (1 - escape(steps, 400, 3)) ** 2 + 0.3 * (1 - escape(steps, 1500, 150)) ** 2 + 0.01
    result = detect_plateaus(steps, loss)
    assert_segments_tile_the_run(result, steps)
    np.testing.assert_allclose(result.loss_drop_steps(), [400.0, 1500.0], atol=1.5)
    row = result.loss_drops.iloc[1]
    assert row.fitted and row.level_before == pytest.approx(0.31, rel=1e-3)
    assert abs(row.end_step - 1425) <= 2 and abs(row.start_step - 1575) <= 2


@pytest.mark.parametrize("width", [2.0, 10.0, 40.0])
def test_a_cliff_narrower_than_a_grid_bin_splits_the_plateau(width):
    """A 3-decade fall within `width` steps at step 2,000 (0.0004-0.009 decades, under the 3 bins Pelt needs
    for a segment): two plateaus, edges at the 10/90 % points of the fall within 1 step."""
    from analyzer.analyses.plateaus import PlateauParams, detect_plateaus

    steps = np.arange(5000)
    loss = 1e-3 + (1 - escape(steps, 2000.0, width)) ** 2
    result = detect_plateaus(steps, loss)
    assert_segments_tile_the_run(result, steps)
    found = result.plateaus("changepoint")
    assert len(found) == 2
    assert abs(found.end_step.iloc[0] + 1 - (2000 - width / 2)) <= 1.0
    assert abs(found.start_step.iloc[1] - (2000 + width / 2)) <= 1.0 + (width <= 2)
    assert len(detect_plateaus(steps, loss, PlateauParams(edges="corner")).plateaus("changepoint")) == 2


def test_a_small_level_shift_inside_a_plateau_is_no_cliff():
    """A 0.02-decade (5 %) step inside a flat stretch stays one plateau: below the 0.05-decade cliff floor."""
    from analyzer.analyses.plateaus import detect_plateaus

    steps = np.arange(5000)
    loss = 0.5 * (1 - escape(steps, 300, 60)) ** 2 + np.where(steps < 2000, 0.105, 0.1)
    result = detect_plateaus(steps, loss)
    edges = result.edge_steps("changepoint")
    assert len(edges) == 2 and np.all(edges < 1000), edges  # the drop at 300 only; no edge at the step
    assert len(result.loss_drops) == 1


def test_a_fast_drop_after_a_long_plateau_raises_no_overflow():
    from analyzer.analyses.plateaus import detect_plateaus

    steps = np.arange(3500)
    noise = np.exp(np.random.default_rng(0).normal(0.0, 0.02, 3500))
    loss = (0.8 * (1 - escape(steps, 2.0, 2.2)) ** 2 + 0.85 * (1 - escape(steps, 3000.0, 4.4)) ** 2 + 3e-4) * noise
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        result = detect_plateaus(steps, loss)
    assert_segments_tile_the_run(result, steps)
    mids = result.loss_drop_steps()
    assert np.all((mids >= steps[0]) & (mids <= steps[-1]))


def test_a_plateau_left_upwards_has_no_escape():
    """The loss rises after a plateau (divergence): the plateau still ends, but there is no drop to escape."""
    from analyzer.analyses.plateaus import detect_plateaus

    steps = np.arange(3000)
    result = detect_plateaus(steps, 0.1 + 0.9 * escape(steps, 1000, 100))
    assert len(result.loss_drops) == 1 and np.isnan(result.loss_drops.mid_step.iloc[0])
    assert len(result.loss_drop_steps()) == 0
