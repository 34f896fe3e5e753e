"""Escape's line in `analyze study`'s up-front plan: a certified eigensystem at each escape's plateau checkpoint and
at up to --control-starts control starts, each costed as the Hessian's certified run (curvature/cost.py,
curvature/hvp_timing.py)."""

from __future__ import annotations

from analyzer.errors import AnalysisFailed, BadInputError


def estimate(run, overrides: dict, use_cache: bool, cache=None, timings=None):
    """The registry's `Hooks.estimate` (curvature/cost.CheckpointPlan): its seconds, none counted as
    Hessian checkpoints (escape's eigensystems are not the Hessian analysis' progress units)."""
    import numpy as np

    from analyzer.analyses.escape.windows import escape_windows
    from analyzer.core.progress import duration
    from analyzer.core.registry import get, make_params
    from analyzer.core.runner import analyze
    from analyzer.curvature.cost import (CheckpointPlan, certified_run_seconds, expected_hvps, hvp_seconds,
                                         relu_hidden_layers)
    from analyzer.curvature.hvp_timing import HvpTimings

    params = make_params(get("escape"), **{k: v for k, v in overrides.items() if not isinstance(v, dict)})
    try:
        plateaus = analyze(run, "plateaus", cache=cache, use_cache=use_cache, **overrides.get("plateaus", {}))
        windows = escape_windows(plateaus, np.asarray(run.ckpt_steps, dtype=np.int64))
    except (BadInputError, AnalysisFailed) as err:
        return CheckpointPlan(0, 0.0, f"escape not estimated ({str(err).splitlines()[0]})")
    if not windows:
        return CheckpointPlan(0, 0.0, "no escape windows: no eigensystem")
    n_params, systems = int(run.n_params), len(windows) * (1 + params.control_starts)  # at most: shared steps once
    probe = (timings or HvpTimings()).of(run, int(windows[0].plateau_step), params.dtype)
    n = n_params if probe is None else probe.n_live
    per_hvp = hvp_seconds(run) * n / n_params if probe is None else probe.seconds
    dimension = expected_hvps(params.krylov_steps, n_params, n, relu_hidden_layers(run))
    each = (certified_run_seconds(dimension, n, per_hvp) if probe is None else
            certified_run_seconds(dimension, n, per_hvp, probe.flops_per_s))
    return CheckpointPlan(0, 0.0, f"{len(windows)} escape window(s), up to {systems} certified eigensystem(s) of "
                                  f"~{dimension:,.0f} HVPs: up to ~{duration(systems * each)}",
                          seconds_once=systems * each)
