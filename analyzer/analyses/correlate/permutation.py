"""The permutation test of jump-to-reference distances, pooled over runs, on plain arrays (nulls: nulls.py)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from analyzer.analyses.correlate.nulls import draw_null, scale_steps
from analyzer.analyses.correlate.params import CorrelateParams

__all__ = ["nearest", "permutation_test", "scale_steps"]


def nearest(points: np.ndarray, sorted_reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each point to the nearest reference point, and that point's index; any shape of points."""
    if len(sorted_reference) > 1:
        right = np.clip(np.searchsorted(sorted_reference, points), 1, len(sorted_reference) - 1)
    else:
        right = np.zeros(points.shape, dtype=np.int64)
    left = np.maximum(right - 1, 0)
    d_left, d_right = np.abs(points - sorted_reference[left]), np.abs(points - sorted_reference[right])
    return np.minimum(d_left, d_right), np.where(d_left <= d_right, left, right)


def permutation_test(jump_steps_per_run, reference_steps_per_run, run_lengths, params: CorrelateParams,
                     groups=None, names=None, strict: bool = True) -> dict:
    """The permutation test on arrays, pooled over runs.

    Args:
        jump_steps_per_run: per run, the jump steps.
        reference_steps_per_run: per run, the reference steps, escapes or edges.
        run_lengths: per run, the last step L (range [0, L]) or a (first, last) pair.
        groups: per run, its group (the swap null exchanges references within a group; default: one group).
        strict: swap on a group of one run raises BadInputError (True) or leaves the group out with a note.
    Returns:
        dict with observed, null_mean, null_std, p_value, effect_size (in null SDs), effect (observed - null
        mean, in the null's units), n_jumps (jumps in runs that inform the test), n_runs (those runs), per_run
        (one row per such run: index, n_jumps, observed_sum, null_sum: sums of distances and of their null
        means), notes, exact, null_name (the null used), and null (the null statistics); statistics are NaN when no jump can be tested.
    """
    spans = [(0, span) if np.ndim(span) == 0 else tuple(span) for span in run_lengths]
    groups = list(groups) if groups is not None else [""] * len(spans)
    null_name = resolved_null(params, min(Counter(groups).values(), default=2))
    draws = draw_null(jump_steps_per_run, reference_steps_per_run, spans, groups, null_name,
                      params.n_permutations, np.random.default_rng(params.seed), names, strict)
    n_jumps = sum(len(p) for p in draws.observed)
    if n_jumps == 0:
        nan = float("nan")
        return {"observed": nan, "null_mean": nan, "null_std": nan, "p_value": nan, "effect_size": nan,
                "effect": nan, "n_jumps": 0, "n_runs": 0, "per_run": [], "notes": draws.notes, "exact": False,
                "null_name": null_name, "null": np.empty(0)}
    observed_d, null_d = np.concatenate(draws.observed), np.concatenate(draws.null, axis=1)
    if params.statistic == "mean_distance":
        observed, null = float(observed_d.mean()), null_d.mean(axis=1)
        extreme, sign = np.sum(null <= observed + 1e-12), 1.0  # small distances are the association; ties count
    else:
        observed, null = float(np.mean(observed_d <= params.tolerance)), np.mean(null_d <= params.tolerance, axis=1)
        extreme, sign = np.sum(null >= observed - 1e-12), -1.0
    null_std = float(null.std(ddof=1)) if len(null) > 1 else float("nan")
    effect_size = sign * (float(null.mean()) - observed) / null_std if null_std > 0 else float("nan")
    null_sums = draws.null_sums or [float(d.mean(axis=0).sum()) for d in draws.null]
    per_run = [{"index": i, "n_jumps": len(o), "observed_sum": float(o.sum()), "null_sum": null_sum}
               for i, o, null_sum in zip(draws.runs, draws.observed, null_sums)]
    return {"observed": observed, "null_mean": float(null.mean()), "null_std": null_std,
            "p_value": float((1 + extreme) / (1 + len(null))), "effect_size": effect_size,
            "effect": observed - float(null.mean()), "n_jumps": n_jumps, "n_runs": len(draws.runs),
            "per_run": per_run, "notes": draws.notes, "exact": draws.exact, "null_name": null_name, "null": null}


def resolved_null(params: CorrelateParams, smallest_group: int) -> str:
    """The null the test runs: params.null, with "auto" read as swap, or shift where a group has a single run (a
    single run has no other run to swap with; shift is then the only null that keeps its structure)."""
    if params.null != "auto":
        return params.null
    return "shift" if smallest_group < 2 else "swap"
