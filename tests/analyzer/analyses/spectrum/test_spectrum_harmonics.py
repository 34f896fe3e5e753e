"""The spectrum, correlate and report on harmonics runs (spherical-harmonic degrees as the modes).

Oracle: a run whose stored predictions are overwritten with f_t = y - sum_l r_l(t) a_l Y_l, each degree's
target component shrunk by a known logistic r_l(t) = 1 / (1 + exp((t - t0_l) / w_l)), and whose loss is
overwritten with the matching ||f_t - y||^2 = sum_l a_l^2 r_l(t)^2: the relative error of degree l is r_l(t)
exactly (up to float32 storage), its learned step the first step with r_l < threshold, its jump the
half-learned step t0_l, and the loss drops at the t0_l, so the jumps sit on its escapes.
"""

from __future__ import annotations

import dataclasses
import json
import shutil
import subprocess
import sys

import h5py
import numpy as np
import pytest
from helpers import sphere_config

import analyzer
from analyzer.analyses.spectrum import SpectrumParams, SpectrumResult, compute
from analyzer.core.serialize import to_jsonable
from trainer import targets
from trainer.engines.loop import train

DEGREES, AMPS = (1, 3), (1.0, 2.0)
MIDPOINTS, WIDTHS = {1: 40.0, 3: 300.0}, {1: 4.0, 3: 20.0}  # t0_l and w_l of the planted logistic escapes
EPOCHS = 600


def planted_ratio(degree: int, steps: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp((steps - MIDPOINTS[degree]) / WIDTHS[degree]))


@pytest.fixture(scope="module")
def planted_run(tmp_path_factory):
    """A harmonics run on degrees 1 and 3 whose predictions and loss are the planted escapes."""
    config = sphere_config(degrees=DEGREES, amps=AMPS, epochs=EPOCHS)
    path = tmp_path_factory.mktemp("planted") / "planted.h5"
    train(config, path)
    components = targets.target_components(config.target)
    with h5py.File(path, "r+") as f:
        x_eval, steps = f["data/x_eval"][...].astype(np.float64), f["log/pred_step"][...]
        x_eval /= np.linalg.norm(x_eval, axis=1, keepdims=True)
        parts = {d: a * c(x_eval) for d, a, c in zip(DEGREES, AMPS, components)}
        y = sum(parts.values())
        pred = y[None, :] - sum(planted_ratio(d, steps)[:, None] * parts[d][None, :] for d in DEGREES)
        f["log/pred"][...] = pred[:, :, None].astype(np.float32)
        f["data/y_eval"][...] = y[:, None].astype(np.float32)
        loss_steps = f["log/step"][...]
        f["log/loss"][...] = sum(a ** 2 * planted_ratio(d, loss_steps) ** 2 for d, a in zip(DEGREES, AMPS))
    return path


@pytest.fixture(scope="module")
def planted_spectrum(planted_run) -> SpectrumResult:
    with analyzer.open_run(planted_run) as run:
        return compute(run, SpectrumParams())


def test_relative_error_of_each_degree_is_the_planted_ratio(planted_spectrum):
    spectrum = planted_spectrum
    assert spectrum.mode_name == "degree" and list(spectrum.learning.degree) == list(DEGREES)
    assert list(spectrum.target_modes) == list(DEGREES) and list(spectrum.modes) == [0, 1, 2, 3, 4, 5]
    for k, degree in enumerate(DEGREES):
        np.testing.assert_allclose(spectrum.rel_error[:, k], planted_ratio(degree, spectrum.steps), rtol=0, atol=2e-6)
        np.testing.assert_allclose(spectrum.pred_amplitude[:, k], AMPS[k] * (1 - planted_ratio(degree, spectrum.steps)),
                                   rtol=0, atol=1e-5)
    np.testing.assert_allclose(spectrum.target_amplitude[list(DEGREES)], AMPS, rtol=1e-5)  # ||a_l Y_l|| = a_l
    assert np.all(np.delete(spectrum.target_amplitude, list(DEGREES)) < 1e-5)  # nothing on the other degrees


def test_learned_and_jump_steps_of_each_degree_are_the_planted_ones(planted_spectrum):
    learning = planted_spectrum.learning.set_index("degree")
    steps = planted_spectrum.steps
    for degree in DEGREES:
        first_below = steps[np.argmax(planted_ratio(degree, steps) < 0.1)]  # r_l falls monotonically: no relapse
        assert learning.loc[degree, "learned_step"] == first_below
        assert abs(learning.loc[degree, "jump_step"] - MIDPOINTS[degree]) <= 1  # the half-learned step
    assert set(planted_spectrum.jumps.degree) == set(DEGREES)
    assert planted_spectrum.headline().startswith("learned degree 1 at step 49, ")


def test_json_names_degrees_and_keeps_the_fourier_keys_on_sine_runs(planted_spectrum, small_run):
    payload = to_jsonable(planted_spectrum)
    assert list(payload)[:5] == ["steps", "degrees", "target_degrees", "target_norm", "pred_norm"]
    assert payload["target_degrees"] == [1, 3] and payload["learning"][0]["degree"] == 1
    assert "target_norm" in payload["learning"][0] and "freq_hz" not in payload["jumps"][0]
    assert payload["mode_unit"] == "degree" and planted_spectrum.target_modes.tolist() == [1, 3]
    with analyzer.open_run(small_run) as run:
        sine = to_jsonable(compute(run, SpectrumParams()))
    fourier_keys = ["freqs_hz", "target_freqs_hz"] + [f.name for f in dataclasses.fields(SpectrumResult)][3:]
    assert list(sine) == ["steps"] + fourier_keys + ["mode_unit"]  # the keys sine runs always had, and the unit
    assert sine["mode_unit"] == "Hz" and sine["target_freqs_hz"] == [1.0, 3.0, 7.0, 15.0]
    assert "freq_hz" in sine["learning"][0] and "target_amplitude" in sine["learning"][0]


