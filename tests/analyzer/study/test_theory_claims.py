"""The theory claims (Cao et al., Lucey and Bowman & Montúfar on a width sweep) on run summaries made by hand: each
rule holds on a planted case and fails on one planted against it; the statistics against independent computations
(least squares by numpy, closed-form exponentials and power laws); a study without the regime's runs says so in one
line per claim."""

from __future__ import annotations

import dataclasses
import json
import math
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from study_fakes import summary

from analyzer.study.build import build_study
from analyzer.study.claims import get
from analyzer.study.claims.damped_deviations import MIN_DRIFT
from analyzer.study.claims.gd_mask_bandwidth import MaskView, bandwidth_exponent
from analyzer.study.claims.rate_proportional_to_eigenvalue import RateEvidence
from analyzer.study.claims.theory_runs import NOT_IN_REGIME, DegreeRates, KernelView, ModeRates, RunFacts, \
    mode_rates, series_names
from analyzer.study.claims.theory_stats import log_slope, width_slope
from analyzer.study.collect import StudyOptions
from analyzer.study.report import render, to_json

OPTIONS = StudyOptions(hessian=False, n_permutations=999, n_resamples=400)
WIDTHS = (8, 32, 128, 512)
THEORY = ("kernel_drift_scaling", "rate_proportional_to_eigenvalue", "rates_ordered_by_degree", "damped_deviations",
          "gd_mask_bandwidth")
EIGEN = 100.0 * 0.7 ** np.arange(30)
A_EFF = 1e-3
SPAN = 1000.0
SERIES = "harmonics of degree 1, 2, 3 on S^2"


@pytest.fixture(autouse=True)
def close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def kernel(width: int, deviation: np.ndarray, drift: float, n_points: int = 200) -> KernelView:
    """A run's kernel view: eigenvalues EIGEN, observed rate = predicted x exp(deviation) per direction."""
    predicted = -np.log(1 - A_EFF * EIGEN)
    facts = RunFacts(width, width * 5 + 1, n_points, "float64")
    return KernelView(facts, np.array([0, 10, 100, 1000]), drift * np.array([0.0, 0.1, 0.5, 1.0]), EIGEN,
                      predicted, predicted * np.exp(deviation), np.ones(len(EIGEN)), SPAN)


def mask(width: int, observed_power: float, predicted_power: float, fit_error: float = 0.3) -> MaskView:
    q = np.unique(np.round(np.logspace(0, 3, 40)))
    return MaskView(width, "float64", fit_error, 10_000, np.concatenate([[0.0], q]),
                    np.concatenate([[0.0], 3 * q ** predicted_power]), np.concatenate([[0.0], 3 * q ** observed_power]))


def run(seed: int, width: int, *, twin: bool = False, kind: str = "harmonics", drift: float = 1.0,
        deviation: np.ndarray | None = None, rates=(0.1, 0.01, 0.001), exponents=(0.5, 0.35), degrees=None,
        n_points: int = 200, fit_error: float = 0.3):
    """A regime run's summary: the Alvarez & Choe extracts of study_fakes plus every theory claim's."""
    deviation = np.zeros(len(EIGEN)) if deviation is None else deviation
    view = kernel(width, deviation, 0.0 if twin else drift, n_points)
    modes = ModeRates(np.arange(1.0, len(rates) + 1), "degree", np.asarray(rates, float), np.full(len(rates), 0.05))
    config = {"optimizer": "sgd", "lr": 1.0 / width, "dtype": "float64", "linearize": twin,
              "model": {"kind": "mlp", "depth": 1, "activation": "relu", "width": width, "in_dim": 3, "out_dim": 1},
              "target": {"kind": kind, "n_train": n_points, "input_dim": 3, "degrees": [1, 2, 3], "freqs_hz": [1.0, 3.0]}}
    # no jumps: the Alvarez & Choe claims add no jump test to the family (fast, and the family stays small)
    base = summary(f"{kind}-w{width}-s{seed}{'-twin' if twin else ''}", [], [], preset="sgd", seed=seed,
                   config=config)
    extracts = {"kernel_drift_scaling": view, "rate_proportional_to_eigenvalue": RateEvidence(view, degrees),
                "rates_ordered_by_degree": modes, "damped_deviations": view,
                "gd_mask_bandwidth": mask(width, *exponents, fit_error=1e-12 if twin else fit_error)}
    return dataclasses.replace(base, extracts={**base.extracts, **extracts})


