"""The saddle claim's controls: the statistic by hand, false-positive rate without an effect, power with one, the
loss-matched control against a loss-level confound, tolerance sensitivity, uncertified points counted; the escape
pool; the Hessian grid's checkpoints."""

from __future__ import annotations

import dataclasses
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from study_fakes import curvature

from analyzer.study.claims.saddle_control import bootstrap_difference, grid_points, matched_difference, saddle_control
from analyzer.study.claims.saddles import LOSS_ROW, TIME_ROW, saddle_verdict
from analyzer.stats import TestRow

STEPS = np.array([0, 10, 20, 30, 60, 100, 180, 320, 560, 1000, 1780, 3000])


def fake_runs(rng, n_groups=2, n_runs=8, effect=0.0, run_sd=0.02, noise_sd=0.01, loss_effect=0.0):
    """(run, Curvature) pairs with a plateau [start, end] each: index fraction = trend + run effect + effect x
    in_plateau + loss_effect x log10(loss) + noise; a plateau holds the loss about a decade higher than outside it
    (log10 loss ~ N(-0.5, 0.4) inside, N(-1.5, 0.4) outside: the two overlap, so loss-matched strata exist)."""
    extracts, group_of = [], {}
    for g in range(n_groups):
        for r in range(n_runs):
            start, end = 0.0, float(rng.choice(STEPS[3:10]))
            second = float(rng.choice(STEPS[6:11]))
            spans = [(start, end)] + ([(second, 3000.0)] if second > end else [])
            inside = np.zeros(len(STEPS), dtype=bool)
            for a, b in spans:
                inside |= (STEPS >= a) & (STEPS <= b)
            log_loss = np.where(inside, -0.5, -1.5) + rng.normal(0, 0.4, len(STEPS))
            trend = 0.1 - 0.01 * np.log10(STEPS + 1)
            value = trend + rng.normal(0, run_sd) + effect * inside + loss_effect * log_loss \
                + rng.normal(0, noise_sd, len(STEPS))
            grid = pd.DataFrame({"step": STEPS, "index_fraction": value, "lambda_min": -value,
                                 "index_fraction_tol_1e-08": value, "index_fraction_tol_1e-06": value,
                                 "index_fraction_tol_0.0001": value + 0.001})
            path = f"g{g}-r{r}"
            plateaus = pd.DataFrame(spans, columns=["start_step", "end_step"])
            run = SimpleNamespace(path=path)
            extracts.append((run, dataclasses.replace(curvature(grid, None, plateaus), loss_steps=STEPS.astype(float),
                                                      loss=10 ** log_loss)))
            group_of[path] = f"group{g}"
    return extracts, group_of


def test_matched_difference_by_hand():
    points = pd.DataFrame({"group": ["a"] * 5, "run": ["r1", "r2", "r3", "r1", "r2"], "step": [10, 10, 10, 20, 20],
                           "in_plateau": [True, False, False, True, True], "v": [3.0, 1.0, 2.0, 9.0, 9.0]})
    plateau, control, difference, strata = matched_difference(points, "v")
    # only step 10 has both sides: plateau mean 3, control mean 1.5 (step 20 is plateau-only and does not enter)
    assert (plateau, control, difference, strata) == (3.0, 1.5, 1.5, 1)
    two = pd.concat([points, pd.DataFrame({"group": ["b"] * 3, "run": ["s1", "s2", "s3"], "step": [10] * 3,
                                           "in_plateau": [True, True, False], "v": [5.0, 7.0, 0.0]})])
    # weights n_p n_c / (n_p + n_c): a at 10 -> 1 * 2 / 3, b at 10 -> 2 * 1 / 3; equal here
    assert matched_difference(two, "v")[2] == pytest.approx((1.5 + 6.0) / 2)


