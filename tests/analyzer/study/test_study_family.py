"""The study's test family: Holm, the run bootstrap of effects, the primary test, verdict rules, bad input; and
the amplitude grid of `train sweep`."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from study_fakes import summary as _summary

from analyzer.study.build import build_study
from analyzer.study.collect import StudyOptions
from analyzer.stats import TestRow, adjust_family, holm
from analyzer.study.report import to_json
from analyzer.stats.descriptive import noise_floor_table, ordered_among_learned

OPTIONS = StudyOptions(hessian=False, n_permutations=199, n_resamples=500)
FAMILY_KEYS = {"name", "claim", "reference", "null", "p_value", "p_adjusted", "effect", "ci_low", "ci_high",
               "primary"}


def test_holm_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4 x 0.005, 3 x 0.01, 2 x 0.03, max(1 x 0.04, running max)
    assert holm([0.01, 0.04, 0.03, 0.005, None]) == pytest.approx([0.03, 0.06, 0.06, 0.02, None])
    assert holm([0.9, 0.8]) == [1.0, 1.0] and holm([]) == []  # 2 x 0.8 capped at 1


def test_the_family_puts_the_one_primary_first_and_gives_it_most_of_alpha():
    rows = [TestRow(name=f"s{i}", claim="c", reference="r", null="n", p_value=0.01, effect=1.0) for i in range(4)]
    primary = TestRow(name="p", claim="c", reference="r", null="n", p_value=0.035, effect=-1.0, primary=True)
    family = adjust_family([*rows, primary])
    assert family[0].name == "p" and family[0].p_adjusted == pytest.approx(0.035 / 0.8)  # rejected at 0.05
    # the primary's share passes on: the secondaries are Holm among themselves (4 x 0.01), then the running max
    assert all(row.p_adjusted == pytest.approx(max(0.035 / 0.8, 4 * 0.01)) for row in family[1:])
    # the secondaries are still tested when the primary is not rejected, at their own share (0.05 of alpha each)
    failed = adjust_family([*rows, dataclasses.replace(primary, p_value=0.5)])
    assert failed[0].p_adjusted == pytest.approx(0.5) and all(r.p_adjusted == pytest.approx(0.2) for r in failed[1:])
    # plain Holm tests the primary at alpha / 5 when the secondaries are null; the weighted family at 0.8 alpha
    nulls = [dataclasses.replace(r, p_value=0.5) for r in rows]
    assert holm([0.035] + [0.5] * 4)[0] == pytest.approx(0.175)
    assert adjust_family([primary, *nulls])[0].p_adjusted == pytest.approx(0.035 / 0.8)
    with pytest.raises(ValueError, match="one"):
        adjust_family([primary, primary])


def test_order_is_judged_among_learned_frequencies_only():
    assert ordered_among_learned([10, 100, np.nan, np.nan]) is True
    assert ordered_among_learned([10, np.nan, np.nan, np.nan]) is None  # one learned frequency: no order
    assert ordered_among_learned([10, 10, 50, np.nan]) is False  # a tie is not order
    assert ordered_among_learned([100, 10, np.nan, 500]) is False


def test_noise_floor_cell_without_information_is_marked_not_zero():
    replicates = pd.DataFrame({"group": "g", "replicate_set": ["s0"] * 3, "mode": 15.0, "value": 1000.0,
                               "censored": True})
    seeds = pd.DataFrame({"group": "g", "mode": 15.0, "value": [1000.0, 400.0], "censored": [True, False]})
    row = noise_floor_table(replicates, seeds).iloc[0]
    assert math.isnan(row.sd_rounding) and math.isnan(row.rounding_over_seeds) and row.information.startswith("none")


def test_primary_test_and_family_on_planted_coupling():
    rng = np.random.default_rng(0)
    runs = []
    for i in range(8):
        escapes = 10 ** rng.uniform(0.5, 3.8, 2) - 1
        runs.append(_summary(f"r{i}", escapes * 10 ** rng.normal(0, 0.02, 2), escapes, seed=i))
    study = build_study(runs, OPTIONS)
    payload = to_json(study)
    family = payload["test_family"]
    assert all(set(row) == FAMILY_KEYS for row in family)
    assert [row["primary"] for row in family].count(True) == 1 and family[0]["name"] == "jumps vs escapes"
    primary = family[0]
    assert primary["null"] == "clock-swap" and primary["p_value"] < 0.01 and primary["effect"] < 0
    assert primary["ci_low"] <= primary["effect"] <= primary["ci_high"] < 0
    assert primary["p_adjusted"] >= primary["p_value"]
    assert {v["observation"] for v in payload["verdicts"]} >= {"Frequency jumps occur near escapes from plateaus "
                                                                "(the primary test)"}
    assert all(set(v) == {"claim", "observation", "verdict", "rule"} for v in payload["verdicts"])
    assert {v["claim"] for v in payload["verdicts"]} >= {"jumps_near_escapes", "spectral_bias"}
    assert payload["p_value"] is not None and payload["primary_test"]["name"] == "jumps vs escapes"


def test_a_study_without_references_says_so_and_gives_no_p_value():
    runs = [_summary(f"r{i}", [10.0, 300.0], [], seed=i) for i in range(3)]
    study = build_study(runs, OPTIONS)
    primary = study.family[0]
    assert primary.primary and primary.p_value is None and primary.p_adjusted is None and primary.n_runs == 0
    verdict = next(v for v in study.verdicts if v.claim == "jumps_near_escapes")
    assert verdict.verdict == "untested" and "no p-value" in verdict.evidence


def test_swap_on_a_group_with_one_run_is_one_line_exit_2(tmp_path):
    from typer.testing import CliRunner

    from analyzer.cli import app
    from helpers import small_config
    from trainer.engines.loop import train

    path = tmp_path / "baseline-s0.h5"
    train(small_config(epochs=200), path)
    result = CliRunner().invoke(app, ["correlate", str(path), "--null", "swap", "--permutations", "9"])
    assert result.exit_code == 2 and result.output.count("error:") == 1 and "'baseline'" in result.output
    assert "Traceback" not in result.output
    study = CliRunner().invoke(app, ["study", str(path), "--null", "swap", "--no-hessian", "--workers", "1",
                                     "--permutations", "9",
                                     "--resamples", "100", "-o", str(tmp_path / "report")])
    assert study.exit_code == 2 and study.output.count("error:") == 1 and "'baseline'" in study.output
    assert not (tmp_path / "report").exists()
    # the default (swap, not named) leaves a group of one run out of the swap tests instead
    default = CliRunner().invoke(app, ["study", str(path), "--no-hessian", "--workers", "1", "--permutations", "9",
                                       "--resamples", "100", "--json"])
    assert default.exit_code == 0, default.output
    assert json.loads(default.stdout)["test_family"][0]["p_value"] is None


def test_sweep_takes_amplitudes_and_frequencies_as_grid_values():
    from trainer.errors import ConfigError
    from trainer.sweep.plan import parse_grid_values, plan_sweep

    flat = plan_sweep(["baseline"], [0, 1], {"amps": parse_grid_values("amps", "1,1,1,1")})
    assert [r.file for r in flat] == ["baseline-s0-amps1_1_1_1.h5", "baseline-s1-amps1_1_1_1.h5"]
    assert flat[0].config.target.amps == (1.0, 1.0, 1.0, 1.0)
    grid = plan_sweep(["baseline"], [0], {"amps": parse_grid_values("amps", "1,1,1,1/1,0.8,0.6,0.4"),
                                          "freqs": parse_grid_values("freqs", "1,2,3,4")})
    assert len(grid) == 2 and {r.config.target.freqs_hz for r in grid} == {(1.0, 2.0, 3.0, 4.0)}
    with pytest.raises(ConfigError, match="amplitude"):
        plan_sweep(["baseline"], [0], {"amps": parse_grid_values("amps", "1,1")})
    with pytest.raises(ConfigError, match="--amps"):
        parse_grid_values("amps", "1,x")
    assert dataclasses.is_dataclass(flat[0].config)


def test_the_design_and_the_equal_amplitude_control_are_separate_rows():
    runs = []
    for i in range(10):
        for amps in ((1.0, 0.8, 0.6), (1.0, 1.0, 1.0)):
            ordered = amps[1] < 1
            runs.append(_summary(f"r{i}-{amps[1]}", [10.0], [12.0], seed=i, modes=(1.0, 3.0, 7.0), amps=amps,
                                 learned=(10.0, 100.0, 1000.0) if ordered else (1000.0, 10.0, 100.0 + i),
                                 config={"target": {"amps": list(amps)}}))
    study = build_study(runs, dataclasses.replace(OPTIONS, n_permutations=999))
    bias = [v for v in study.verdicts if v.claim == "spectral_bias"]
    assert [v.observation.split("(")[1].split(",")[0] for v in bias] == ["amplitudes falling with frequency",
                                                                         "every mode of equal amplitude"]
    assert bias[0].verdict == "holds"  # the design: every run in order, tau = 1
    assert bias[1].verdict != "holds"  # the control: reversed or mixed, never a claim of order
    rows = {r.name: r for r in study.family}
    assert rows["learning order, decreasing amplitudes: mean Kendall tau (two-sided)"].effect == pytest.approx(1.0)
    assert rows["learning order, equal amplitudes: mean Kendall tau (two-sided)"].effect < 0


def test_kendall_tau_b_with_ties_equals_scipy():
    from scipy import stats

    from analyzer.study.claims.spectral_bias import kendall_tau_b

    rng = np.random.default_rng(0)
    for _ in range(50):
        values = rng.integers(0, 4, size=int(rng.integers(2, 8))).astype(float)
        expected = stats.kendalltau(np.arange(len(values)), values).statistic
        got = kendall_tau_b(values)
        assert (np.isnan(got) and np.isnan(expected)) or got == pytest.approx(expected)
    # ties at the checkpoint spacing are no disorder: 10 and 15 Hz both learned at step 60
    assert kendall_tau_b(np.array([20.0, 60.0, 60.0, 130.0])) > 0.9


def test_the_order_test_holds_its_level_on_runs_without_order_and_finds_order():
    """The within-run permutation null: 200 studies of 12 runs whose learned steps are random (ties at a coarse
    spacing included) reject at most alpha + 3 SE; studies with an order reject."""
    from analyzer.study.claims.spectral_bias import order_frame, rank_test

    rng = np.random.default_rng(1)
    options = StudyOptions(n_permutations=199, n_resamples=200)
    rejected = 0
    for study_seed in range(200):
        runs = [_summary(f"r{i}", [], [], seed=i, modes=(1.0, 3.0, 7.0, 15.0),
                         learned=np.round(rng.uniform(0, 100, 4) / 20) * 20) for i in range(12)]
        taus = order_frame([(r, r.extract("spectral_bias")) for r in runs], {r.path: "g" for r in runs})
        p_value = rank_test(taus, options)["p_value"]
        rejected += p_value is not None and p_value < 0.05
    assert rejected / 200 <= 0.05 + 3 * np.sqrt(0.05 * 0.95 / 200)
    runs = [_summary(f"r{i}", [], [], seed=i, modes=(1.0, 3.0, 7.0, 15.0),
                     learned=np.sort(rng.uniform(0, 100, 4)) + rng.normal(0, 10, 4)) for i in range(12)]
    taus = order_frame([(r, r.extract("spectral_bias")) for r in runs], {r.path: "g" for r in runs})
    assert rank_test(taus, options)["p_value"] <= 2 / 200  # the smallest two-sided p of 199 draws
