"""The one cluster bootstrap of the tree: clusters (runs) resampled within strata (groups), any statistic written
as a function of per-cluster resampling weights.

A statistic is `statistic(weights) -> values`, weights of shape (B, n_clusters) (how many times each cluster is in
each resample; all ones is the data itself), values of shape (B,) or (B, k). So the ratio-of-sums jump effect,
the Cochran-Mantel-Haenszel-weighted saddle difference and the mean of escape rows are all one call: each says
how a cluster's rows enter when the cluster appears w times. Runs are the clusters because a run's events share
its references, its loss curve and its seed.

Intervals: `percentile_ci` (the draws' quantiles) and `studentized_ci` (bootstrap-t: the quantiles of
(draw - estimate) / draw_se set against the data's SE, never narrower than the t interval). The jump effect's
interval is the studentised one: with 4-8 runs in each of 4-6 groups it covered 0.962-1.000 of simulated studies
without and with planted coupling under the default null (swap 0.944-1.000, interval-jitter 0.940-0.968, shift
0.936-0.958; bench/null_calibration.py, "coverage"; the former percentile interval on the attenuated effect
covered 0.89-0.91). Measured and not used for it: the bootstrap-t alone
(0.85-0.90: a swap-type effect is a U-statistic of runs, whose resampled copies do not spread as new runs do), the
wild cluster bootstrap-t (0.90-0.92 with planted coupling, whose run contributions are skewed), the double
bootstrap (0.89-0.92). `centred_p_value` is the two-sided bootstrap test of "no difference".
Support: a studentised interval's bounds are cut to the values the quantity can take (`clip_to_support`: a mean
learned step in [0, L], a Kendall tau in [-1, 1], a jump effect within the runs' log-step range): with few runs and
one extreme run the bootstrap-t bounds can reach past them, and the true value lies there, so the cut loses no
coverage. A percentile interval needs no cut: it lies within the draws, which lie in the support.
An interval needs MIN_RUNS_FOR_CI clusters: `too_few_runs` says so instead of printing one from 3-4 runs.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np

from analyzer.stats.constants import CONFIDENCE, MIN_RUNS_FOR_CI, N_RESAMPLES

TOO_FEW_RUNS = "too few runs for a CI"


def resampling_weights(strata, n_resamples: int, rng: np.random.Generator) -> np.ndarray:
    """(n_resamples, n_clusters) counts: each stratum's clusters drawn with replacement, as many as it has."""
    strata = np.asarray(list(strata), dtype=object)
    weights = np.zeros((n_resamples, len(strata)))
    for stratum in dict.fromkeys(strata.tolist()):
        members = np.flatnonzero(strata == stratum)
        weights[:, members] = rng.multinomial(len(members), np.full(len(members), 1 / len(members)), n_resamples)
    return weights


def cluster_bootstrap(statistic: Callable[[np.ndarray], np.ndarray], strata, n_resamples: int = N_RESAMPLES,
                      seed: int | np.random.Generator = 0, batch: int = 2000) -> np.ndarray:
    """The statistic's draws over n_resamples cluster resamples (module docstring), in batches of `batch`.

    Args:
        statistic: weights (B, n_clusters) -> (B,) or (B, k).
        strata: per cluster, its stratum (resampling stays inside a stratum).
    """
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    strata = list(strata)
    parts = []
    for start in range(0, n_resamples, batch):
        weights = resampling_weights(strata, min(batch, n_resamples - start), rng)
        parts.append(np.asarray(statistic(weights), dtype=np.float64))
    return np.concatenate(parts) if parts else np.empty(0)


def slope_draws(x, y, clusters, n_resamples: int = N_RESAMPLES, seed: int = 0, strata=None) -> np.ndarray:
    """Least-squares slopes of y on x over n_resamples cluster resamples (all of a cluster's points together;
    NaN where a resample has a single x), from each cluster's moments n, Sx, Sy, Sxx, Sxy."""
    x, y, clusters = np.asarray(x, np.float64), np.asarray(y, np.float64), np.asarray(list(clusters), dtype=object)
    names = list(dict.fromkeys(clusters.tolist()))
    moments = np.array([[np.sum(m), x[m].sum(), y[m].sum(), (x[m] ** 2).sum(), (x[m] * y[m]).sum()]
                        for m in (clusters == name for name in names)])

    def slope(weights: np.ndarray) -> np.ndarray:
        n, sx, sy, sxx, sxy = (weights @ moments).T
        with np.errstate(invalid="ignore", divide="ignore"):
            denominator = sxx - sx ** 2 / n
            return np.where(denominator > 1e-12 * np.maximum(sxx, 1e-300), (sxy - sx * sy / n) / denominator, np.nan)

    layers = [""] * len(names) if strata is None else list(strata)
    return cluster_bootstrap(slope, layers, n_resamples, seed)


