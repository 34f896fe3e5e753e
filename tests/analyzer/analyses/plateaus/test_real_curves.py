"""Plateaus and learning order on curves like real, noisy runs (issue 24): bounded plateau slopes, merged flat
segments, an F-Principle-style minibatch loss, re-crossings of the learned threshold, sparse prediction steps."""

from __future__ import annotations

import numpy as np
import pytest

from analyzer.analyses.plateaus import detect_plateaus
from analyzer.analyses.plateaus.changepoints import MAX_RELATIVE_SLOPE, flat_segments, merge_plateau_runs
from analyzer.analyses.plateaus.params import PlateauParams
from analyzer.analyses.spectrum.learning import jump_grid, learning_tables, recrossings
from analyzer.analyses.spectrum.params import SpectrumParams
from analyzer.analyses.spectrum.result import SpectrumResult


def test_a_steep_segment_beside_a_rise_is_no_plateau():
    params = PlateauParams()
    # the case: -5.02 between a rise of +21.9 and a fall; relative 0.25 x 21.9 would have called it flat
    flags = flat_segments(np.array([-30.0, 21.9, -5.02, -40.0]), params)
    assert not flags[2]
    flags = flat_segments(np.array([-30.0, -5.02, -40.0]), params)  # falling both sides, but |slope| > 1
    assert not flags[1] and MAX_RELATIVE_SLOPE < 5.02
    flags = flat_segments(np.array([-8.0, -0.4, -12.0]), params)  # a late plateau between two escapes stays flat
    assert flags[1]


def test_adjacent_plateau_segments_merge():
    bounds, flags = merge_plateau_runs([0, 9, 59, 120, 200], np.array([True, True, False, True]))
    assert bounds == [0, 59, 120, 200] and flags.tolist() == [True, False, True]


def fprinciple_loss(seed: int = 0, steps: int = 5000) -> tuple[np.ndarray, np.ndarray]:
    """A minibatch loss shaped like the F-Principle runs: a flat start, a drop over ~2 decades of loss, a slow
    power-law tail, multiplicative minibatch noise (~15 %) and a few upward Adam spikes."""
    rng = np.random.default_rng(seed)
    t = np.arange(steps, dtype=np.float64)
    clean = 0.01 + 18.0 / (1.0 + (t / 300.0) ** 3) + 0.4 * (t + 1) ** -0.3
    noisy = clean * np.exp(0.15 * rng.standard_normal(steps))
    spikes = rng.choice(steps, 20, replace=False)
    noisy[spikes] *= 5.0
    return t.astype(np.int64), noisy


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_an_fprinciple_style_minibatch_curve(seed):
    steps, loss = fprinciple_loss(seed)
    result = detect_plateaus(steps, loss)
    plateaus = result.plateaus("changepoint")
    assert len(plateaus) >= 1 and plateaus.start_step.iloc[0] == 0  # the flat start
    assert np.all(np.abs(plateaus.slope) <= MAX_RELATIVE_SLOPE)
    cp = result.segments[result.segments.method == "changepoint"].is_plateau.to_numpy(bool)
    assert not np.any(cp[1:] & cp[:-1])  # never two plateau rows side by side
    # one drop after the flat start; a sigmoid running into a power-law tail is no logistic between two plateaus,
    # so its edge is the corner of the lines (early, before the clean curve's 10 % point at ~145) and its
    # midpoint the first step half way down in log10 loss: the clean curve's is at ~420
    assert len(result.loss_drops) == 1 and 30 <= int(plateaus.end_step.iloc[0]) <= 300
    assert 300 <= result.loss_drop_steps()[0] <= 600


