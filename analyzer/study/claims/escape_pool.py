"""The escapes of a study's network runs pooled (the escape-directions claim, escape_directions.py): the escape
directions against a loss-matched control displacement, and the escape time against curvature for
gradient-descent runs.

Escapes pooled: per escape whose control matched its loss drop (`control_kind` drop+span or drop, see
analyzer/analyses/escape/control.py: a stretch of the same run outside every plateau and escape with a loss drop
within a factor of the escape's, span matched where possible, its Hessian's index chosen close to the escape's)
the paired difference overlap_negative_norm - control_overlap_negative_norm: each overlap with its Hessian's
negative eigenspace in units of n_negative / rank (a random direction's), so that two Hessians with different
numbers of negative eigenvalues compare. Its mean with a 95 % studentised cluster-bootstrap CI and a two-sided
sign-flip p-value over runs (`_paired` says why); no CI or p-value with fewer than MIN_RUNS_FOR_CI runs. The raw
difference of the fractions is kept as `difference_raw` (descriptive), and every escape's control kind is
counted. Frequencies (every escape, whatever its control): how often the most negative eigenvector's J v
carries the frequency that jumps in that escape, against the jumping frequencies permuted across escapes, and
which frequencies it carries.

Escape time: near a strict saddle, gradient descent leaves in about
log(1/delta) / (lr |lambda_min|) steps. For runs with optimizer sgd, each escaped plateau's duration
(end - start) against x = 1 / (lr |lambda_min at its middle checkpoint|): the slope of log10 duration on
log10 x (1 if log(1/delta) were the same everywhere), its R^2 and Spearman rho, and the implied
log(1/delta) = duration x lr |lambda_min| (median and range).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyzer.io.optimizer import is_plain_gd
from analyzer.stats import MIN_RUNS_FOR_CI



def escape_frame(extracts, group_of: dict[str, str]) -> pd.DataFrame:
    """Every escape of the runs (their `analyze escape` tables: (run, table) pairs) with its run, group, lr and
    optimizer."""
    frames = [table.assign(run=r.path, group=group_of[r.path], lr=float(r.config.get("lr", np.nan)),
                           optimizer=str(r.config.get("optimizer", "")))
              for r, table in extracts if table is not None and len(table)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


OVERLAPS = ["overlap_negative", "overlap_top", "overlap_random", "control_overlap_negative", "control_overlap_top",
            "control_overlap_random", "overlap_negative_norm", "overlap_top_norm", "control_overlap_negative_norm",
            "control_overlap_top_norm", "difference_raw", "difference"]  # the tested difference last


def pooled_escapes(escapes: pd.DataFrame, n_resamples: int, seed: int) -> dict:
    """The pooled escape directions and frequencies (module docstring)."""
    from analyzer.analyses.escape.control import LOSS_MATCHED

    matched = escapes.control_kind.isin(LOSS_MATCHED) & np.isfinite(escapes.overlap_negative_norm.astype(float)) \
        & np.isfinite(escapes.control_overlap_negative_norm.astype(float))
    tested = escapes[matched].assign(
        difference=lambda f: f.overlap_negative_norm - f.control_overlap_negative_norm,
        difference_raw=lambda f: f.overlap_negative - f.control_overlap_negative)
    out = {"n_escapes": len(escapes), "n_tested": len(tested), "n_runs": int(tested.run.nunique()),
           "n_runs_with_escapes": int(escapes.run.nunique()),
           "control_kinds": {str(k): int(n) for k, n in escapes.control_kind.value_counts().items()},
           **_paired(tested, n_resamples, seed)}
    known = escapes[np.isfinite(escapes.jump_freq.astype(float))]
    out["freq_matches_jump"] = int(known.freq_matches_jump.sum())
    out["n_with_jump"] = len(known)
    out["freq_match_chance"], out["freq_match_p"] = frequency_match_null(known, n_resamples, seed)
    out["negative_freq_counts"] = {f"{f:g}": int(n) for f, n in
                                   escapes.negative_freq.value_counts().sort_index().items()}
    out["jump_freq_counts"] = {f"{f:g}": int(n) for f, n in known.jump_freq.value_counts().sort_index().items()}
    out["per_group"] = [{"group": g, "n_escapes": len(part), "n_tested": int(part.index.isin(tested.index).sum()),
                         "overlap_negative": float(part.overlap_negative.mean()),
                         "control_overlap_negative": float(part.control_overlap_negative.mean()),
                         "overlap_negative_norm": float(part.overlap_negative_norm.mean()),
                         "control_overlap_negative_norm": float(part.control_overlap_negative_norm.mean()),
                         "overlap_random": float(part.overlap_random.mean()),
                         "freq_matches_jump": int(part.freq_matches_jump.sum())}
                        for g, part in escapes.groupby("group")]
    return out


def _paired(tested: pd.DataFrame, n_resamples: int, seed: int) -> dict:
    """Means of OVERLAPS over the tested escapes with percentile cluster-bootstrap CIs (runs resampled, all of a run's
    escapes together); the tested difference's CI by the studentised interval of a mean over runs weighted by their
    escapes and its two-sided p by sign flips of the runs' summed differences (None, and no CIs, with fewer than
    MIN_RUNS_FOR_CI runs; everything None without a tested escape). Why not the centred percentile p: on simulated
    studies without an effect (tests/analyzer/analyses/escape/test_escape_control.py's planted Hessians) it rejected 11 % and 10 % at 10 and
    20 runs for a nominal 5 %."""
    from analyzer.stats import cluster_bootstrap, mean_interval, percentile_ci, sign_flip

    if tested.empty:
        return {column: None for column in OVERLAPS} | {"p_value": None}
    runs = tested.run.unique()
    sums = tested.groupby("run")[OVERLAPS].sum().reindex(runs).to_numpy(float)
    sizes = tested.groupby("run").size().reindex(runs).to_numpy(float)
    observed = sums.sum(axis=0) / sizes.sum()
    few = len(runs) < MIN_RUNS_FOR_CI  # a bootstrap over so few runs neither covers nor tests
    draws = None if few else cluster_bootstrap(lambda w: (w @ sums) / (w @ sizes)[:, None], [""] * len(runs),
                                               n_resamples, seed)
    out = {}
    for k, column in enumerate(OVERLAPS):
        low, high = (None, None) if few else percentile_ci(draws[:, k])
        out[column] = {"mean": float(observed[k]), "ci_low": low, "ci_high": high}
    if few:
        return out | {"p_value": None}
    _, out["p_value"] = sign_flip(sums[:, -1], total=sizes.sum(), n_draws=n_resamples, seed=seed)
    low, high, _ = mean_interval(sums[:, -1] / sizes, weights=sizes, n_resamples=n_resamples, seed=seed)
    out["difference"].update(ci_low=low, ci_high=high)
    return out


def frequency_match_null(known: pd.DataFrame, n_draws: int, seed: int) -> tuple[float | None, float | None]:
    """(expected matches, one-sided p): how often the most negative direction's frequency equals the jumping one
    when the jumping frequencies are permuted across the escapes (the chance rate given both frequency mixes)."""
    if len(known) < 2:
        return None, None
    negative = known.negative_freq.to_numpy(np.float64)
    jumping = known.jump_freq.to_numpy(np.float64)
    observed = int(np.sum(negative == jumping))
    rng = np.random.default_rng(seed)
    shuffled = rng.permuted(np.tile(jumping, (n_draws, 1)), axis=1)
    null = np.sum(shuffled == negative[None, :], axis=1)
    return float(null.mean()), float((1 + np.sum(null >= observed)) / (1 + n_draws))


def escape_time_fit(escapes: pd.DataFrame, n_resamples: int, seed: int) -> dict | None:
    """Plateau duration against 1 / (lr |lambda_min|) over gradient-descent runs (module docstring)."""
    from scipy import stats

    gd = escapes[escapes.optimizer.map(is_plain_gd).astype(bool) & (escapes.lambda_min < 0)]
    gd = gd.assign(duration=gd.plateau_end - gd.plateau_start, x=1.0 / (gd.lr * gd.lambda_min.abs()))
    gd = gd[(gd.duration > 0) & np.isfinite(gd.x)]
    if len(gd) < 3:
        return {"n": len(gd), "note": "fewer than 3 escaped plateaus of gradient-descent runs"}
    log_x, log_t = np.log10(gd.x.to_numpy()), np.log10(gd.duration.to_numpy())
    fit = stats.linregress(log_x, log_t)
    from analyzer.stats import percentile_ci, slope_draws

    runs = gd.run.unique()
    low, high = percentile_ci(slope_draws(log_x, log_t, gd.run.to_numpy(), min(n_resamples, 2000), seed))
    implied = (gd.duration * gd.lr * gd.lambda_min.abs()).to_numpy()
    return {"n": len(gd), "n_runs": len(runs), "slope": float(fit.slope), "intercept": float(fit.intercept),
            "slope_ci": [low, high] if low is not None else None,
            "r_squared": float(fit.rvalue ** 2), "spearman_rho": float(stats.spearmanr(log_x, log_t).statistic),
            "implied_log_inv_delta_median": float(np.median(implied)),
            "implied_log_inv_delta_range": [float(implied.min()), float(implied.max())],
            "points": gd[["run", "plateau_start", "plateau_end", "duration", "lambda_min", "lr", "x"]]}