def sweep(make, seeds=range(8), widths=WIDTHS, twins: bool = True) -> list:
    rng = np.random.default_rng(0)
    runs = [make(rng, seed, width, False) for seed in seeds for width in widths]
    return runs + ([make(rng, seed, width, True) for seed in seeds for width in widths] if twins else [])


def verdicts(study, claim_id: str) -> dict[str, str]:
    return {v.observation: v.verdict for v in study.verdicts if v.claim == claim_id}


# ---- statistics -----------------------------------------------------------------------------------------------

def test_width_slope_is_least_squares_with_a_seed_bootstrap_and_a_within_seed_permutation_null():
    rng = np.random.default_rng(1)
    frame = pd.DataFrame([{"seed": s, "width": w, "value": 2.0 * w ** -0.5 * math.exp(rng.normal(0, 0.1))}
                          for s in range(8) for w in WIDTHS])
    test = width_slope(frame, n_resamples=2000, n_permutations=999, seed=0)
    oracle = np.polyfit(np.log(frame.width), np.log(frame.value), 1)[0]
    assert test["slope"] == pytest.approx(oracle, abs=1e-12) and log_slope(frame.width, frame.value) == test["slope"]
    assert test["ci_low"] < -0.5 < test["ci_high"] and test["ci_high"] - test["ci_low"] < 0.2
    assert test["p_value"] == pytest.approx(1 / 1000)  # no within-seed shuffle beats a planted slope
    flat = frame.assign(value=np.exp(rng.normal(0, 0.3, len(frame))))
    assert width_slope(flat, 2000, 999, 0)["p_value"] > 0.05
    few = width_slope(frame[frame.seed < 3], 2000, 99, 0)
    assert few["ci_low"] is None and few["n_seeds"] == 3  # fewer than 5 seeds: no CI
    assert width_slope(frame[frame.width == 8], 200, 99, 0)["p_value"] is None  # one width: no slope


def test_mode_rates_recover_exponential_decays_and_censor_modes_that_never_fall():
    steps = np.arange(0, 1001, 10.0)
    rates = np.array([3e-2, 4e-3, 5e-5])  # the last falls to exp(-0.05) = 0.95: never to 0.9
    spectrum = SimpleNamespace(steps=steps, rel_error=np.exp(-np.outer(steps, rates)),
                               target_modes=np.array([1.0, 2.0, 3.0]), mode_unit="degree")
    context = SimpleNamespace(result=lambda name: spectrum)
    modes = mode_rates(context)
    np.testing.assert_allclose(modes.rates[:2], rates[:2], rtol=1e-9)
    assert np.isnan(modes.rates[2]) and modes.end_fraction[2] == pytest.approx(math.exp(-0.05))
    censored_first = ModeRates(np.array([1.0, 2.0, 3.0]), "degree", np.array([np.nan, 0.1, 0.01]),
                               np.array([0.95, 0.0, 0.1]))
    assert np.argsort(censored_first.order_values()).tolist() == [1, 2, 0]  # fastest, slower, censored slowest


def test_moving_directions_and_deviations():
    deviation = np.zeros(len(EIGEN))
    view = kernel(8, deviation, 1.0)
    predicted = -np.log(1 - A_EFF * EIGEN)
    assert view.moving.tolist() == (predicted * SPAN >= 0.1).tolist()
    grew = dataclasses.replace(view, observed_rate=np.where(np.arange(30) == 1, -view.observed_rate, view.observed_rate))
    deviations = grew.deviations()
    assert np.isinf(deviations[1]) and np.all(deviations[np.arange(len(deviations)) != 1] == 0)


# ---- the claims -----------------------------------------------------------------------------------------------

@pytest.mark.parametrize("power, expected", [(-0.5, "holds"), (-1.5, "partly"), (0.0, "not shown"),
                                             (0.5, "does not hold")])