def test_headline_orders_by_first_reached_and_counts_recrossings():
    """Low frequency reached first but noisy (re-crosses until late): the headline must not reverse the order."""
    steps = np.arange(0, 4000, 10)
    rel = np.ones((len(steps), 3))
    rel[steps >= 60, 0] = 0.05
    rel[(steps >= 60) & (steps < 3970) & (steps % 200 == 0), 0] = 0.3  # 19 re-crossings, below for good at 3970
    rel[steps >= 660, 1] = 0.05
    rel[(steps >= 660) & (steps < 3650) & (steps % 400 == 0), 1] = 0.3
    rel[steps >= 1720, 2] = 0.05
    params = SpectrumParams(spike_window=1)
    labels = np.array([0.159, 0.477, 0.795])
    learning, jumps = learning_tables(steps, rel, labels, params)
    np.testing.assert_array_equal(learning.first_below_step, [60, 660, 1720])
    np.testing.assert_array_equal(learning.recrossings, [19, 8, 0])  # spikes at 200..3800 and 800..3600
    learning.insert(1, "target_amplitude", 1.0)
    result = SpectrumResult(steps=steps, modes=labels, target_modes=labels, target_amplitude=np.ones(3),
                            pred_amplitude=np.ones((len(steps), 3)), rel_error=rel, learning=learning, jumps=jumps,
                            threshold=0.1)
    headline = result.headline()
    assert headline.index("0.159 Hz at step 60") < headline.index("0.477 Hz at step 660") < \
        headline.index("0.795 Hz at step 1720")
    assert "in order, low to high" in headline and "below for good from step 3810" in headline
    assert list(result.learning_display().columns[:3]) == ["freq_hz", "first_below_step", "recrossings"]
    reversed_rel = rel[:, ::-1]
    learning, jumps = learning_tables(steps, reversed_rel, labels, params)
    reversed_result = SpectrumResult(steps=steps, modes=labels, target_modes=labels,
                                     target_amplitude=np.ones(3), pred_amplitude=np.ones((len(steps), 3)),
                                     rel_error=reversed_rel, learning=learning, jumps=jumps, threshold=0.1)
    assert "not in order: 0.477 Hz before 0.159 Hz" in reversed_result.headline()


def test_recrossings_count_returns_above_the_threshold():
    rel = np.array([[1.0], [0.05], [0.2], [0.05], [0.2], [0.05]])
    assert recrossings(rel, 0.1).tolist() == [2]
    assert recrossings(np.ones((4, 1)), 0.1).tolist() == [0]


@pytest.mark.parametrize("every, coarser", [(1, False), (10, False), (20, True), (40, True)])
def test_jump_grid_coarsens_for_sparse_predictions(every, coarser):
    params = SpectrumParams()
    steps = np.arange(0, 401, every)
    points = jump_grid(steps, params)
    assert (points < params.points_per_decade) == coarser
    assert points * params.window_decades >= 2  # the jump window still spans two grid points


def test_jump_grid_refuses_what_even_the_coarsest_grid_cannot_fill():
    from analyzer.analyses.spectrum.learning import log_step_curves
    from analyzer.errors import BadInputError

    steps = np.array([0, 1000, 2000, 3000, 4000])
    with pytest.raises(BadInputError, match="too sparsely"):
        log_step_curves(steps, np.ones((5, 1)), jump_grid(steps, SpectrumParams()))


@pytest.mark.parametrize("noise", [0.0, 0.3])
def test_logistic_drops_are_fitted_on_a_noisy_minibatch_loss(noise):
    """Two saddle escapes (midpoints 300 and 3000) under 30 % multiplicative minibatch noise: Pelt cuts the drops
    into more lines that fit the noise, but the logistic still wins by BIC and finds the midpoints."""
    t = np.arange(20000.0)

    def unlearned(mid, kappa):
        return 1.0 - 1.0 / (1.0 + np.exp(-kappa * (t - mid)))

    clean = unlearned(300, 0.03) ** 2 + 0.05 * unlearned(3000, 0.004) ** 2 + 0.001
    loss = clean * np.exp(noise * np.random.default_rng(0).standard_normal(len(t)))
    drops = detect_plateaus(t.astype(np.int64), loss).loss_drops
    assert drops.fitted.all() and len(drops) == 2
    np.testing.assert_allclose(drops.mid_step, [300, 3000], rtol=0.03)
