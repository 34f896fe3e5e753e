"""Plateau detection on planted signals (known edges, Adam-like spikes), bad input, cache and CLI."""

from __future__ import annotations

import numpy as np
import pytest

from plateau_fakes import N_STEPS, add_adam_spikes, log_step, piecewise_log_loss, planted_run

from analyzer.errors import BadInputError
from analyzer.analyses.plateaus.loss_curve import LineSums
from analyzer.analyses.plateaus import PlateauParams, PlateauResult, detect_plateaus, edge_agreement

CHANGEPOINT_TOL_DECADES = 0.01  # refined at full resolution: within 2.3% of the planted step
GRADIENT_TOL_DECADES = 0.12  # the local slope window (0.2 decades) blurs a kink by up to half its width










def assert_edges_near(found, planted, tol_decades):
    found = np.asarray(found)
    assert len(found) == len(planted), f"found edges {found}, planted {planted}"
    distance = np.abs(log_step(found.astype(float)) - log_step(planted.astype(float)))
    one_step = np.abs(found - planted) <= 1  # early on one step is already several hundredths of a decade
    assert np.all((distance <= tol_decades) | one_step), f"found {found}, planted {planted}, distance {distance}"


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_planted_edges_found_and_spikes_ignored(seed):
    steps, loss, planted = planted_run(seed)
    result = detect_plateaus(steps, loss, PlateauParams())
    assert_edges_near(result.edge_steps("changepoint"), planted, CHANGEPOINT_TOL_DECADES)
    assert_edges_near(result.edge_steps("gradient"), planted, GRADIENT_TOL_DECADES)
    kinds = result.plateau_edges[result.plateau_edges.method == "changepoint"].sort_values("step").kind.tolist()
    assert kinds == ["start", "end", "start", "end"]
    plateaus = result.plateaus("changepoint")
    assert len(plateaus) == 2 and np.all(np.abs(plateaus.slope) < 0.05)
    assert result.agreement["matched"] == 4 and result.agreement["f1"] == 1.0


@pytest.mark.parametrize("seed", [3, 4, 5])
def test_spikes_on_a_flat_loss_are_not_edges(seed):
    rng = np.random.default_rng(seed)
    steps = np.arange(N_STEPS)
    y = add_adam_spikes(rng.normal(-1.0, 0.01, size=N_STEPS), rng, first_step=50, every=40)
    result = detect_plateaus(steps, 10.0 ** y, PlateauParams())
    # dense spikes (every ~40 steps, as in the wide preset) bias the running median locally, which may
    # cost a spurious cut, but the whole run stays one flat plateau: no edges
    assert len(result.change_points) <= 1
    assert len(result.plateau_edges) == 0 and result.segments.is_plateau.all()
    assert "no plateau edges found" in result.headline()


def test_late_plateau_edges_are_refined_to_full_resolution():
    """Edges at late steps, where a log-step bin is ~300 steps wide, still land within 1% of the truth."""
    steps = np.arange(20_000)
    knots = [0, 1000, 4000, 4400, 12000, 13000, 19_999]
    y = piecewise_log_loss(steps, knots, slopes=[-0.4, 0.0, -6.0, 0.0, -8.0, -0.3])  # 13000 is no plateau edge
    y += np.random.default_rng(4).normal(0.0, 0.005, size=len(steps))
    result = detect_plateaus(steps, 10.0 ** y, PlateauParams())
    planted = np.array([1000, 4000, 4400, 12000])
    found = result.edge_steps("changepoint")
    assert len(found) == len(planted), found
    assert np.all(np.abs(found - planted) <= 0.01 * planted), found


def test_short_late_plateaus_flat_relative_to_their_neighbours_are_found():
    """Plateaus of 0.1-0.2 decades with slopes -0.3/-0.4 between escapes of slope -4 (the diag-linear shape)."""
    steps = np.arange(3000)
    knots = [0, 80, 110, 180, 250, 370, 500, 800, 2999]
    y = piecewise_log_loss(steps, knots, slopes=[0.0, -2.5, -0.3, -4.0, -0.4, -4.0, -0.3, -8.0])
    y += np.random.default_rng(6).normal(0.0, 0.002, size=len(steps))
    result = detect_plateaus(steps, 10.0 ** y, PlateauParams())
    plateaus = result.plateaus("changepoint")
    assert len(plateaus) == 4, result.segments
    starts = plateaus.start_step.to_numpy()[1:]
    ends = plateaus.end_step.to_numpy() + 1
    assert np.all(np.abs(starts - [110, 250, 500]) <= 0.03 * np.array([110, 250, 500])), starts
    assert np.all(np.abs(ends - [80, 180, 370, 800]) <= 0.03 * np.array([80, 180, 370, 800])), ends


