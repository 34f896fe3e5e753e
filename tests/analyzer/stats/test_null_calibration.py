"""Calibration of the jump-test nulls on models they do not assume (small versions of bench/null_calibration.py):
the default null keeps its level under a shared per-run clock where the swap null does not, it finds planted
coupling, and the Parseval model's loss drops sit where the closed form puts them."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.special import expit

from analyzer.analyses.correlate import CorrelateParams, permutation_test
from analyzer.stats.calibration import calibration_models, event_study, loss_drop_midpoints, null_variants, rejection_rates
from analyzer.stats.calibration.parseval import GRID, parseval_run
from analyzer.stats.nulls import DEFAULT_NULL, NULLS


def binomial_bound(alpha: float, n: int) -> float:
    """alpha plus three binomial SEs: a rate above it is not alpha (one-sided, about 1 in 700 by chance)."""
    return alpha + 3 * math.sqrt(alpha * (1 - alpha) / n)


def test_default_null_keeps_its_level_under_a_shared_clock_where_swap_fails():
    """200 studies of 4 presets x 8 runs, each run's jumps and references shifted by one clock of SD 0.3 decades and
    no coupling: the default rejects at most alpha + 3 SE, the swap null far more (the bench: 0.43)."""
    n = 200
    nulls = null_variants({"default": (DEFAULT_NULL, {}), "swap": ("swap", {})})
    rates = rejection_rates(calibration_models()["clock-0.3"], nulls, n, n_draws=99, seed=7)
    assert rates["default"]["rate"] <= binomial_bound(0.05, n), rates
    assert rates["swap"]["rate"] > 2 * binomial_bound(0.05, n), rates


def test_default_null_finds_planted_coupling():
    nulls = null_variants({"default": (DEFAULT_NULL, {})})
    rates = rejection_rates(calibration_models()["planted-clock-0.2"], nulls, 40, n_draws=99, seed=3)
    assert rates["default"]["rate"] >= 0.7 and rates["default"]["effect"] < 0


def test_log_uniform_rejects_clustered_events_without_coupling():
    nulls = null_variants({"log-uniform": ("log-uniform", {})})
    rates = rejection_rates(calibration_models()["independent-edges"], nulls, 40, n_draws=99, seed=7)
    assert rates["log-uniform"]["rate"] > 0.5  # jumps and edges crowd into the early transient (the bench: 0.94)


def test_the_clock_moves_every_event_of_a_run_and_events_past_the_end_are_dropped():
    rng = np.random.default_rng(0)
    study = event_study(rng, clock_sd=0.3)
    assert len(study.jumps) == 32 and all(np.all((j >= 0) & (j <= 10_000)) for j in study.jumps)
    assert all(len(label) == len(j) for label, j in zip(study.labels, study.jumps))


def test_a_single_sigmoid_drop_has_its_midpoint_at_the_sigmoid_centre():
    for centre, width in [(1.5, 0.05), (2.7, 0.1), (3.3, 0.03)]:
        residual = 1.0 - expit((GRID - centre) / width)
        loss = residual ** 2 + 1e-3
        mids = loss_drop_midpoints(np.log10(loss))
        # the remaining fraction sqrt((L - L1) / (L0 - L1)) is the residual itself, 1/2 at the centre
        assert len(mids) == 1 and mids[0] == pytest.approx(centre, abs=0.01)


def test_the_decoupled_loss_has_no_drop_of_its_own_frequency():
    rng = np.random.default_rng(4)
    jumps, modes, whole, without = parseval_run(rng, "wide", clock=0.0)
    assert len(whole) >= 3
    for k, mids in without.items():
        own = jumps[list(modes).index(k)]
        others = [jumps[list(modes).index(j)] for j in modes if j != k]
        assert all(min(abs(m - o) for o in others) < 0.2 for m in mids)  # every drop is another frequency's
        assert len(mids) == 0 or np.abs(mids - own).min() > 0.1 or min(abs(own - o) for o in others) < 0.3


def test_auto_is_the_default_and_keeps_single_runs_apart():
    jumps, refs = [np.array([10.0]), np.array([20.0])], [np.array([12.0]), np.array([25.0])]
    both = permutation_test(jumps, refs, [100, 100], CorrelateParams(n_permutations=9), groups=["a", "a"])
    alone = permutation_test(jumps[:1], refs[:1], [100], CorrelateParams(n_permutations=9), groups=["a"])
    assert both["null_name"] == DEFAULT_NULL
    assert not NULLS[alone["null_name"]].exchanges


def test_swap_per_run_sums_add_up_to_the_pooled_effect():
    study = event_study(np.random.default_rng(3))
    outcome = permutation_test(study.jumps, study.references, study.spans,
                               CorrelateParams(null="swap", n_permutations=999), groups=study.groups)
    shares = sum(r["observed_sum"] - r["null_sum"] for r in outcome["per_run"]) / outcome["n_jumps"]
    assert shares == pytest.approx(outcome["effect"], abs=1e-12)