def percentile_ci(draws, confidence: float = CONFIDENCE) -> tuple[float | None, float | None]:
    """The draws' (1 - confidence) / 2 and (1 + confidence) / 2 quantiles (NaN draws left out)."""
    draws = np.asarray(draws, dtype=np.float64)
    draws = draws[np.isfinite(draws)]
    if len(draws) == 0:
        return None, None
    tail = (1 - confidence) / 2
    low, high = np.quantile(draws, [tail, 1 - tail])
    return float(low), float(high)


UNBOUNDED = (-math.inf, math.inf)  # the support of a quantity that can take any value


def clip_to_support(low: float | None, high: float | None, support: tuple[float, float] = UNBOUNDED
                    ) -> tuple[float | None, float | None]:
    """An interval's bounds cut to `support`, the values the quantity can take (module docstring); None stays None."""
    return (None if low is None else float(np.clip(low, *support)),
            None if high is None else float(np.clip(high, *support)))


DEGENERATE_SE = 1e-9  # a resample's SE below this x the sample's is a resample without spread (studentized_ci)


def studentized_ci(estimate: float, se: float, draws, draw_ses, confidence: float = CONFIDENCE,
                   df: float | None = None, support: tuple[float, float] = UNBOUNDED
                   ) -> tuple[float | None, float | None]:
    """Bootstrap-t interval: estimate - q_hi se, estimate - q_lo se, q the quantiles of (draw - estimate) / draw_se
    (draws whose SE is zero, rounding-small or undefined left out); with `df`, never narrower on either side than
    the t interval estimate -+ t_{df} se (with 4-8 runs a group the bootstrap-t quantiles alone came out too narrow);
    cut to `support` (clip_to_support)."""
    draws, draw_ses = np.asarray(draws, dtype=np.float64), np.asarray(draw_ses, dtype=np.float64)
    # a resample whose runs all carry one value has SE 0, or rounding noise (1e-18) that would turn its t into 1e13
    # and the interval into nonsense: below DEGENERATE_SE x the sample's SE it counts as 0 and is left out
    usable = np.isfinite(draws) & np.isfinite(draw_ses) & (draw_ses > DEGENERATE_SE * abs(se))
    if not (math.isfinite(estimate) and math.isfinite(se)) or usable.sum() < 10:
        return None, None
    tail = (1 - confidence) / 2
    q_low, q_high = np.quantile((draws[usable] - estimate) / draw_ses[usable], [tail, 1 - tail])
    if df is not None and df > 0:
        from scipy import stats  # here, not at the top: `analyze --help` must not load scipy.special

        q_t = float(stats.t.ppf(1 - tail, df))
        q_low, q_high = min(q_low, -q_t), max(q_high, q_t)
    return clip_to_support(float(estimate - q_high * se), float(estimate - q_low * se), support)


def centred_p_value(draws, estimate: float) -> float | None:
    """Two-sided bootstrap p-value of "no difference": P*(|draw - estimate| >= |estimate|), with the +1 correction."""
    draws = np.asarray(draws, dtype=np.float64)
    draws = draws[np.isfinite(draws)]
    if len(draws) == 0 or not math.isfinite(estimate):
        return None
    return float((np.sum(np.abs(draws - estimate) >= abs(estimate)) + 1) / (len(draws) + 1))


def too_few_runs(n_clusters: int) -> str | None:
    """The reason an interval is not given ("too few runs for a CI"), or None when there are enough clusters."""
    if n_clusters < MIN_RUNS_FOR_CI:
        return f"{TOO_FEW_RUNS} ({n_clusters} < {MIN_RUNS_FOR_CI})"
    return None


def group_ci(n_runs: int, interval: Callable[[], tuple[float | None, float | None]]
             ) -> tuple[float | None, float | None, str]:
    """(low, high, reason) of one group's interval: None bounds and the reason with fewer than MIN_RUNS_FOR_CI runs
    (3-4 runs give intervals that contradict exact p-values), else `interval()` and ""."""
    reason = too_few_runs(n_runs)
    if reason:
        return None, None, reason
    low, high = interval()
    return low, high, ""
