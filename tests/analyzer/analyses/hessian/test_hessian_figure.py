"""The Hessian figure's axes: a nearly constant curvature or index fraction is drawn flat, never as a cliff."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd

from analyzer.analyses.hessian.figures import MIN_DECADES, hessian_figure


def table(lambda_max, fraction, n_params: int = 1000, lambda_min=(0.0,) * 4) -> pd.DataFrame:
    """Certified rows with the given largest eigenvalue and index fraction (count = fraction x P)."""
    count = np.asarray(fraction) * n_params
    return pd.DataFrame({"step": [0, 10, 100, 1000], "lambda_max": lambda_max, "lambda_min": list(lambda_min),
                         "index_count": count, "index_low": count, "index_high": count, "index_fraction": fraction,
                         "index_expected": count, "index_certified": True, "index_kind": "certified",
                         "saddle_candidate": False, "index_rel_tol": 1e-3})


def test_a_1e_minus_4_relative_spread_spans_at_least_a_decade_and_the_index_starts_at_zero():
    fig = hessian_figure(table([0.09751, 0.09757, 0.09754, 0.09752], [0.09751, 0.09757, 0.09754, 0.09752]), 1000)
    eig, index = fig.axes
    low, high = eig.get_ylim()
    assert np.log10(high / low) >= MIN_DECADES - 1e-9 and low < 0.09751 and high > 0.09757
    bottom, top = index.get_ylim()
    assert bottom <= 0 and top >= 0.09757 and (0.09757 - 0.09751) / (top - bottom) < 1e-3  # flat on the panel
    assert not index.yaxis.get_major_formatter().get_useOffset()  # no '+9.75e-2' offset to misread


def test_a_wide_range_is_left_as_matplotlib_draws_it():
    fig = hessian_figure(table([0.01, 1.0, 30.0, 200.0], [0.0, 0.3, 0.6, 0.1], lambda_min=[-1e-3] * 4), 1000)
    low, high = fig.axes[0].get_ylim()
    assert low <= 1e-3 and high >= 200.0  # the data (and the |lambda_min| 1e-3 line) are inside, unchanged
    assert fig.axes[1].get_ylim() == (-0.02, 1.02)
