"""The Hessian's line in an up-front plan (`analyze report`, `analyze study`): its checkpoints (from the plateaus,
computed here first, cheap, and cached for the work that follows), its method and an expected time: the expected
HVPs of a checkpoint (curvature/cost.py, expected_hvps: a certified run stops at the Hessian's rank, well before
its cap) at the time of one HVP timed on the run's model (curvature/hvp_timing.py), or from the flop count when the
model cannot be rebuilt."""

from __future__ import annotations

from analyzer.curvature.cost import CheckpointPlan
from analyzer.errors import AnalysisFailed, BadInputError


def checkpoint_plan(run, overrides: dict, use_cache: bool, cache=None, timings=None) -> CheckpointPlan:
    """The checkpoints the Hessian will visit on `run`, their expected cost and the index method.

    Args:
        overrides: the Hessian's parameters, and the plateaus' under "plateaus".
        timings: the plan's hvp_timing.HvpTimings (one probe per run); None: a probe of its own.
    """
    from analyzer.analyses.hessian.checkpoints import select_checkpoints
    from analyzer.core.progress import duration
    from analyzer.core.registry import get, make_params
    from analyzer.core.runner import analyze
    from analyzer.curvature.cost import TWIN_METHOD, hvp_seconds, method_label, resolve_method, twin_seconds
    from analyzer.curvature.hvp_timing import HvpTimings

    params = make_params(get("hessian"), **{k: v for k, v in overrides.items() if not isinstance(v, dict)})
    n_params = int(run.n_params)
    try:
        points, how = select_checkpoints(
            run, params, lambda: analyze(run, "plateaus", cache=cache, use_cache=use_cache,
                                         **overrides.get("plateaus", {})))
        per_hvp = hvp_seconds(run)
        twin = run.linearized is not None
        exact_twin = resolve_method(params.method, n_params, params.k, params.dense_max_params, twin) == TWIN_METHOD
    except (BadInputError, AnalysisFailed) as err:  # the report says it again in its section
        return CheckpointPlan(0, 0.0, f"P = {n_params:,}, Hessian not estimated ({str(err).splitlines()[0]})")
    probe = None if exact_twin or not points else (timings or HvpTimings()).of(run, points[len(points) // 2][0],
                                                                              params.dtype)
    each, count = _expected(run, params, per_hvp, probe, twin)
    if exact_twin:  # one Jacobian and one eigh for the run, then a gradient per checkpoint
        once = twin_seconds(int(run.data("y_train").size), n_params, per_hvp)
        return CheckpointPlan(len(points), each, (
            f"P = {n_params:,}, Hessian at {len(points)} checkpoint(s) ({how}) of a linearised twin, no HVP: "
            f"~{duration(once)} once, then ~{duration(each)} each; index: {method_label(params, n_params, twin=twin)}"),
            seconds_once=once)
    return CheckpointPlan(len(points), each, (
        f"P = {n_params:,}, Hessian at {len(points)} checkpoint(s) ({how}), {count} each: "
        f"~{duration(each)} each; index: {method_label(params, n_params, per_hvp)}"))


def _expected(run, params, per_hvp: float, probe, twin: bool) -> tuple[float, str]:
    """One checkpoint's expected seconds and its HVPs in words: timed by `probe` (hvp_timing.HvpProbe) when there is
    one, else from the flop count `per_hvp`."""
    from analyzer.curvature.cost import (checkpoint_budget, checkpoint_seconds, estimated, expected_hvps,
                                                relu_hidden_layers)

    n_params = int(run.n_params)
    layers = relu_hidden_layers(run)
    n_live = None if probe is None else probe.n_live
    timed = {} if probe is None else {"live_hvp_s": probe.seconds, "reorth_flops_per_s": probe.flops_per_s}
    each = checkpoint_seconds(params, n_params, per_hvp, twin=twin, n_live=n_live, hidden_layers=layers, **timed)
    cap = checkpoint_budget(params, n_params, per_hvp, twin=twin)
    ms = 1e3 * (per_hvp if probe is None else probe.seconds)
    how = "flop count" if probe is None else f"timed on {probe.n_live:,} live parameters at step {probe.step}"
    if twin or estimated(params, n_params, per_hvp, n_live):
        return each, f"up to {cap:,} HVPs at ~{ms:.2g} ms ({how})"
    expected = expected_hvps(params.krylov_steps, n_params, n_live, layers)
    return each, f"~{expected:,.0f} HVPs expected (up to {cap:,}) at ~{ms:.2g} ms ({how})"


def estimate(run, overrides: dict, use_cache: bool, cache=None, timings=None) -> CheckpointPlan:
    """The registry's `Hooks.estimate`: the checkpoint plan, for `analyze report`'s and `analyze study`'s plans."""
    return checkpoint_plan(run, overrides, use_cache, cache, timings)