def test_no_effect_false_positive_rate_and_effect_power():
    rng = np.random.default_rng(1)
    null_p = [bootstrap_difference(grid_points(*fake_runs(rng)), "index_fraction", 300, i)["p_value"] for i in range(120)]
    assert np.mean(np.asarray(null_p) < 0.05) <= 0.10  # nominal 5 %; 120 studies: a binomial SE of 2 %
    rng = np.random.default_rng(2)
    hits = [bootstrap_difference(grid_points(*fake_runs(rng, effect=0.02)), "index_fraction", 300, i)["p_value"] < 0.05
            for i in range(30)]
    assert np.mean(hits) >= 0.8


def test_saddle_control_keys_sensitivity_and_ci_covers_effect():
    runs, group_of = fake_runs(np.random.default_rng(3), effect=0.03)
    control = saddle_control(runs, group_of, n_resamples=500)
    for key in ("plateau", "control", "difference", "ci_low", "ci_high", "p_value"):
        assert np.isfinite(control[key])
    assert control["ci_low"] < 0.03 < control["ci_high"] and control["p_value"] < 0.05
    assert [t["index_tol"] for t in control["by_tolerance"]] == [1e-8, 1e-6, 1e-4]
    assert control["stable_across_tolerances"]
    assert control["uncertified_left_out"] == {"plateau": 0, "control": 0}
    assert saddle_control([], {}) is None


def test_the_loss_matched_control_separates_a_plateau_from_a_higher_loss():
    """Curvature that follows the loss level only: the time-matched control sees a plateau effect (plateau points sit
    at a higher loss), the loss-matched one does not; a real plateau effect survives both."""
    confounded, group_of = fake_runs(np.random.default_rng(7), n_runs=12, loss_effect=0.05)
    control = saddle_control(confounded, group_of, n_resamples=500)
    assert control["p_value"] < 0.05 and control["difference"] > 0.035  # about 0.05 x one decade of loss
    loss = control["loss_matched"]
    assert loss["n_strata"] >= 3 and abs(loss["difference"]) < control["difference"] / 2  # half-decade bins
    real, group_of = fake_runs(np.random.default_rng(8), n_runs=12, effect=0.03)
    both = saddle_control(real, group_of, n_resamples=500)
    assert both["p_value"] < 0.05 and both["loss_matched"]["p_value"] < 0.05
    assert both["loss_matched"]["difference"] == pytest.approx(0.03, abs=0.01)


def test_grid_steps_are_log_spaced_and_snap_to_stored():
    from analyzer.analyses.hessian.checkpoints import grid_steps

    assert grid_steps(10_000, 4) == [0, 1, 2, 3, 6, 10, 18, 32, 56, 100, 178, 316, 562, 1000, 1778, 3162, 5623, 10000]
    assert grid_steps(0, 4) == [0]
    assert grid_steps(3000, 1) == [0, 1, 10, 100, 1000, 3000]


def fake_escapes(rng, effect=0.0, n_runs=12):
    """Escapes whose escape and control overlaps come from one distribution (+ effect for the escapes)."""
    rows = []
    for r in range(n_runs):
        run_level = rng.uniform(0.2, 0.8)
        for _ in range(int(rng.integers(1, 3))):
            control = np.clip(run_level + rng.normal(0, 0.1), 0, 1)
            escape = np.clip(run_level + effect + rng.normal(0, 0.1), 0, 1)
            rows.append({"run": f"r{r}", "group": "g", "overlap_negative": escape, "control_overlap_negative": control,
                         "overlap_top": 0.1, "control_overlap_top": 0.1, "overlap_random": 0.3,
                         "control_overlap_random": 0.3, "overlap_negative_norm": escape / 0.3,
                         "control_overlap_negative_norm": control / 0.3, "overlap_top_norm": 0.1 / 0.3,
                         "control_overlap_top_norm": 0.1 / 0.3, "control_kind": "drop+span", "jump_freq": 1.0,
                         "negative_freq": 1.0, "freq_matches_jump": True})
    return pd.DataFrame(rows)