def test_a_power_law_is_no_plateau_even_where_it_slows_down():
    steps = np.arange(5000)
    y = piecewise_log_loss(steps, [0, 300, 4999], slopes=[-1.0, -0.6])  # gentler than before, but no plateau
    result = detect_plateaus(steps, 10.0 ** y, PlateauParams())
    assert len(result.plateaus("changepoint")) == 0 and len(result.edge_steps("changepoint")) == 0


def test_constant_loss_has_no_edges():
    steps = np.arange(500)
    result = detect_plateaus(steps, np.full(500, 0.25), PlateauParams())
    assert len(result.plateau_edges) == 0 and len(result.change_points) == 0
    assert result.headline().startswith("no plateau edges found")
    assert np.allclose(result.segments.slope, 0.0, atol=1e-12)


def test_nan_after_start_truncates_with_note():
    steps, loss, planted = planted_run(0)
    loss = loss.copy()
    loss[5000:] = np.nan
    result = detect_plateaus(steps, loss, PlateauParams())
    assert result.n_steps_used == 5000 and "step 5000" in result.note
    assert_edges_near(result.edge_steps("changepoint"), planted, CHANGEPOINT_TOL_DECADES)


@pytest.mark.parametrize("steps, loss", [
    (np.arange(0), np.zeros(0)),
    (np.arange(1), np.ones(1)),
    (np.arange(10), np.r_[np.nan, np.ones(9)]),
    (np.arange(10), np.r_[1.0, np.nan, np.ones(8)]),
])
def test_unusable_loss_is_bad_input(steps, loss):
    with pytest.raises(BadInputError):
        detect_plateaus(steps, loss, PlateauParams())


@pytest.mark.parametrize("option", [
    {"penalty": -1.0}, {"penalty": 0.0}, {"slope_threshold": -0.1}, {"min_duration": 0.0},
    {"window": 0}, {"window": 4}, {"window": -3}, {"slope_window": -1.0}, {"points_per_decade": 2},
    {"noise_floor": float("nan")}, {"tolerance": 0.0}, {"relative_slope": 0.0}, {"edges": "kinks"},
])
def test_options_out_of_range(option):
    with pytest.raises(BadInputError):
        PlateauParams(**option)


def test_line_sums_match_polyfit():
    rng = np.random.default_rng(5)
    x = np.sort(rng.uniform(0.0, 5.0, 400))
    y = rng.normal(size=400) + 0.3 * x
    sums = LineSums(x, y)
    for start, end in [(0, 400), (10, 13), (100, 350)]:
        coef, residual = np.polyfit(x[start:end], y[start:end], 1, full=True)[:2]
        sse, slope, mean = sums.fit(start, end)
        assert slope == pytest.approx(coef[0], rel=1e-9)
        assert sse == pytest.approx(float(residual[0]), rel=1e-8, abs=1e-10)
        assert mean == pytest.approx(y[start:end].mean(), rel=1e-12, abs=1e-12)


def test_edge_agreement_known_answer():
    agreement = edge_agreement(np.array([10, 100, 1000]), np.array([11, 2000]), tolerance_decades=0.1)
    assert agreement["matched"] == 1
    assert agreement["f1"] == pytest.approx(2 * 1 / 5)
    assert agreement["median_distance_steps"] == 1.0


def test_registered_compute_roundtrips_through_cache(small_run, tmp_path):
    from analyzer.core.runner import analyze

    cache = tmp_path / "c.analysis.h5"
    first = analyze(small_run, "plateaus", cache=cache)
    second = analyze(small_run, "plateaus", cache=cache)
    assert isinstance(second, PlateauResult)
    assert list(second.segments.columns) == ["method", "start_step", "end_step", "duration", "mean_log10_loss",
                                             "slope", "is_plateau"]
    assert second.segments.equals(first.segments) or np.allclose(second.segments.slope, first.segments.slope)
    assert np.array_equal(second.edge_steps("gradient"), first.edge_steps("gradient"))
    assert second.headline() == first.headline()


