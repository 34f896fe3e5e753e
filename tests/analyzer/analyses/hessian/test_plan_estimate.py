"""The up-front plan's time estimate: an expected HVP count (not the cap) at a per-HVP time timed on the run's model
(curvature/hvp_timing.py), the flop count when no probe is possible, and a route that never depends on the timing."""

import math
from types import SimpleNamespace

import pytest

from analyzer.analyses.hessian.params import HessianParams
from analyzer.curvature.cost import (HVPS_PER_SQRT_LIVE_PER_LAYER, REORTH_FLOPS_PER_S, checkpoint_budget,
                                     checkpoint_seconds, estimate_reason, expected_hvps, hvp_seconds)
from analyzer.linalg.subspace import PROBES


def test_expected_hvps_follow_the_live_parameters_and_depth_never_above_the_cap():
    cap = HessianParams().krylov_steps
    # the demo's deep run: 5 hidden layers (4 hidden-to-hidden), 3,308 live of 10,351; the run used 1,934 HVPs
    deep = expected_hvps(cap, 10_351, 3_308, hidden_layers=5)
    assert deep == pytest.approx(HVPS_PER_SQRT_LIVE_PER_LAYER * 4 * math.sqrt(3_308))
    assert 1_934 / 1.5 < deep < 1_934 * 1.5
    assert expected_hvps(cap, 2_701, 710, hidden_layers=2) == pytest.approx(8.0 * math.sqrt(710))
    assert expected_hvps(cap, 2_701, 710, hidden_layers=1) == expected_hvps(cap, 2_701, 710, hidden_layers=2)
    # no measured relation (not a ReLU MLP on 1-D inputs): the cap, on the live parameters when known
    assert expected_hvps(cap, 2_701, 710) == 710 + PROBES
    assert expected_hvps(300, 10_351, None) == 300 + PROBES
    assert expected_hvps(100, 10_351, 3_308, hidden_layers=5) == 100 + PROBES


def test_the_estimate_uses_the_expected_count_at_the_timed_hvp_not_the_cap():
    params, per_hvp = HessianParams(), 2e-3  # per_hvp: a fake flop-count time per HVP of the full network
    fake_live_s, fake_flops = 1e-3, 2e9
    seconds = checkpoint_seconds(params, 2_701, per_hvp, n_live=710, hidden_layers=2, live_hvp_s=fake_live_s,
                                 reorth_flops_per_s=fake_flops)
    m = 8.0 * math.sqrt(710)
    assert seconds == pytest.approx(m * fake_live_s + 2 * m ** 2 * 710 / fake_flops)
    assert seconds < checkpoint_budget(params, 2_701, per_hvp) * fake_live_s / 10  # the cap: >10x more
    # no probe: the flop count's time, scaled to the live block, at the assumed BLAS speed
    fallback = checkpoint_seconds(params, 2_701, per_hvp, n_live=710, hidden_layers=2)
    assert fallback == pytest.approx(m * per_hvp * 710 / 2_701 + 2 * m ** 2 * 710 / REORTH_FLOPS_PER_S)
    # deterministic: the same arguments, the same figure
    assert seconds == checkpoint_seconds(params, 2_701, per_hvp, n_live=710, hidden_layers=2,
                                         live_hvp_s=fake_live_s, reorth_flops_per_s=fake_flops)


def test_the_route_stays_on_the_flop_count_whatever_the_timing():
    params, per_hvp = HessianParams(), 8.5e-3  # the outside model's flop count: the certified plan > 60 s
    assert estimate_reason(params, 18_000, per_hvp).startswith("planned certified run")
    slow = checkpoint_seconds(params, 18_000, per_hvp, live_hvp_s=10.0)  # a probe that says 10 s an HVP ...
    fast = checkpoint_seconds(params, 18_000, per_hvp, live_hvp_s=1e-6)  # ... or 1 us: the same SLQ route
    budget = checkpoint_budget(params, 18_000, per_hvp)
    assert slow > budget * 10.0 and fast < slow
    assert estimate_reason(params, 2_701, 2e-3) == ""  # and a certified one stays certified at any probed time
    expected = expected_hvps(params.krylov_steps, 2_701, None, 2)
    assert checkpoint_seconds(params, 2_701, 2e-3, live_hvp_s=10.0, hidden_layers=2) == pytest.approx(
        expected * 10.0 + 2 * expected ** 2 * 2_701 / REORTH_FLOPS_PER_S)


@pytest.fixture(scope="module")
def small_run(tmp_path_factory):
    from analyzer.io.run import open_run
    from helpers import small_config
    from trainer.engines.loop import train

    path = tmp_path_factory.mktemp("plan") / "r.h5"
    train(small_config(epochs=30), path, overwrite=True)
    return open_run(path)


def test_the_plan_uses_the_probe_when_there_is_one_and_the_flop_count_otherwise(small_run):
    from analyzer.analyses.hessian.estimate import checkpoint_plan
    from analyzer.curvature.hvp_timing import HvpProbe, HvpTimings

    params, n_params = HessianParams(), int(small_run.n_params)
    fake = HvpProbe(seconds=0.5, step=0, n_live=200, n_params=n_params, flops_per_s=1e9)
    timed = checkpoint_plan(small_run, {}, use_cache=False, timings=HvpTimings(probes={str(small_run.path): fake}))
    assert "timed on 200 live parameters at step 0" in timed.text and "HVPs expected" in timed.text
    assert timed.seconds_each == pytest.approx(checkpoint_seconds(
        params, n_params, hvp_seconds(small_run), n_live=200, hidden_layers=2, live_hvp_s=0.5,
        reorth_flops_per_s=1e9))
    flop = checkpoint_plan(small_run, {}, use_cache=False, timings=HvpTimings(measure=False))
    assert "(flop count)" in flop.text and "timed" not in flop.text
    assert flop.seconds_each == pytest.approx(checkpoint_seconds(params, n_params, hvp_seconds(small_run),
                                                                 hidden_layers=2))
    assert timed.n_checkpoints == flop.n_checkpoints  # the timing changes the figure, nothing else


def test_the_probe_times_the_live_block_once_per_run_and_gives_up_on_a_model_it_cannot_build(small_run):
    from analyzer.curvature.hvp_timing import HvpTimings, probe_hvp

    probe = probe_hvp(small_run, int(small_run.ckpt_steps[-1]))
    assert probe is not None and probe.seconds > 0 and probe.flops_per_s > 0
    assert 0 < probe.n_live <= probe.n_params == int(small_run.n_params)
    broken = SimpleNamespace(path="broken.h5", n_params=10, params_at=lambda step: 1 / 0)
    assert probe_hvp(broken, 0) is None
    timings = HvpTimings()
    first = timings.of(small_run, int(small_run.ckpt_steps[-1]))
    assert timings.of(small_run, int(small_run.ckpt_steps[0])) is first  # memoized per run within a plan
    assert HvpTimings(measure=False).of(small_run, 0) is None
