"""The study's test family: Holm, the run bootstrap of effects, the primary test, verdict rules, bad input; and
the amplitude grid of `train sweep`."""

from __future__ import annotations

import dataclasses
import json
import math

import numpy as np
import pandas as pd
import pytest

from analyzer.study.collect import RunSummary, StudyOptions
from analyzer.study.analysis import build_study
from analyzer.study.family import cluster_bootstrap, holm
from analyzer.study.report import to_json
from analyzer.study.stats import noise_floor_table, ordered_among_learned

OPTIONS = StudyOptions(hessian=False, n_permutations=199, n_resamples=500)
FAMILY_KEYS = {"name", "reference", "null", "p_value", "p_adjusted", "effect", "ci_low", "ci_high", "primary"}


def test_holm_by_hand():
    # sorted 0.005, 0.01, 0.03, 0.04 -> 4 x 0.005, 3 x 0.01, 2 x 0.03, max(1 x 0.04, running max)
    assert holm([0.01, 0.04, 0.03, 0.005, None]) == pytest.approx([0.03, 0.06, 0.06, 0.02, None])
    assert holm([0.9, 0.8]) == [1.0, 1.0] and holm([]) == []  # 2 x 0.8 capped at 1


def test_cluster_bootstrap_resamples_runs_not_jumps():
    # one run with 100 jumps 0.5 decades closer than the null, nine runs with 1 jump at the null: the estimate is
    # -50 / 109, and a jump-level bootstrap would exclude 0; resampling runs draws the big run K ~ Bin(10, 0.1)
    # times, and K = 0 (probability 0.35) gives an effect of exactly 0, K >= 2 one below -0.48 (the interval is
    # then widened by sqrt(10 / 9) around the estimate)
    per_run = [{"n_jumps": 100, "observed_sum": 0.0, "null_sum": 50.0}] + \
              [{"n_jumps": 1, "observed_sum": 1.0, "null_sum": 1.0}] * 9
    low, high = cluster_bootstrap(per_run, ["g"] * 10, 4000, seed=0)
    estimate = -50 / 109
    assert high == pytest.approx(estimate * (1 - np.sqrt(10 / 9))) and low < -0.48
    same = [{"n_jumps": 2, "observed_sum": 1.0, "null_sum": 2.0}] * 5
    assert cluster_bootstrap(same, ["g"] * 5, 500, seed=0) == pytest.approx((-0.5, -0.5))
    assert cluster_bootstrap(same[:1], ["g"], 500, seed=0) == (None, None)


def test_order_is_judged_among_learned_frequencies_only():
    assert ordered_among_learned([10, 100, np.nan, np.nan]) is True
    assert ordered_among_learned([10, np.nan, np.nan, np.nan]) is None  # one learned frequency: no order
    assert ordered_among_learned([10, 10, 50, np.nan]) is False  # a tie is not order
    assert ordered_among_learned([100, 10, np.nan, 500]) is False


def test_noise_floor_cell_without_information_is_marked_not_zero():
    replicates = pd.DataFrame({"group": "g", "replicate_set": ["s0"] * 3, "freq_hz": 15.0, "value": 1000.0,
                               "censored": True})
    seeds = pd.DataFrame({"group": "g", "freq_hz": 15.0, "value": [1000.0, 400.0], "censored": [True, False]})
    row = noise_floor_table(replicates, seeds).iloc[0]
    assert math.isnan(row.sd_rounding) and math.isnan(row.rounding_over_seeds) and row.information.startswith("none")


def _summary(name: str, jumps, escapes, preset="p", seed=0) -> RunSummary:
    return RunSummary(path=f"/x/{name}.h5", config={"preset": preset, "seed": seed}, status="complete", n_steps=10_000,
                      freqs_hz=np.array([1.0, 3.0]), learned_steps=np.array([10.0, 100.0]),
                      jump_steps=np.asarray(jumps, float), jump_freqs_hz=np.ones(len(jumps)),
                      escape_steps=np.asarray(escapes, float), edge_steps=np.asarray(escapes, float),
                      first_pred_step=0, last_pred_step=9_999,
                      plateaus=pd.DataFrame(columns=["start_step", "end_step", "duration"], dtype=float),
                      loss_steps=np.arange(3), loss=np.ones(3))


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
    assert primary["null"] == "swap" and primary["p_value"] < 0.01 and primary["effect"] < 0
    assert primary["ci_low"] <= primary["effect"] <= primary["ci_high"] < 0
    assert primary["p_adjusted"] >= primary["p_value"]
    assert {v["observation"] for v in payload["verdicts"]} >= {"Frequency jumps occur near escapes from plateaus "
                                                                "(the primary test)"}
    assert all(set(v) == {"observation", "verdict", "rule"} for v in payload["verdicts"])
    assert payload["p_value"] is not None and payload["primary_test"]["name"] == "jumps vs escapes"


def test_a_study_without_references_says_so_and_gives_no_p_value():
    runs = [_summary(f"r{i}", [10.0, 300.0], [], seed=i) for i in range(3)]
    study = build_study(runs, OPTIONS)
    primary = study.family[0]
    assert primary["p_value"] is None and primary["p_adjusted"] is None and primary["n_runs"] == 0
    verdict = next(o for o in study.observations if "primary" in o["observation"])
    assert verdict["verdict"] == "untested" and "no p-value" in verdict["evidence"]
    assert "nothing to test" in study.tests["escapes"].conclusion


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


def test_equal_amplitude_groups_are_reported_beside_the_order():
    runs = []
    for i in range(4):
        for amps in ((1.0, 0.8), (1.0, 1.0)):
            run = _summary(f"r{i}-{amps[1]}", [10.0], [12.0], seed=i)
            runs.append(dataclasses.replace(run, config={**run.config, "target": {"amps": list(amps)}},
                                            learned_steps=np.array([10.0, 100.0] if amps[1] < 1 else [100.0, 10.0])))
    study = build_study(runs, OPTIONS)
    evidence = study.observations[0]["evidence"]
    assert "with equal amplitudes: p amps=1,1 0/4" in evidence and "p amps=1,0.8 0/4" not in evidence
