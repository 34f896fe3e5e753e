"""The study's time-matched saddle control: the statistic by hand, false-positive rate without an effect, power with
one, tolerance sensitivity, Holm; the Hessian grid's checkpoints and per-checkpoint reuse."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from analyzer.analyses.hessian.saddle_control import cluster_bootstrap, grid_points, matched_difference, saddle_control

STEPS = np.array([0, 10, 20, 30, 60, 100, 180, 320, 560, 1000, 1780, 3000])


def fake_runs(rng, n_groups=2, n_runs=8, effect=0.0, run_sd=0.02, noise_sd=0.01):
    """Runs with a plateau [start, end] each, index fraction = trend + run effect + effect x in_plateau + noise."""
    runs, group_of = [], {}
    for g in range(n_groups):
        for r in range(n_runs):
            start, end = 0.0, float(rng.choice(STEPS[3:10]))
            second = float(rng.choice(STEPS[6:11]))
            spans = [(start, end)] + ([(second, 3000.0)] if second > end else [])
            inside = np.zeros(len(STEPS), dtype=bool)
            for a, b in spans:
                inside |= (STEPS >= a) & (STEPS <= b)
            trend = 0.1 - 0.01 * np.log10(STEPS + 1)
            value = trend + rng.normal(0, run_sd) + effect * inside + rng.normal(0, noise_sd, len(STEPS))
            grid = pd.DataFrame({"step": STEPS, "index_fraction": value, "lambda_min": -value,
                                 "index_fraction_tol_1e-08": value, "index_fraction_tol_1e-06": value,
                                 "index_fraction_tol_0.0001": value + 0.001})
            path = f"g{g}-r{r}"
            runs.append(SimpleNamespace(path=path, parts={"hessian": {"grid": grid}},
                                        plateaus=pd.DataFrame(spans, columns=["start_step", "end_step"])))
            group_of[path] = f"group{g}"
    return runs, group_of


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
    null_p = [cluster_bootstrap(grid_points(*fake_runs(rng)), "index_fraction", 300, i)["p_value"] for i in range(120)]
    assert np.mean(np.asarray(null_p) < 0.05) <= 0.10  # nominal 5 %; 120 studies: a binomial SE of 2 %
    rng = np.random.default_rng(2)
    hits = [cluster_bootstrap(grid_points(*fake_runs(rng, effect=0.02)), "index_fraction", 300, i)["p_value"] < 0.05
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
    assert saddle_control([SimpleNamespace(path="x", parts={}, plateaus=None)], {"x": "g"}) is None


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
                         "control_overlap_random": 0.3, "jump_freq": 1.0, "negative_freq": 1.0,
                         "freq_matches_jump": True})
    return pd.DataFrame(rows)


def test_pooled_escape_test_false_positive_rate_and_power():
    from analyzer.analyses.escape.pool import pooled_escapes

    rng = np.random.default_rng(4)
    null_p = [pooled_escapes(fake_escapes(rng), 300, i)["p_value"] for i in range(150)]
    assert np.mean(np.asarray(null_p) < 0.05) <= 0.10
    rng = np.random.default_rng(5)
    assert np.mean([pooled_escapes(fake_escapes(rng, effect=0.12), 300, i)["p_value"] < 0.05
                    for i in range(30)]) >= 0.8


def test_the_control_joins_the_family_and_decides_the_saddle_verdict():
    from analyzer.study.family import holm
    from analyzer.analyses.hessian.study_verdict import SADDLE_ROW, saddle_rows
    from analyzer.analyses.hessian.study_verdict import saddles as _saddles

    runs, group_of = fake_runs(np.random.default_rng(4), effect=0.03)
    control = saddle_control(runs, group_of, n_resamples=500)
    rows = saddle_rows(control)
    assert [r["name"] for r in rows][0] == SADDLE_ROW and not any(r["primary"] for r in rows)
    assert rows[0]["effect"] == pytest.approx(control["difference"])
    hessian_free = [SimpleNamespace(parts={})]
    # adjusted within a large family the same effect can fail: the verdict reads the family's adjusted p
    row = dict(rows[0], p_adjusted=holm([rows[0]["p_value"]] + [0.5] * 3)[0])
    assert _saddles(hessian_free, control, row)["verdict"] == "holds"
    assert _saddles(hessian_free, control, dict(row, p_adjusted=0.2))["verdict"] == "not shown"
    assert _saddles(hessian_free, dict(control, stable_across_tolerances=False), row)["verdict"] == "fragile"
    assert _saddles(hessian_free, None, None)["verdict"] == "untested"
    assert saddle_rows(None) == []


def test_uncertified_grid_points_are_left_out():
    runs, group_of = fake_runs(np.random.default_rng(5))
    grid = runs[0].parts["hessian"]["grid"]
    runs[0].parts["hessian"]["grid"] = grid.assign(index_kind="bracket")
    points = grid_points(runs, group_of)
    assert points[points.run == runs[0].path].index_fraction.isna().all()
    assert points[points.run != runs[0].path].index_fraction.notna().all()


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
    assert {j.name for j in collect.study_jobs(["seed.h5"], SimpleNamespace(hessian=False))} == {"plateaus", "spectrum"}


def test_escape_pool_joins_the_family_and_a_null_saddle_difference_is_not_shown():
    from analyzer.analyses.escape.study import ESCAPE_ROW, escape_rows
    from analyzer.analyses.hessian.study_verdict import saddles as _saddles

    pool = {"difference": {"mean": 0.09, "ci_low": 0.03, "ci_high": 0.18}, "p_value": 0.03, "n_runs": 17,
            "overlap_negative": {"mean": 0.5}, "control_overlap_negative": {"mean": 0.41}}
    (row,) = escape_rows(pool)
    assert row["name"] == ESCAPE_ROW and row["effect"] == 0.09 and not row["primary"]
    assert escape_rows(None) == []
    control = {"plateau": 0.0269, "control": 0.0270, "difference": -7e-5, "ci_low": -0.0013, "ci_high": 0.0014,
               "p_value": 0.9, "stable_across_tolerances": True}
    hessian_free = [SimpleNamespace(parts={})]
    assert _saddles(hessian_free, control, {"p_adjusted": 1.0})["verdict"] == "not shown"
    assert _saddles(hessian_free, dict(control, difference=-0.01), {"p_adjusted": 0.01})["verdict"] == "does not hold"
