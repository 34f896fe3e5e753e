"""The escape's control displacement, like for like: control selection on planted loss curves (a loss drop of matched
size and span when the run has one, and the kind of match it says), overlaps in units of chance on planted Hessians
(the normalisation removes a difference of negative-eigenspace dimension and keeps a planted preference), and the
pooled paired test and frequency-match null of the escape-directions claim."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from analyzer.analyses.escape.control import LOSS_MATCHED, Candidate, Stretches, closest_index, free_runs, spread_starts
from analyzer.analyses.escape.eigensystem import Eigensystem, overlaps
from analyzer.analyses.escape.windows import escape_windows
from analyzer.analyses.plateaus.loss_drops import loss_drops_frame
from analyzer.analyses.plateaus.result import SEGMENT_COLUMNS, PlateauResult
from analyzer.study.claims.escape_pool import frequency_match_null, pooled_escapes

STEPS = np.arange(0, 10_001, 10)
FACTOR = 1.25


def planted_run(descent: float, first_plateau: tuple = (310, 2009), flat: bool = False):
    """(plateaus, log10 loss at STEPS): a descent -descent x log10(step + 1) up to step 300 (a non-plateau stretch
    unless `first_plateau` covers it), a plateau, a drop of one decade over [2010, 3000], a last plateau. The
    escape: plateau middle 1160 -> 3000, a loss drop of 1.0 decade over log10(3001 / 1161) = 0.41 decades."""
    log_loss = -descent * np.log10(np.minimum(STEPS, 300) + 1.0)
    if not flat:  # plateaus that still fall a little (0.01 decade per decade of steps)
        log_loss = log_loss - 0.01 * np.log10(STEPS + 1.0)
    log_loss = log_loss - np.clip((STEPS - 2000) / 1000, 0, 1)
    segments = [(0, first_plateau[0] - 1, False), (*first_plateau, True), (2010, 3009, False), (3010, 10_000, True)]
    segments = [s for s in segments if s[1] >= s[0]]
    frame = pd.DataFrame([{"method": "changepoint", "start_step": a, "end_step": b, "duration": b - a + 1,
                           "mean_log10_loss": 0.0, "slope": 0.0, "is_plateau": p} for a, b, p in segments],
                         columns=SEGMENT_COLUMNS)
    drops = loss_drops_frame([{"end_step": 2010.0, "mid_step": 2500.0, "start_step": 3010.0, "width_steps": 1000.0,
                               "level_before": 1.0, "level_after": 0.1, "fitted": True}])
    plateaus = PlateauResult(segments=frame, plateau_edges=pd.DataFrame(columns=["method", "step", "kind"]),
                             change_points=np.zeros(0), loss_drops=drops)
    return plateaus, log_loss


def control_of(descent: float, **kwargs):
    """(kind, best candidate, the escape's measures, Stretches) for planted_run(descent)."""
    plateaus, log_loss = planted_run(descent, **kwargs)
    (window,) = escape_windows(plateaus, STEPS)
    stretches = Stretches(STEPS, log_loss, plateaus, [window])
    escape = stretches.measures(window.plateau_step, window.after_step)
    kind, candidates = stretches.candidates(escape["loss_drop_decades"], escape["span_decades"], FACTOR)
    return kind, (candidates[0] if candidates else None), escape, stretches


def test_a_run_with_a_matching_loss_drop_gets_it_and_says_so():
    """Descent 2.43 decades per decade: 1.0 decade of loss in 0.41 decades of steps lies before the plateau."""
    kind, best, escape, stretches = control_of(2.43)
    assert escape == pytest.approx({"loss_drop_decades": 1.0, "span_decades": np.log10(3001 / 1161)}, abs=0.02)
    assert kind == "drop+span" and kind in LOSS_MATCHED
    assert 0 <= best.start < best.end <= 300  # the non-plateau descent, nowhere else
    measured = stretches.measures(best.start, best.end)
    assert measured["loss_drop_decades"] == pytest.approx(best.loss_drop)
    assert abs(np.log(best.loss_drop / escape["loss_drop_decades"])) <= np.log(FACTOR)
    assert abs(np.log(best.span / escape["span_decades"])) <= np.log(FACTOR)


def test_matching_drop_over_another_span_is_a_drop_match():
    """Descent 1 decade per decade: a one-decade drop takes a decade of steps, not 0.41: the drop matches only."""
    kind, best, escape, _ = control_of(1.0)
    assert kind == "drop" and best.end <= 300
    assert abs(np.log(best.loss_drop / escape["loss_drop_decades"])) <= np.log(FACTOR)
    assert abs(np.log(best.span / escape["span_decades"])) > np.log(FACTOR)


def test_without_a_matching_drop_the_kind_says_so():
    """A shallow descent (at most 0.75 decades) has no drop of the escape's size: unmatched, not loss-matched; with
    no free stretch the control may lie in a plateau; with a flat loss there is none at all."""
    kind, best, escape, _ = control_of(0.3)
    assert kind == "unmatched" and kind not in LOSS_MATCHED and best.end <= 300
    assert best.loss_drop < escape["loss_drop_decades"] / FACTOR
    kind, best, _, _ = control_of(2.43, first_plateau=(0, 2009))  # the escape: 1000 -> 3000
    assert kind == "plateau" and kind not in LOSS_MATCHED
    assert best.end < 1000 or best.start > 3000  # never touches the escape or the drop
    assert control_of(0.0, first_plateau=(0, 2009), flat=True)[:2] == ("none", None)


def test_free_runs_skip_blocked_intervals_between_checkpoints():
    steps = np.array([0, 10, 20, 30, 40, 50])
    runs = free_runs(steps, [(22.0, 25.0)])  # blocks nothing stored, but the stretch between 20 and 30
    assert [list(steps[r]) for r in runs] == [[0, 10, 20], [30, 40, 50]]
    assert [list(steps[r]) for r in free_runs(steps, [(10.0, 10.0), (40.0, 50.0)])] == [[20, 30]]


def test_candidate_starts_are_spread_in_log_step():
    kind, _, escape, stretches = control_of(2.43)
    _, candidates = stretches.candidates(escape["loss_drop_decades"], escape["span_decades"], FACTOR)
    chosen = spread_starts(candidates, 3)
    assert len(chosen) == 3 and chosen[0] == candidates[0]
    starts = np.log10([c.start + 1 for c in chosen])
    assert np.min(np.abs(starts[:, None] - starts[None, :]) + np.eye(3)) >= 0.05


BASIS, _ = np.linalg.qr(np.random.default_rng(99).standard_normal((200, 200)))


def test_the_control_start_of_closest_index_wins_and_ties_go_to_the_better_match():
    options = [(Candidate(0, 10, 1.0, 1.0, score), {"n_negative": n}) for score, n in
               ((0.01, 30), (0.2, 12), (0.1, 8), (0.05, 5))]
    assert closest_index(options, 10)[0].score == 0.1  # 12 and 8 are both 2 away: 8 has the better match
    assert closest_index(options, 13)[1]["n_negative"] == 12
    assert closest_index(options, 40)[1]["n_negative"] == 30


def planted_system(rng, n_negative: int, rank: int = 150) -> Eigensystem:
    """A Hessian of 200 parameters with n_negative negative eigenvalues, rank - n_negative positive ones, the rest
    zero, on a fixed random orthonormal basis (the displacements are random: rotating the basis too would change
    nothing)."""
    values = np.concatenate([-rng.uniform(0.1, 1.0, n_negative), rng.uniform(0.1, 5.0, rank - n_negative),
                             np.zeros(len(BASIS) - rank)])
    order = np.argsort(values)
    return Eigensystem(values[order], BASIS[:, order], len(BASIS), 0.0, "dense", 0)


def planted_displacement(rng, system: Eigensystem, along_negative: float) -> np.ndarray:
    """A displacement with about `along_negative` of its squared norm in the negative eigenspace and the rest
    isotropic in the range (0: a random direction in the range)."""
    negative, in_range = system.values < 0, system.values != 0
    unit = lambda v: v / np.linalg.norm(v)  # noqa: E731
    part = unit(system.vectors[:, negative] @ rng.standard_normal(int(negative.sum())))
    rest = unit(system.vectors[:, in_range] @ rng.standard_normal(int(in_range.sum())))
    return np.sqrt(along_negative) * part + np.sqrt(1 - along_negative) * rest


def planted_escapes(rng, n_runs: int, escape_along: float, n_escape: int, n_control: int) -> pd.DataFrame:
    """Escapes whose displacement puts `escape_along` in the negative eigenspace of a Hessian with n_escape negative
    eigenvalues; controls isotropic in the range of one with n_control (both of rank 150), 1-2 escapes per run."""
    rows = []
    for r in range(n_runs):
        for _ in range(int(rng.integers(1, 3))):
            at_escape, at_control = planted_system(rng, n_escape), planted_system(rng, n_control)
            escape = overlaps(at_escape, planted_displacement(rng, at_escape, escape_along), 1e-6)
            control = overlaps(at_control, planted_displacement(rng, at_control, 0.0), 1e-6)
            rows.append({"run": f"r{r}", "group": "g", **escape, **{f"control_{k}": v for k, v in control.items()},
                         "control_kind": "drop+span", "jump_freq": np.nan, "negative_freq": 1.0,
                         "freq_matches_jump": False})
    return pd.DataFrame(rows)


def test_normalised_overlap_is_one_for_a_random_direction_whatever_the_dimension():
    rng = np.random.default_rng(0)
    for n_negative in (5, 60):
        system = planted_system(rng, n_negative)
        norms = [overlaps(system, planted_displacement(rng, system, 0.0), 1e-6)["overlap_negative_norm"]
                 for _ in range(400)]
        assert np.mean(norms) == pytest.approx(1.0, abs=4 * np.std(norms) / np.sqrt(len(norms)))


def test_alike_displacements_differ_raw_but_not_normalised():
    """Escape and control both isotropic in the range, against Hessians with 10 and 60 negative eigenvalues of 150:
    the raw overlaps differ (about 0.07 vs 0.4) only through the dimension; the normalised difference is ~0 (within
    its sampling error: 0 within 3 standard errors)."""
    pool = pooled_escapes(planted_escapes(np.random.default_rng(0), 30, 0.0, 10, 60), 1000, 0)
    assert pool["difference_raw"]["mean"] < -0.25 and pool["difference_raw"]["ci_high"] < 0
    difference = pool["difference"]
    standard_error = (difference["ci_high"] - difference["ci_low"]) / (2 * 1.96)
    assert abs(difference["mean"]) < min(0.2, 3 * standard_error)  # no dimension effect left (means of ~1 each)
    assert pool["overlap_negative_norm"]["mean"] == pytest.approx(1.0, abs=0.2)
    assert pool["control_overlap_negative_norm"]["mean"] == pytest.approx(1.0, abs=0.2)


def test_a_planted_escape_along_negative_curvature_is_found_where_raw_overlaps_point_the_other_way():
    """The escape puts half its norm in a 10-dimensional negative eigenspace (raw ~0.53, ~8x chance), the control is
    a random direction against a Hessian with 120 negative eigenvalues (raw ~0.8, 1x chance)."""
    pool = pooled_escapes(planted_escapes(np.random.default_rng(2), 12, 0.5, 10, 120), 1000, 0)
    assert pool["difference_raw"]["mean"] < 0  # the raw fractions alone would say the opposite
    assert pool["difference"]["mean"] > 5 and pool["difference"]["ci_low"] > 0 and pool["p_value"] < 0.01
    assert pool["n_tested"] == pool["n_escapes"] and pool["control_kinds"] == {"drop+span": pool["n_escapes"]}


def test_pooled_test_false_positive_rate_and_too_few_runs():
    rng = np.random.default_rng(3)
    p_values = [pooled_escapes(planted_escapes(rng, 10, 0.0, 10, 60), 300, i)["p_value"] for i in range(100)]
    assert np.mean(np.asarray(p_values) < 0.05) <= 0.10  # nominal 5 %; 100 studies: a binomial SE of 2 %
    few = pooled_escapes(planted_escapes(np.random.default_rng(4), 3, 0.5, 10, 60), 300, 0)
    assert few["p_value"] is None and few["difference"]["ci_low"] is None  # three runs: no bootstrap test


def test_only_loss_matched_controls_are_tested():
    escapes = planted_escapes(np.random.default_rng(5), 8, 0.5, 10, 60)
    escapes.loc[escapes.index[:4], "control_kind"] = ["drop", "unmatched", "plateau", "none"]
    pool = pooled_escapes(escapes, 200, 0)
    assert pool["n_tested"] == len(escapes) - 3 and pool["n_escapes"] == len(escapes)
    assert pool["control_kinds"]["drop+span"] == len(escapes) - 4
    none = pooled_escapes(escapes.assign(control_kind="unmatched"), 200, 0)
    assert none["n_tested"] == 0 and none["p_value"] is None and none["difference"] is None


def test_frequency_match_chance_is_the_permutation_expectation():
    known = pd.DataFrame({"negative_freq": [1.0, 1.0, 3.0, 7.0], "jump_freq": [1.0, 3.0, 3.0, 1.0]})
    # escape i matches a permuted jump with probability (number of jumps at its negative frequency) / 4
    chance, p_value = frequency_match_null(known, 20_000, 0)
    assert chance == pytest.approx((2 + 2 + 2 + 0) / 4, abs=0.03)
    planted = pd.DataFrame({"negative_freq": np.tile([1.0, 3.0, 7.0, 15.0], 4)}).assign(
        jump_freq=lambda f: f.negative_freq)
    chance, p_value = frequency_match_null(planted, 2000, 0)
    assert chance == pytest.approx(4.0, abs=0.2) and p_value < 0.01
