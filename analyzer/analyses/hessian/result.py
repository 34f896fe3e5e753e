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
        saddles = int(self.table["saddle_candidate"].sum())
        unconverged = int((~self.table["converged"]).sum())
        note = f"; {unconverged} not converged" if unconverged else ""
        return (f"{len(self.table)} checkpoints ({self.selection}), {saddles} saddle candidate{'' if saddles == 1 else 's'}, "
                f"P = {self.n_params}{note}")

    def tables(self) -> dict[str, pd.DataFrame]:
        # the report's golden files fix these columns; index_low/high and grad_rel are in .table and --json
        shown = ["step", "role", "lambda_max", "lambda_min", "index_count", "index_err", "trace", "grad_norm",
                 "saddle_candidate", "method", "converged", "max_rel_residual"]
        return {"Hessian at checkpoints": self.table[[c for c in shown if c in self.table]]}