def test_kernel_drift_rule(power, expected):
    def make(rng, seed, width, twin):
        return run(seed, width, twin=twin, drift=3.0 * width ** power * math.exp(rng.normal(0, 0.1)))

    study = build_study(sweep(make), OPTIONS)
    found = verdicts(study, "kernel_drift_scaling")
    assert found[f"The kernel moves less the wider the network (lazy regime: drift ~ width^-1/2) ({SERIES})"] \
        == expected
    assert found["The linearised twins' kernels do not move"] == "holds"
    runs = study.results["kernel_drift_scaling"]["runs"]
    slope = study.results["kernel_drift_scaling"]["tests"][SERIES]["slope"]
    assert slope == pytest.approx(np.polyfit(np.log(runs.width), np.log(runs.value), 1)[0], abs=1e-12)
    moved = build_study(sweep(make)[:-1] + [dataclasses.replace(
        run(7, 512, twin=True), extracts={**run(7, 512, twin=True).extracts,
                                          "kernel_drift_scaling": kernel(512, np.zeros(30), 1e-3)})], OPTIONS)
    assert verdicts(moved, "kernel_drift_scaling")["The linearised twins' kernels do not move"] == "does not hold"


def _spread_sweep(power: float, twin_error: float = 1e-12):
    def make(rng, seed, width, twin):
        if twin:
            return run(seed, width, twin=True, deviation=np.full(30, twin_error))
        size = 0.5 * width ** power * math.exp(rng.normal(0, 0.1))
        deviation = size * rng.choice([-1.0, 1.0], 30)
        degrees = DegreeRates(np.array([1.0, 2.0, 3.0]), np.array([0.1, 0.01, 0.001]) * math.exp(size),
                              np.array([0.1, 0.01, 0.001]), np.array([0.1, 0.01, 0.001]) * math.exp(-size),
                              np.array([1.0, 0.1, 0.01]), np.array([1.0, 0.1, 0.01]))
        return run(seed, width, deviation=deviation, degrees=degrees)

    return build_study(sweep(make), OPTIONS)


def test_rate_claim_exact_on_twins_and_spread_shrinking_with_width():
    study = _spread_sweep(-0.5)
    found = verdicts(study, "rate_proportional_to_eigenvalue")
    assert found["On the GD twins the observed rate equals the predicted one in every moving eigendirection"] == "holds"
    for measure in ("per eigendirection of the empirical kernel at init",
                    "per target degree, against the closed-form kernel (infinite width)",
                    "per target degree, against the empirical kernel at init"):
        assert found[f"On the networks the ratio observed / predicted nears 1 with width ({measure}; {SERIES})"] \
            == "holds"
    test = study.results["rate_proportional_to_eigenvalue"]["tests"][(SERIES, "eigendirections")]
    assert test["ci_low"] < -0.5 < test["ci_high"]
    flat = verdicts(_spread_sweep(0.0, twin_error=1e-4), "rate_proportional_to_eigenvalue")
    assert flat["On the GD twins the observed rate equals the predicted one in every moving eigendirection"] == \
        "does not hold"  # 1e-4 off in float64
    assert flat["On the networks the ratio observed / predicted nears 1 with width (per eigendirection of the "
                f"empirical kernel at init; {SERIES})"] == "not shown"


@pytest.mark.parametrize("rates, expected, tau", [((0.1, 0.01, 0.001), "holds", 1.0),
                                                  ((0.001, 0.01, 0.1), "does not hold", -1.0)])
def test_rates_ordered_rule(rates, expected, tau):
    study = build_study(sweep(lambda rng, seed, width, twin: run(seed, width, twin=twin, rates=rates)), OPTIONS)
    assert verdicts(study, "rates_ordered_by_degree") == {
        f"Convergence rates fall with degree (frequency) ({SERIES})": expected}
    assert study.results["rates_ordered_by_degree"]["tests"][SERIES]["mean_tau"] == pytest.approx(tau)


@pytest.mark.parametrize("direction, expected", [(1.0, "holds"), (-1.0, "does not hold")])
def test_damped_deviations_rule(direction, expected):
    def make(rng, seed, width, twin):
        index = np.arange(30.0) if direction > 0 else np.arange(30.0)[::-1]
        deviation = 0.01 * (1 + index) * np.exp(rng.normal(0, 0.3, 30))
        return run(seed, width, twin=twin, deviation=deviation, drift=0.5)

    study = build_study(sweep(make), OPTIONS)
    found = verdicts(study, "damped_deviations")
    name = ("Kernel deviations matter less along large-eigenvalue directions (underparameterised networks whose "
            f"kernel moves) ({SERIES})")
    assert found == {name: expected}
    runs = study.results["damped_deviations"]["runs"]
    assert set(runs[runs.underparameterised].width) == {8, 32}  # 5 m + 1 < 200 points
    assert study.results["damped_deviations"]["tests"][SERIES]["n_runs"] == 16
    still = build_study(sweep(lambda rng, seed, width, twin: run(seed, width, twin=twin, drift=MIN_DRIFT / 2)), OPTIONS)
    assert [v.verdict for v in still.verdicts if v.claim == "damped_deviations"] == ["untested"]


