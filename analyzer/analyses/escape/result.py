"""The escape analysis' result: one row per escape (overlaps, control, frequencies) and the exact Hessian eigenvalues used."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

OVERLAP_FIELDS = ["n_negative", "rank", "overlap_negative", "overlap_top", "overlap_random", "range_fraction",
                  "step_norm", "overlap_negative_norm", "overlap_top_norm"]
STRETCH_FIELDS = ["loss_drop_decades", "span_decades"]  # what escape and control are matched on (control.py)
TABLE_COLUMNS = ["plateau_start", "plateau_end", "drop_mid", "plateau_step", "after_step", *OVERLAP_FIELDS,
                 *STRETCH_FIELDS, "lambda_min", "scale", "control_start", "control_end", "control_kind",
                 *[f"control_{name}" for name in OVERLAP_FIELDS + STRETCH_FIELDS], "control_candidates",
                 "negative_freq", "negative_share", "negative_peak", "negative_freqs", "negative_eigenvalues",
                 "jump_freq", "freq_matches_jump", "method", "eigenvalue_error", "n_hvp"]


@dataclass(frozen=True)
class EscapeResult:
    """One row per escape (TABLE_COLUMNS) and the whole Hessian spectrum at every checkpoint it used."""

    table: pd.DataFrame
    eigenvalue_steps: np.ndarray  # (S,) checkpoints whose Hessian was computed (plateaus, candidate control starts)
    eigenvalues: np.ndarray  # (S, P) every eigenvalue at each, ascending (exact: dense or certified, not estimated)
    n_params: int
    index_tol: float

    def headline(self) -> str:
        if self.table.empty:
            return "no escape from a plateau with stored checkpoints on both sides"
        t = self.table
        matched = int(t.freq_matches_jump.sum())
        kinds = ", ".join(f"{n} {kind}" for kind, n in t.control_kind.value_counts().items())
        return (f"{len(t)} escape{'s' * (len(t) != 1)}: overlap with negative curvature median "
                f"{t.overlap_negative.median():.2f} (top {t.overlap_top.median():.2f}, random "
                f"{t.overlap_random.median():.2f}), {t.overlap_negative_norm.median():.2f}x a random direction's; "
                f"control displacements {t.control_overlap_negative.median():.2f}, "
                f"{t.control_overlap_negative_norm.median():.2f}x (controls: {kinds}); "
                f"the most negative direction carries the jumping frequency in {matched} of {len(t)}")

    def tables(self) -> dict[str, pd.DataFrame]:
        shown = ["plateau_step", "after_step", "n_negative", "rank", "overlap_negative", "overlap_negative_norm",
                 "overlap_top", "overlap_random", "loss_drop_decades", "span_decades", "control_kind",
                 "control_start", "control_end", "control_n_negative", "control_rank", "control_overlap_negative",
                 "control_overlap_negative_norm", "control_loss_drop_decades", "control_span_decades",
                 "negative_freq", "negative_share", "jump_freq"]
        return {"escapes from plateaus": self.table[shown]}
