"""The permutation test of jump-to-reference distances as `analyze correlate` reads it: a thin user of
analyzer.stats.permutation.jump_test (the test, its nulls and its effect live in analyzer/stats)."""

from __future__ import annotations

from collections import Counter

import numpy as np

from analyzer.analyses.correlate.params import CorrelateParams
from analyzer.stats.distances import nearest, scale_steps
from analyzer.stats.nulls import DEFAULT_NULL, NULLS
from analyzer.stats.permutation import jump_test

__all__ = ["nearest", "permutation_test", "scale_steps"]

FALLBACK_NULL = "shift"  # "auto" on a group of one run when the default exchanges between runs: calibrated under
# every null model of bench/null_calibration.py (worst false-positive rate 0.036), if weak (power 0.41 against 0.86)


def permutation_test(jump_steps_per_run, reference_steps_per_run, run_lengths, params: CorrelateParams,
                     groups=None, names=None, strict: bool = True, labels=None) -> dict:
    """The permutation test on arrays, pooled over runs.

    Args:
        jump_steps_per_run: per run, the jump steps.
        reference_steps_per_run: per run, the reference steps, escapes or edges.
        run_lengths: per run, the last step L (range [0, L]) or a (first, last) pair.
        groups: per run, its group (swap-type nulls exchange references within a group; default: one group).
        strict: a swap-type null on a group of one run raises BadInputError (True) or leaves the group out.
        labels: per run, each jump's label (its frequency), read by the clock-aligned swap.
    Returns:
        dict with observed, null_mean, null_std, p_value, effect_size (in null SDs), effect (observed - null
        mean, in the null's units; swap-type nulls: against the other runs' references only), n_jumps (jumps in
        runs that inform the test), n_runs (those runs), per_run (one row per such run: index, n_jumps,
        observed_sum, null_sum: sums of distances and of what the effect compares them with), notes, exact,
        null_name (the null used), and null (the null statistics); statistics are NaN when no jump can be tested.
    """
    spans = [(0, span) if np.ndim(span) == 0 else tuple(span) for span in run_lengths]
    groups = list(groups) if groups is not None else [""] * len(spans)
    null_name = resolved_null(params, min(Counter(groups).values(), default=2))
    outcome = jump_test(jump_steps_per_run, reference_steps_per_run, spans, groups, null=null_name,
                        n_permutations=params.n_permutations, seed=params.seed, statistic=params.statistic,
                        tolerance=params.tolerance, names=names, strict=strict, labels=labels, n_resamples=0)
    per_run = [{"index": r.index, "n_jumps": r.n_jumps, "observed_sum": r.observed_sum, "null_sum": r.reference_sum}
               for r in outcome.per_run]
    return {"observed": outcome.observed, "null_mean": outcome.null_mean, "null_std": outcome.null_std,
            "p_value": outcome.p_value, "effect_size": outcome.effect_size, "effect": outcome.effect,
            "n_jumps": outcome.n_jumps, "n_runs": outcome.n_runs, "per_run": per_run, "notes": list(outcome.notes),
            "exact": outcome.exact, "null_name": outcome.null, "null": outcome.null_statistics}


def resolved_null(params: CorrelateParams, smallest_group: int) -> str:
    """The null the test runs: params.null, with "auto" read as the calibrated default, or FALLBACK_NULL (which keeps
    each run apart) where a group has a single run and the default exchanges references between runs."""
    if params.null != "auto":
        return params.null
    return FALLBACK_NULL if smallest_group < 2 and NULLS[DEFAULT_NULL].exchanges else DEFAULT_NULL