def test_mask_rule_against_sqrt_q_and_the_singular_values():
    q = np.unique(np.round(np.logspace(0, 3, 40)))
    assert bandwidth_exponent(q, 3 * q ** 0.37, 10_000) == pytest.approx(0.37, abs=1e-12)
    assert bandwidth_exponent(q, np.minimum(3 * q ** 0.5, 20), 20) == pytest.approx(
        np.polyfit(np.log(q[3 * q ** 0.5 < 20]), np.log(3 * q[3 * q ** 0.5 < 20] ** 0.5), 1)[0])  # saturated: out
    study = build_study(sweep(lambda rng, seed, width, twin: run(
        seed, width, twin=twin, exponents=(0.5 + rng.normal(0, 0.01), 0.3))), OPTIONS)
    found = verdicts(study, "gd_mask_bandwidth")
    assert found["On the GD twins the mask is exact"] == "holds"
    assert found[f"The networks' bandwidth grows with sqrt(q) (exponent 1/2) ({SERIES})"] == "holds"
    assert found[f"The networks' bandwidth grows with the exponent its singular values predict ({SERIES})"] \
        == "does not hold"
    loose = build_study([r if r.role == "network" else dataclasses.replace(r, extracts={
        **r.extracts, "gd_mask_bandwidth": mask(8, 0.5, 0.3, fit_error=1e-3)}) for r in study.runs], OPTIONS)
    assert verdicts(loose, "gd_mask_bandwidth")["On the GD twins the mask is exact"] == "does not hold"


def test_sweeps_are_split_by_target_not_by_width_or_learning_rate():
    runs = [run(0, 8), run(0, 32), run(0, 8, kind="sines"), run(0, 32, kind="sines", twin=True)]
    names = series_names(runs)
    assert names[runs[0].path] == names[runs[1].path] == SERIES
    assert names[runs[2].path] == names[runs[3].path] == "sines 1, 3 Hz"
    other = dataclasses.replace(runs[0], path="/x/kaiming.h5", config={**runs[0].config, "model": {
        **runs[0].config["model"], "init": "kaiming"}})
    assert series_names(runs + [other])[other.path] == f"{SERIES} init=kaiming"


def test_without_the_regimes_runs_each_claim_says_so_in_one_line():
    alvarez_choe = [summary(f"b-s{s}", [100.0], [90.0], preset="baseline", seed=s, config={"optimizer": "adam"})
               for s in range(3)]
    study = build_study(alvarez_choe, OPTIONS)
    payload = to_json(study)
    for claim_id in THEORY:
        rows = [v for v in study.verdicts if v.claim == claim_id]
        assert len(rows) == 1 and rows[0].verdict == "untested" and rows[0].evidence == NOT_IN_REGIME
        assert payload[claim_id] is None and get(claim_id).section(study, study.results[claim_id], {}) == []
    json.dumps(payload, allow_nan=False)


def test_theory_sections_figures_and_json_on_a_planted_sweep():
    study = _spread_sweep(-0.5)
    figs: dict = {}
    markdown = render(study).markdown
    for heading in ("## Kernel drift against width", "## Rates along the kernel's eigenfunctions", "## Rates by degree",
                    "## Damped deviations", "## The gradient-descent mask"):
        assert heading in markdown
    for claim_id in THEORY:
        get(claim_id).section(study, study.results[claim_id], figs)
    assert {"theory-drift.png", "theory-rates.png", "theory-ratio.png", "theory-twin-loss.png", "theory-damped.png",
            "theory-mask.png"} <= set(figs)
    payload = json.loads(json.dumps(to_json(study), allow_nan=False))
    assert {v["claim"] for v in payload["verdicts"]} >= set(THEORY)
    assert all(row["claim"] in THEORY for row in payload["test_family"] if row["name"].startswith(
        ("kernel drift", "rate ratio", "rates by degree", "damped", "mask bandwidth")))
