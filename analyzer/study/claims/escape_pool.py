"""The escapes of a study's seed runs pooled (the escape-directions claim, escape_directions.py): the escape
directions against a control displacement, and the escape time against curvature for gradient-descent runs.

Escapes pooled: per escape the paired difference overlap_negative - control_overlap_negative (the escape's
concentration on the plateau Hessian's negative eigenspace beyond that of a displacement of equal step
count with no escape in it); its mean with a 95 % cluster-bootstrap CI (runs resampled) and the centred
bootstrap p-value, as in the Hessian's saddle control. Frequencies: how often the most negative
eigenvector's J v carries the frequency that jumps in that escape, and which frequencies it carries.

Escape time (issue 22, item 4): near a strict saddle, gradient descent leaves in about
log(1/delta) / (lr |lambda_min|) steps. For runs with optimizer sgd, each escaped plateau's duration
(end - start) against x = 1 / (lr |lambda_min at its middle checkpoint|): the slope of log10 duration on
log10 x (1 if log(1/delta) were the same everywhere), its R^2 and Spearman rho, and the implied
log(1/delta) = duration x lr |lambda_min| (median and range).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyzer.study.family import MIN_RUNS_FOR_CI

CONFIDENCE = 0.95


def escape_frame(extracts, group_of: dict[str, str]) -> pd.DataFrame:
    """Every escape of the runs (their `analyze escape` tables: (run, table) pairs) with its run, group, lr and
    optimizer."""
    frames = [table.assign(run=r.path, group=group_of[r.path], lr=float(r.config.get("lr", np.nan)),
                           optimizer=str(r.config.get("optimizer", "")))
              for r, table in extracts if table is not None and len(table)]
    return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()


def _cluster_means(frame: pd.DataFrame, columns: list[str], n_resamples: int, seed: int) -> np.ndarray:
    """(B, len(columns)) means over rows of runs drawn with replacement (all of a run's rows together)."""
    runs = frame.run.unique()
    sums = frame.groupby("run")[columns].sum().reindex(runs).to_numpy(float)
    sizes = frame.groupby("run").size().reindex(runs).to_numpy(float)
    counts = np.random.default_rng(seed).multinomial(len(runs), np.full(len(runs), 1 / len(runs)), size=n_resamples)
    return (counts @ sums) / (counts @ sizes)[:, None]


def pooled_escapes(escapes: pd.DataFrame, n_resamples: int, seed: int) -> dict:
    frame = escapes.assign(difference=escapes.overlap_negative - escapes.control_overlap_negative)
    columns = ["overlap_negative", "overlap_top", "overlap_random", "control_overlap_negative", "control_overlap_top",
               "control_overlap_random", "difference"]
    observed = frame[columns].mean()
    draws = _cluster_means(frame, columns, n_resamples, seed)
    tail = (1 - CONFIDENCE) / 2
    out = {"n_escapes": len(frame), "n_runs": int(frame.run.nunique())}
    for k, column in enumerate(columns):
        low, high = np.quantile(draws[:, k], [tail, 1 - tail])
        out[column] = {"mean": float(observed[column]), "ci_low": float(low), "ci_high": float(high)}
    diff = float(observed["difference"])
    out["p_value"] = float((np.sum(np.abs(draws[:, -1] - diff) >= abs(diff)) + 1) / (n_resamples + 1))
    if out["n_runs"] < MIN_RUNS_FOR_CI:  # a bootstrap over so few runs neither covers nor tests
        out["p_value"] = None
        for column in columns:
            out[column].update(ci_low=None, ci_high=None)
    known = frame[np.isfinite(frame.jump_freq.astype(float))]
    out["freq_matches_jump"] = int(known.freq_matches_jump.sum())
    out["n_with_jump"] = len(known)
    out["freq_match_chance"], out["freq_match_p"] = frequency_match_null(known, n_resamples, seed)
    out["negative_freq_counts"] = {f"{f:g}": int(n) for f, n in frame.negative_freq.value_counts().sort_index().items()}
    out["jump_freq_counts"] = {f"{f:g}": int(n) for f, n in known.jump_freq.value_counts().sort_index().items()}
    out["per_group"] = [{"group": g, "n_escapes": len(part), "overlap_negative": float(part.overlap_negative.mean()),
                         "control_overlap_negative": float(part.control_overlap_negative.mean()),
                         "overlap_random": float(part.overlap_random.mean()),
                         "freq_matches_jump": int(part.freq_matches_jump.sum())} for g, part in frame.groupby("group")]
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

    gd = escapes[(escapes.optimizer == "sgd") & (escapes.lambda_min < 0)]
    gd = gd.assign(duration=gd.plateau_end - gd.plateau_start, x=1.0 / (gd.lr * gd.lambda_min.abs()))
    gd = gd[(gd.duration > 0) & np.isfinite(gd.x)]
    if len(gd) < 3:
        return {"n": len(gd), "note": "fewer than 3 escaped plateaus of gradient-descent runs"}
    log_x, log_t = np.log10(gd.x.to_numpy()), np.log10(gd.duration.to_numpy())
    fit = stats.linregress(log_x, log_t)
    slopes = []
    rng = np.random.default_rng(seed)
    runs = gd.run.unique()
    for _ in range(min(n_resamples, 2000)):
        pick = np.concatenate([np.flatnonzero(gd.run.to_numpy() == r) for r in rng.choice(runs, len(runs))])
        if np.ptp(log_x[pick]) > 0:
            slopes.append(stats.linregress(log_x[pick], log_t[pick]).slope)
    implied = (gd.duration * gd.lr * gd.lambda_min.abs()).to_numpy()
    tail = (1 - CONFIDENCE) / 2
    return {"n": len(gd), "n_runs": len(runs), "slope": float(fit.slope), "intercept": float(fit.intercept),
            "slope_ci": [float(q) for q in np.quantile(slopes, [tail, 1 - tail])] if slopes else None,
            "r_squared": float(fit.rvalue ** 2), "spearman_rho": float(stats.spearmanr(log_x, log_t).statistic),
            "implied_log_inv_delta_median": float(np.median(implied)),
            "implied_log_inv_delta_range": [float(implied.min()), float(implied.max())],
            "points": gd[["run", "plateau_start", "plateau_end", "duration", "lambda_min", "lr", "x"]]}
