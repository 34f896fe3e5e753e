"""The Hessian analysis' result: one row per analysed checkpoint, plus the extreme eigenvalues and residuals."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class HessianResult:
    """One row per analysed checkpoint, plus the extreme eigenvalues and their residuals."""

    table: pd.DataFrame
    eigenvalues_top: np.ndarray  # (n_ckpt, k) descending
    eigenvalues_bottom: np.ndarray  # (n_ckpt, k) ascending
    residuals_top: np.ndarray
    residuals_bottom: np.ndarray
    selection: str  # how the checkpoints were chosen, in words
    n_params: int

    def headline(self) -> str:
        if self.table.empty:
            return "no checkpoints analysed"
        from analyzer.curvature.index_status import status_summary, trace_summary

        saddles = int(self.table["saddle_candidate"].sum())
        extremes = self.table.get("extremes_converged", self.table["converged"])
        unconverged = int((~extremes.astype(bool)).sum())
        note = f"; extreme eigenpairs not converged at {unconverged}" if unconverged else ""
        return (f"{len(self.table)} checkpoints ({self.selection}), {saddles} saddle candidate{'' if saddles == 1 else 's'}, "
                f"P = {self.n_params:,}; {status_summary(self.table, self.n_params)}; {trace_summary(self.table)}"
                f"{note}")

    def tables(self) -> dict[str, pd.DataFrame]:
        """The index as text: a count only when certified, else its bracket or the SLQ estimate
        (curvature/index_status.py); the trace with its kind, and its standard error when an estimate; the numbers
        (index_count, index_low/high, index_kind, index_note, trace, trace_err, trace_kind, trace_note) are in
        .table and --json."""
        from analyzer.curvature.index_status import shown_table

        return {"Hessian at checkpoints": shown_table(self.table, self.n_params)}