def test_correlate_finds_the_planted_jumps_at_the_escapes(planted_run):
    result = analyzer.correlate(planted_run, n_permutations=999)
    assert result.mode_name == "degree" and list(result.distances.degree) == list(DEGREES)
    # one run: the figures describe it (no verdict shown), the p-value stays in the result for --json
    assert result.conclusion.startswith("degree jumps and loss-drop midpoints, 1 run") and result.descriptive_only
    assert "p=" not in result.conclusion and result.p_value < 0.05
    for row in result.distances.itertuples():
        assert abs(row.jump_step - row.nearest_reference_step) <= 0.1 * MIDPOINTS[row.degree]


def _cli(*args):
    return subprocess.run([sys.executable, "-m", "analyzer.cli", *map(str, args)], capture_output=True, text=True)


def test_correlate_cli_on_a_harmonics_run_and_refusal_to_pool_with_a_sine_run(planted_run, small_run, tmp_path):
    done = _cli("correlate", planted_run, "--permutations", "99", "--json", "--no-cache")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["distances"][0]["degree"] == 1
    mixed = _cli("correlate", planted_run, small_run, "--permutations", "99", "--no-cache")
    assert mixed.returncode == 2 and mixed.stdout == ""
    assert mixed.stderr.count("\n") == 1 and "different bases" in mixed.stderr and "Traceback" not in mixed.stderr
    twin = tmp_path / "twin.h5"  # two harmonics runs pool
    shutil.copy(planted_run, twin)
    pooled = analyzer.correlate([planted_run, twin], n_permutations=99, use_cache=False)
    assert pooled.n_runs == 2 and pooled.n_jumps == 4


def test_spectrum_cli_on_a_harmonics_run(planted_run):
    done = _cli("spectrum", planted_run, "--no-cache")
    assert done.returncode == 0, done.stderr
    assert "learned degree 1 at step 49" in " ".join(done.stdout.split()) and "degree jumps" in done.stdout


def test_report_of_a_harmonics_run_renders_every_section(planted_run, tmp_path):
    out = tmp_path / "report"
    done = _cli("report", planted_run, "-o", out, "--no-hessian", "--no-cache", "--workers", "1")
    assert done.returncode == 0, done.stderr
    markdown = (out / "REPORT.md").read_text()
    for heading in ("## Spectral dynamics", "## Degree learning", "## Degree jumps vs escapes from plateaus"):
        assert heading in markdown
    assert "not available" not in markdown and "| degree | first_below_step | recrossings | learned_step | target_norm |" in markdown
    assert {"spectrum.png", "rel_error.png", "loss.png"} <= {p.name for p in out.iterdir()}


def test_report_of_harmonics_and_sine_runs_side_by_side(planted_run, small_run, tmp_path):
    from analyzer.report.build import build_report
    from analyzer.report.model import ReportOptions

    twin = tmp_path / "twin.h5"
    shutil.copy(planted_run, twin)
    # the twin is a copy: swapping references between identical runs changes nothing, so this test of pooling
    # across degrees uses the log-uniform null
    options = ReportOptions(left_out=("hessian",), use_cache=False,
                            overrides={"correlate": {"n_permutations": 99, "null": "log-uniform"}})
    mixed = build_report([planted_run, small_run], options)
    assert "*not pooled: the runs' targets are on different bases (degrees and frequencies); see each run's test*" in (
        mixed.markdown)
    assert "### Learned step per frequency or degree" in mixed.markdown and "compare-heatmaps.png" in mixed.figures
    both = build_report([planted_run, twin], options)
    assert "### Learned step per degree" in both.markdown and "| degree | planted | twin |" in both.markdown
    pooled = [line for line in both.markdown.splitlines() if "2 runs pooled" in line]
    assert len(pooled) == 2 and pooled[0].startswith("**degree jumps are closer to loss-drop midpoints")


def test_predictions_that_turn_nan_end_the_harmonics_spectrum_there(planted_run, tmp_path):
    path = tmp_path / "nan.h5"
    shutil.copy(planted_run, path)
    with h5py.File(path, "r+") as f:
        f["log/pred"][400, 7, 0] = np.nan
    with analyzer.open_run(path) as run:
        spectrum = compute(run, SpectrumParams())
    assert spectrum.first_nonfinite_step == 400 and len(spectrum.steps) == 400
    assert "predictions not finite from step 400" in spectrum.note
    assert spectrum.learning.set_index("degree").loc[1, "learned_step"] == 49  # learned before the NaN


def test_a_study_pools_a_harmonics_run_per_degree(planted_run):
    """Issue 24: no longer skipped; its modes are its degrees, in a group of its own."""
    from analyzer.study.collect import RunSummary, StudyOptions, summarize_run

    outcome = summarize_run(str(planted_run), StudyOptions(hessian=False, use_cache=False))
    assert isinstance(outcome, RunSummary) and outcome.preset.endswith(" (harmonics)")
    with analyzer.open_run(planted_run) as run:
        degrees = sorted(run.target["degrees"])
    np.testing.assert_array_equal(outcome.extract("spectral_bias").modes, degrees)
