"""Every loss-drop row reads in the order things happen: the plateau ends, the drop's midpoint, the next plateau
starts; on dense, strided and log-spaced loss logs; and the printed table names its columns so."""

from __future__ import annotations

import numpy as np
import pytest
from typer.testing import CliRunner

from analyzer.analyses.plateaus import detect_plateaus
from analyzer.analyses.plateaus.result import LOSS_DROPS_TITLE

runner = CliRunner()


def staircase(rng: np.random.Generator, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """1-4 logistic escapes at log-uniform steps between random levels, multiplicative noise, sometimes a tail."""
    t = np.arange(steps, dtype=np.float64)
    n = int(rng.integers(1, 5))
    mids = np.sort(10 ** rng.uniform(np.log10(20), np.log10(0.8 * steps), n))
    widths = mids * rng.uniform(0.02, 0.5, n)
    levels = np.sort(10 ** rng.uniform(-4, 0, n + 1))[::-1]
    loss = np.full(steps, levels[-1])
    for mid, width, high, low in zip(mids, widths, levels[:-1], levels[1:]):
        loss += (high - low) * (1 - 1 / (1 + np.exp(-4 * (t - mid) / width))) ** 2
    if rng.random() < 0.5:
        loss += 0.01 * rng.uniform() * (t + 1) ** -0.5
    return t.astype(np.int64), loss * np.exp(rng.uniform(0, 0.3) * rng.standard_normal(steps))


def logged_rows(rng: np.random.Generator, steps: int) -> np.ndarray:
    """Which steps a run logged: all, every k-th (checkpoints only), or log-spaced (sparse checkpoints)."""
    kind = rng.integers(3)
    if kind == 0:
        return np.arange(steps)
    if kind == 1:
        return np.arange(0, steps, int(rng.choice([10, 50])))
    return np.unique(np.geomspace(1, steps, int(rng.integers(15, 80))).astype(int) - 1)


@pytest.mark.parametrize("seed", range(6))
def test_loss_drop_rows_are_in_the_order_they_happen(seed):
    rng = np.random.default_rng(seed)
    for _ in range(6):
        steps = int(rng.choice([500, 3000, 10000]))
        all_steps, loss = staircase(rng, steps)
        keep = logged_rows(rng, steps)
        result = detect_plateaus(all_steps[keep], loss[keep])
        plateau_ends = set(result.plateaus("changepoint").end_step.astype(float) + 1)
        plateau_starts = set(result.plateaus("changepoint").start_step.astype(float))
        for row in result.loss_drops.itertuples():
            assert row.end_step in plateau_ends  # the plateau's first step after it, as the plateau edges give it
            if np.isfinite(row.mid_step):
                assert row.end_step <= row.mid_step <= keep[-1]
            if np.isfinite(row.start_step):
                assert row.start_step in plateau_starts and row.end_step < row.start_step
                assert not np.isfinite(row.mid_step) or row.mid_step <= row.start_step


def test_the_printed_table_names_the_plateau_end_the_drop_and_the_next_start(tmp_path):
    """One drop between two plateaus, one into the end of the run: the columns say which step is which."""
    steps = np.arange(4000)
    escape = lambda mid, width: 1 / (1 + np.exp(-4 * (steps - mid) / width))  # noqa: E731
    loss = 0.5 * (1 - escape(300, 60)) ** 2 + 0.05 * (1 - escape(2000, 300)) ** 2 + 1e-3 * (steps + 1) ** -0.3
    result = detect_plateaus(steps, loss)
    shown = result.tables()[LOSS_DROPS_TITLE]
    assert list(shown.columns[:4]) == ["plateau_end_step", "drop_mid_step", "next_plateau_start_step",
                                       "drop_width_steps"]
    np.testing.assert_array_equal(shown.plateau_end_step, result.loss_drops.end_step)  # --json keeps its keys
    first = shown.iloc[0]
    assert first.plateau_end_step < first.drop_mid_step < first.next_plateau_start_step
    assert abs(first.drop_mid_step - 300) <= 10
