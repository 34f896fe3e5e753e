"""The Hessian's line in an up-front plan (`analyze report`, `analyze study`): its checkpoints (from the plateaus,
computed here first, cheap, and cached for the work that follows), its method and a rough time from the HVP's flop
count (cost.py). The figure is a rough upper bound: a certified run that finds a low-rank Hessian stops well before
its cap."""

from __future__ import annotations

from dataclasses import dataclass

from analyzer.errors import AnalysisFailed, BadInputError


@dataclass(frozen=True)
class CheckpointPlan:
    """The checkpoints the Hessian will visit on a run and their rough cost; n_checkpoints 0 when not estimated
    (`text` says why)."""

    n_checkpoints: int
    seconds_each: float
    text: str
    seconds_once: float = 0.0  # a linearised twin's Jacobian and eigensystem, computed once for the run

    @property
    def seconds(self) -> float:
        return self.seconds_once + self.n_checkpoints * self.seconds_each


def checkpoint_plan(run, overrides: dict, use_cache: bool, cache=None) -> CheckpointPlan:
    """The checkpoints the Hessian will visit on `run`, their rough cost and the index method.

    Args:
        overrides: the Hessian's parameters, and the plateaus' under "plateaus".
    """
    from analyzer.analyses.hessian.checkpoints import select_checkpoints
    from analyzer.analyses.hessian.cost import (TWIN_METHOD, checkpoint_budget, checkpoint_seconds, hvp_seconds,
                                                method_label, resolve_method, twin_seconds)
    from analyzer.core.progress import duration
    from analyzer.core.registry import get, make_params
    from analyzer.core.runner import analyze

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
    each = checkpoint_seconds(params, n_params, per_hvp, twin=twin)
    if exact_twin:  # one Jacobian and one eigh for the run, then a gradient per checkpoint
        once = twin_seconds(int(run.data("y_train").size), n_params, per_hvp)
        return CheckpointPlan(len(points), each, (
            f"P = {n_params:,}, Hessian at {len(points)} checkpoint(s) ({how}) of a linearised twin, no HVP: "
            f"~{duration(once)} once, then ~{duration(each)} each; index: {method_label(params, n_params, twin=twin)}"),
            seconds_once=once)
    return CheckpointPlan(len(points), each, (
        f"P = {n_params:,}, Hessian at {len(points)} checkpoint(s) ({how}), up to "
        f"{checkpoint_budget(params, n_params, per_hvp):,} HVPs each at ~{1e3 * per_hvp:.2g} ms (flop count): up to "
        f"~{duration(each)} each; index: {method_label(params, n_params, per_hvp)}"))


def estimate(run, overrides: dict, use_cache: bool, cache=None) -> CheckpointPlan:
    """The registry's `Analysis.estimate`: the checkpoint plan, for `analyze report`'s and `analyze study`'s plans."""
    return checkpoint_plan(run, overrides, use_cache, cache)
