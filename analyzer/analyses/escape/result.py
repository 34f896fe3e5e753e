"""The escape analysis' result: one row per escape (overlaps, control, frequencies) and the exact Hessian eigenvalues used."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

OVERLAP_FIELDS = ["n_negative", "rank", "overlap_negative", "overlap_top", "overlap_random", "range_fraction",
                  "step_norm"]
TABLE_COLUMNS = ["plateau_start", "plateau_end", "drop_mid", "plateau_step", "after_step", *OVERLAP_FIELDS,
                 "lambda_min", "scale", "control_start", "control_end", "control_kind",
                 *[f"control_{name}" for name in OVERLAP_FIELDS], "negative_freq", "negative_share", "negative_peak",
                 "negative_freqs", "negative_eigenvalues", "jump_freq", "freq_matches_jump", "method",
                 "eigenvalue_error", "n_hvp"]


@dataclass(frozen=True)
class EscapeResult:
    """One row per escape (TABLE_COLUMNS) and the whole Hessian spectrum at every checkpoint it used."""

    table: pd.DataFrame
    eigenvalue_steps: np.ndarray  # (S,) checkpoints whose Hessian was computed (plateau and control starts)
    eigenvalues: np.ndarray  # (S, P) every eigenvalue at each, ascending (exact: dense or certified, not estimated)
    n_params: int
    index_tol: float

    def headline(self) -> str:
        if self.table.empty:
            return "no escape from a plateau with stored checkpoints on both sides"
        t = self.table
        matched = int(t.freq_matches_jump.sum())
        return (f"{len(t)} escape{'s' * (len(t) != 1)}: overlap with negative curvature median "
                f"{t.overlap_negative.median():.2f} (top {t.overlap_top.median():.2f}, random "
                f"{t.overlap_random.median():.2f}); control displacements {t.control_overlap_negative.median():.2f}; "
                f"the most negative direction carries the jumping frequency in {matched} of {len(t)}")

    def tables(self) -> dict[str, pd.DataFrame]:
        shown = ["plateau_step", "after_step", "n_negative", "overlap_negative", "overlap_top", "overlap_random",
                 "control_start", "control_end", "control_overlap_negative", "control_overlap_top",
                 "control_overlap_random", "negative_freq", "negative_share", "jump_freq"]
        return {"escapes from plateaus": self.table[shown]}