def test_cli_exit_codes(small_run):
    from typer.testing import CliRunner

    from analyzer.cli import app

    runner = CliRunner()
    ok = runner.invoke(app, ["plateaus", str(small_run), "--no-cache"])
    assert ok.exit_code == 0, ok.output
    assert "segments" in ok.output
    bad = runner.invoke(app, ["plateaus", str(small_run), "--penalty", "-1", "--no-cache"])
    assert bad.exit_code == 2 and "penalty" in bad.output
    as_json = runner.invoke(app, ["plateaus", str(small_run), "--json", "--no-cache"])
    import json

    payload = json.loads(as_json.stdout)
    assert {"segments", "plateau_edges", "change_points", "agreement", "loss_drops"} <= set(payload)
    corner = runner.invoke(app, ["plateaus", str(small_run), "--edges", "corner", "--no-cache"])
    assert corner.exit_code == 0, corner.output
    bad_mode = runner.invoke(app, ["plateaus", str(small_run), "--edges", "kink", "--no-cache"])
    assert bad_mode.exit_code == 2 and "edges must be one of" in bad_mode.output


def logistic_escapes(halves, widths, amps, n_steps=4000, floor=1e-3):
    """Loss sum_j a_j^2 (1 - r_j)^2 + floor of logistic escapes r_j with given midpoints and 10-90 % widths."""
    steps = np.arange(n_steps)
    r = 1.0 / (1.0 + np.exp(-(steps[:, None] - halves) * 2 * np.log(9) / widths))
    return steps, np.sum(amps ** 2 * (1.0 - r) ** 2, axis=1) + floor


@pytest.mark.parametrize("noise", [0.0, 0.002])
def test_logistic_edges_at_the_ten_and_ninety_percent_points_of_each_escape(noise):
    """Each plateau ends at the 10 % point of the next escape and the next starts at its 90 % point, within
    1 % of the plateau length (the corners of the line fit are further off); the drops' midpoints and widths
    are recovered. With noise: multiplicative 0.2 % white noise on the loss."""
    halves, widths, amps = np.array([300.0, 900.0, 2200.0]), np.array([60.0, 150.0, 300.0]), np.array([1.0, 0.6, 0.35])
    steps, loss = logistic_escapes(halves, widths, amps)
    loss = loss * np.exp(np.random.default_rng(0).normal(0.0, noise, loss.shape))
    onsets, finishes = halves - widths / 2, halves + widths / 2  # r = 0.1 and r = 0.9
    lengths = onsets - np.r_[0.0, finishes[:-1]]
    result = detect_plateaus(steps, loss, PlateauParams())
    found = result.plateaus("changepoint")
    assert len(found) == 4  # the last escape ends on the floor 1e-3, a fourth plateau
    ends, starts = found.end_step.to_numpy()[:3] + 1, found.start_step.to_numpy()[1:]
    assert np.all(np.abs(ends - onsets) <= 0.01 * lengths), (ends, onsets)
    assert np.all(np.abs(starts - finishes) <= 0.01 * np.r_[lengths[1:], len(steps) - finishes[-1]] + 1), (starts, finishes)
    drops = result.loss_drops
    assert drops.fitted.all() and len(drops) == 3
    np.testing.assert_allclose(drops.mid_step, halves, atol=1.0 + 200 * noise)
    np.testing.assert_allclose(drops.width_steps, widths, rtol=0.02 + 5 * noise)
    np.testing.assert_allclose(drops.level_after.iloc[-1], 1e-3, rtol=0.01 + 5 * noise)
    corners = detect_plateaus(steps, loss, PlateauParams(edges="corner")).plateaus("changepoint")
    corner_error = np.abs(corners.end_step.to_numpy()[:3] + 1 - onsets) / lengths
    assert len(corners) == 4 and np.median(corner_error) > 0.02


def test_a_power_law_drop_keeps_its_corners():
    """Between the planted plateaus the loss falls as a power law: lines fit it better than a logistic, so the
    edges stay at the kinks and the drop is reported as not fitted."""
    steps, loss, planted = planted_run(0, noise=0.0, spikes=False)
    result = detect_plateaus(steps, loss, PlateauParams())
    assert_edges_near(result.edge_steps("changepoint"), planted, CHANGEPOINT_TOL_DECADES)
    assert len(result.loss_drops) == 2 and not result.loss_drops.fitted.any()
    corners = detect_plateaus(steps, loss, PlateauParams(edges="corner"))
    np.testing.assert_array_equal(result.edge_steps("changepoint"), corners.edge_steps("changepoint"))
