"""The permutation test of jump-to-reference distances, pooled over runs, on plain arrays."""

from __future__ import annotations

import numpy as np

from analyzer.analyses.correlate.params import CorrelateParams


def scale_steps(steps, null: str) -> np.ndarray:
    steps = np.asarray(steps, dtype=np.float64)
    return np.log10(steps + 1.0) if null == "log-uniform" else steps


def nearest(points: np.ndarray, sorted_reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distance from each point to the nearest reference point, and that point's index; any shape of points."""
    if len(sorted_reference) > 1:
        right = np.clip(np.searchsorted(sorted_reference, points), 1, len(sorted_reference) - 1)
    else:
        right = np.zeros(points.shape, dtype=np.int64)
    left = np.maximum(right - 1, 0)
    d_left, d_right = np.abs(points - sorted_reference[left]), np.abs(points - sorted_reference[right])
    return np.minimum(d_left, d_right), np.where(d_left <= d_right, left, right)


def permutation_test(jump_steps_per_run, reference_steps_per_run, run_lengths, params: CorrelateParams) -> dict:
    """The permutation test on arrays, pooled over runs.

    Args:
        jump_steps_per_run: per run, the jump steps.
        reference_steps_per_run: per run, the reference steps, escapes or edges (fixed under the null).
        run_lengths: per run, the last step L (range [0, L]) or a (first, last) pair.
    Returns:
        dict with observed, null_mean, null_std, p_value, effect_size, n_jumps (jumps in runs with reference points),
        and null (the (n_permutations,) null statistics); statistics are NaN when no jump can be tested.
    """
    rng = np.random.default_rng(params.seed)
    observed_parts, null_parts = [], []
    for jump_steps, reference_steps, span in zip(jump_steps_per_run, reference_steps_per_run, run_lengths):
        first, last = (0, span) if np.ndim(span) == 0 else span
        reference_u = np.sort(scale_steps(reference_steps, params.null))
        jumps_u = scale_steps(jump_steps, params.null)
        if len(reference_u) == 0 or len(jumps_u) == 0:
            continue  # a jump has no distance to a missing reference point; such runs cannot inform the test
        low, high = scale_steps([first, last], params.null)
        observed_parts.append(nearest(jumps_u, reference_u)[0])
        null_parts.append(nearest(rng.uniform(low, high, (params.n_permutations, len(jumps_u))), reference_u)[0])
    n_jumps = sum(len(p) for p in observed_parts)
    if n_jumps == 0:
        nan = float("nan")
        return {"observed": nan, "null_mean": nan, "null_std": nan, "p_value": nan, "effect_size": nan,
                "n_jumps": 0, "null": np.empty(0)}
    observed_d, null_d = np.concatenate(observed_parts), np.concatenate(null_parts, axis=1)
    if params.statistic == "mean_distance":
        observed, null = float(observed_d.mean()), null_d.mean(axis=1)
        extreme, sign = np.sum(null <= observed), 1.0  # small distances are the association
    else:
        observed, null = float(np.mean(observed_d <= params.tolerance)), np.mean(null_d <= params.tolerance, axis=1)
        extreme, sign = np.sum(null >= observed), -1.0
    null_std = float(null.std(ddof=1)) if len(null) > 1 else float("nan")
    effect = sign * (float(null.mean()) - observed) / null_std if null_std > 0 else float("nan")
    return {"observed": observed, "null_mean": float(null.mean()), "null_std": null_std,
            "p_value": float((1 + extreme) / (1 + params.n_permutations)), "effect_size": effect,
            "n_jumps": n_jumps, "null": null}
