"""The Hessian's line in the report's up-front plan: its checkpoints (from the plateaus, computed here first,
cheap, and cached for the report), its method and a rough time from the HVP's flop count (cost.py). The figure is a
rough upper bound: a certified run that finds a low-rank Hessian stops well before its cap."""

from __future__ import annotations

from analyzer.errors import AnalysisFailed, BadInputError


def estimate(run, overrides: dict, use_cache: bool, cache=None) -> tuple[float, str]:
    """(seconds, phrase): the checkpoints the Hessian will visit on `run`, their rough cost and the index method.

    Args:
        overrides: the report's parameters for the Hessian, and for the plateaus under "plateaus".
    """
    from analyzer.analyses.hessian.checkpoints import select_checkpoints
    from analyzer.analyses.hessian.cost import checkpoint_budget, checkpoint_seconds, hvp_seconds, method_label
    from analyzer.core.progress import duration
    from analyzer.core.registry import get, make_params
    from analyzer.core.runner import analyze

    params = make_params(get("hessian"), **{k: v for k, v in overrides.items() if not isinstance(v, dict)})
    n_params = int(run.n_params)
    try:
        plateaus = analyze(run, "plateaus", cache=cache, use_cache=use_cache, **overrides.get("plateaus", {}))
        points, _ = select_checkpoints(run, params, lambda: plateaus)
        per_hvp = hvp_seconds(run)
    except (BadInputError, AnalysisFailed) as err:  # the report says it again in its section
        return 0.0, f"P = {n_params:,}, Hessian not estimated ({str(err).splitlines()[0]})"
    each = checkpoint_seconds(params, n_params, per_hvp)
    return each * len(points), (f"P = {n_params:,}, Hessian at {len(points)} checkpoint(s), up to "
                                f"{checkpoint_budget(params, n_params, per_hvp):,} HVPs each at ~{1e3 * per_hvp:.2g} ms (flop count): up to "
                                f"~{duration(each)} each; index: {method_label(params, n_params, per_hvp)}")
