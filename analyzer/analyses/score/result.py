"""The score analysis' result: predicted vs detected for every detector, and the headline numbers."""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd

SCORE_COLUMNS = ["quantity", "freq_hz", "plateau", "predicted", "detected", "error", "error_fraction", "tolerance",
                 "ok"]


@dataclass(frozen=True)
class ScoreResult:
    """Predicted vs detected, one row per predicted item (SCORE_COLUMNS), and the headline numbers.

    `nearest_change_point` rows (the segmentation alone, before the flatness test) and `correlation_p_edges`
    (the test against plateau edges instead of escapes) are diagnostics and do not enter the summary. error is
    in steps (edges, jumps, learned steps), eigenvalue units (lambda_min), counts (index) or the p-value
    itself (correlation); error_fraction divides edge errors by the plateau length and jump errors
    by the sigmoid width. NaN detected means the detector found nothing to match.
    """

    table: pd.DataFrame
    n_plateaus_predicted: int
    n_plateaus_detected: int
    # None where undefined or infinite: a missed edge or jump counts as infinitely wrong
    median_edge_error: float | None  # fraction of plateau length
    worst_edge_error: float | None
    median_jump_error: float | None  # fraction of the sigmoid width
    worst_jump_error: float | None
    index_exact: bool
    p_value: float | None
    correlation_required: bool
    passed: bool
    missing: list  # always empty: every detector is a declared dependency (kept: part of the --json output)
    notes: list = field(default_factory=list)  # parts of the run a detector could not analyse (then not passed)

    def headline(self) -> str:
        outcome = "all targets met" if self.passed else "targets missed"
        p = "-" if self.p_value is None else f"{self.p_value:.3g}"
        text = (f"{outcome}: {self.n_plateaus_detected} plateaus detected for {self.n_plateaus_predicted} predicted, "
                f"edge error median {_pct(self.median_edge_error)} worst {_pct(self.worst_edge_error)} of plateau "
                f"length; jump error median {_pct(self.median_jump_error)} of the sigmoid width; Hessian index "
                f"{'exact' if self.index_exact else 'wrong'}; correlation p={p}")
        return text + "".join(f"; {note}" for note in self.notes)

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"predicted vs detected": self.table}


def _pct(fraction: float | None) -> str:
    return "n/a (missed)" if fraction is None else f"{fraction:.1%}"
