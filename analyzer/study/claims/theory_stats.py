"""Statistics of a width sweep: the log-log slope of a per-run quantity on the width, its CI by a cluster bootstrap
over seeds (a seed's runs at every width resampled together: they share nothing but the seed, yet a seed is the
unit the sweep repeats) and its p-value by permuting the widths within each seed (no dependence on width)."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from analyzer.stats import CONFIDENCE, MIN_RUNS_FOR_CI, TestRow


def log_slope(widths, values) -> float:
    """Least-squares slope of log(values) on log(widths) (NaN with fewer than two distinct widths)."""
    x, y = np.log(np.asarray(widths, np.float64)), np.log(np.asarray(values, np.float64))
    if len(np.unique(x)) < 2:
        return math.nan
    x = x - x.mean()
    return float(x @ (y - y.mean()) / (x @ x))


def width_slope(frame: pd.DataFrame, n_resamples: int, n_permutations: int, seed: int) -> dict:
    """The slope of log(value) on log(width) over runs with a finite positive value, its seed-cluster bootstrap CI
    (at least MIN_RUNS_FOR_CI seeds) and a two-sided within-seed width-permutation p-value.

    Args:
        frame: one row per run: seed, width, value.
    """
    usable = frame[np.isfinite(frame.value.to_numpy(np.float64)) & (frame.value.to_numpy(np.float64) > 0)]
    out = {"slope": math.nan, "ci_low": None, "ci_high": None, "p_value": None, "n_runs": len(usable),
           "n_left_out": len(frame) - len(usable), "n_seeds": int(usable.seed.nunique()),
           "n_widths": int(usable.width.nunique())}
    if out["n_widths"] < 2:
        return out
    out["slope"] = log_slope(usable.width, usable.value)
    if out["n_seeds"] >= MIN_RUNS_FOR_CI:
        out["ci_low"], out["ci_high"] = seed_bootstrap(usable, out["slope"], n_resamples, seed)
    out["p_value"] = width_permutation_p(usable, out["slope"], n_permutations, seed)
    return out


def seed_bootstrap(frame: pd.DataFrame, estimate: float, n_resamples: int, seed: int) -> tuple[float, float]:
    """Percentile CI of the slope with seeds resampled with replacement (each with all its runs), widened by
    sqrt(n / (n - 1)) for n seeds (a bootstrap of n clusters spreads (n - 1) / n as much as the estimate does)."""
    from analyzer.stats import percentile_ci, slope_draws

    slopes = slope_draws(np.log(frame.width.to_numpy(np.float64)), np.log(frame.value.to_numpy(np.float64)),
                         frame.seed.to_numpy(), n_resamples, seed)
    n = frame.seed.nunique()
    return percentile_ci(estimate + (slopes - estimate) * math.sqrt(n / (n - 1)), CONFIDENCE)


def width_permutation_p(frame: pd.DataFrame, observed: float, n_permutations: int, seed: int) -> float:
    """Two-sided p of the slope when each seed's widths are shuffled among its runs (the observed order counts)."""
    rng = np.random.default_rng(seed)
    y = np.log(frame.value.to_numpy(np.float64))
    x = np.log(frame.width.to_numpy(np.float64))
    blocks = [np.flatnonzero(frame.seed.to_numpy() == s) for s in frame.seed.unique()]
    null = np.empty(n_permutations)
    for draw in range(n_permutations):
        shuffled = x.copy()
        for block in blocks:
            shuffled[block] = x[rng.permutation(block)]
        centred = shuffled - shuffled.mean()
        null[draw] = centred @ (y - y.mean()) / (centred @ centred)
    return float((1 + np.sum(np.abs(null) >= abs(observed) - 1e-12)) / (1 + n_permutations))


def slope_text(test: dict, unit: str = "") -> str:
    """'slope -0.52 (95 % seed-bootstrap CI -0.60 to -0.45) over 32 runs (8 seeds, 4 widths)'."""
    ci = (f" (95 % seed-bootstrap CI {test['ci_low']:+.2f} to {test['ci_high']:+.2f})" if test["ci_low"] is not None
          else " (no CI: fewer than 5 seeds)")
    left = f", {test['n_left_out']} runs left out (no finite positive value)" if test["n_left_out"] else ""
    return (f"log-log slope{unit} {test['slope']:+.2f}{ci} over {test['n_runs']} runs ({test['n_seeds']} seeds, "
            f"{test['n_widths']} widths){left}")


def finite(value) -> float | None:
    """A finite float, or None (JSON and the family's rows take None for "none")."""
    return float(value) if value is not None and np.isfinite(value) else None


def p_text(row) -> str:
    """'0.001, adjusted 0.004' for a family row, '-' without a p-value."""
    if row is None or row.p_value is None:
        return "-"
    return f"{row.p_value:.3g}, adjusted {row.p_adjusted:.3g}"


def slope_row(name: str, claim: str, test: dict, reference: str) -> TestRow:
    """A width_slope test as a row of the study's family (effect: the slope)."""
    return TestRow(name=name, claim=claim, reference=reference, null="widths permuted within each seed, two-sided",
                   p_value=test["p_value"], effect=finite(test["slope"]), ci_low=test["ci_low"], ci_high=test["ci_high"],
                   observed=finite(test["slope"]), null_mean=0.0, n_runs=test["n_runs"])


def tau_row(name: str, claim: str, test: dict, reference: str) -> TestRow:
    """A pooled Kendall-tau test (claims/spectral_bias.rank_test) as a row of the family (effect: the mean tau)."""
    return TestRow(name=name, claim=claim, reference=reference, null="within-run permutation, two-sided",
                   p_value=test["p_value"], effect=test["mean_tau"], ci_low=test["ci_low"], ci_high=test["ci_high"],
                   observed=test["mean_tau"], null_mean=test["null_mean"], n_runs=test["n_runs"])


def tau_text(test: dict, row, runs: str) -> str:
    """'mean Kendall tau-b +0.85 (95 % cluster-bootstrap CI +0.74 to +0.94) over 32 networks, p = ...'."""
    ci = (f" (95 % cluster-bootstrap CI {test['ci_low']:+.2f} to {test['ci_high']:+.2f})" if test["ci_low"] is not None
          else " (no CI: fewer than 5 runs)")
    return f"mean Kendall tau-b {test['mean_tau']:+.2f}{ci} over {test['n_runs']} {runs}, p = {p_text(row)}"