def test_pooled_escape_test_false_positive_rate_and_power():
    from analyzer.study.claims.escape_pool import pooled_escapes

    rng = np.random.default_rng(4)
    null_p = [pooled_escapes(fake_escapes(rng), 300, i)["p_value"] for i in range(150)]
    assert np.mean(np.asarray(null_p) < 0.05) <= 0.10
    rng = np.random.default_rng(5)
    assert np.mean([pooled_escapes(fake_escapes(rng, effect=0.12), 300, i)["p_value"] < 0.05
                    for i in range(30)]) >= 0.8
    few = pooled_escapes(fake_escapes(np.random.default_rng(6), effect=0.3, n_runs=3), 300, 0)
    assert few["p_value"] is None and few["difference"]["ci_low"] is None  # three runs: no bootstrap test


def _row(name: str, p_adjusted: float, effect: float) -> TestRow:
    return TestRow(name=name, claim="saddles", reference="r", null="n", p_value=p_adjusted, effect=effect,
                   p_adjusted=p_adjusted)


def test_the_saddle_verdict_follows_its_rule():
    extracts, group_of = fake_runs(np.random.default_rng(4), effect=0.03)
    control = saddle_control(extracts, group_of, n_resamples=500)
    time_row, loss_row = _row(TIME_ROW, 0.01, 0.03), _row(LOSS_ROW, 0.02, 0.03)
    assert saddle_verdict(time_row, loss_row, control) == "holds"
    assert saddle_verdict(time_row, _row(LOSS_ROW, 0.3, 0.01), control) == "fragile"
    assert saddle_verdict(_row(TIME_ROW, 0.2, 0.03), loss_row, control) == "not shown"
    assert saddle_verdict(_row(TIME_ROW, 0.01, -0.03), loss_row, control) == "does not hold"
    assert saddle_verdict(None, None, control) == "untested"
    # the tolerances disagree in either direction: tolerance-dependent, whatever the main reading
    for reading in ("none", "lower", "higher"):
        changed = dict(control, readings={"1e-08": reading, "1e-06": "higher", "0.0001": "higher"})
        changed["stable_across_tolerances"] = reading == "higher"
        expected = "holds" if reading == "higher" else "tolerance-dependent"
        assert saddle_verdict(time_row, loss_row, changed) == expected
    weak = dict(control, stable_across_tolerances=False)
    assert saddle_verdict(_row(TIME_ROW, 0.3, 0.0), loss_row, weak) == "tolerance-dependent"


def test_uncertified_grid_points_are_left_out_and_counted():
    extracts, group_of = fake_runs(np.random.default_rng(5))
    run, first = extracts[0]
    extracts[0] = (run, dataclasses.replace(first, grid=first.grid.assign(index_kind="bracket")))
    points = grid_points(extracts, group_of)
    assert points[points.run == run.path].index_fraction.isna().all()
    assert points[points.run != run.path].index_fraction.notna().all()
    left = saddle_control(extracts, group_of, n_resamples=100)["uncertified_left_out"]
    inside = points[points.run == run.path].in_plateau
    assert left == {"plateau": int(inside.sum()), "control": int((~inside).sum())}


def test_replicates_get_no_curvature_jobs():
    """A replicate's curvature jobs are there but never run (Job.only_if); without the Hessian there are none."""
    from analyzer.study import collect

    configs = {"seed.h5": {"perturb": 0.0}, "rep.h5": {"perturb": 1e-7}}
    jobs = collect.study_jobs(list(configs), SimpleNamespace(hessian=True))
    done = {path: {j.name for j in jobs if j.path == path
                   and (j.only_if is None or j.only_if(SimpleNamespace(config=configs[path])))} for path in configs}
    assert done["seed.h5"] >= {"plateaus", "spectrum", "hessian", "escape"}
    assert done["rep.h5"] == {"plateaus", "spectrum"}
    assert any(j.overrides.get("at") == "grid" for j in jobs if j.path == "seed.h5")
    plain = SimpleNamespace(config={"perturb": 0.0})  # an Alvarez & Choe run: the theory claims' jobs skip it
    assert {j.name for j in collect.study_jobs(["seed.h5"], SimpleNamespace(hessian=False))
            if j.only_if is None or j.only_if(plain)} == {"plateaus", "spectrum"}
