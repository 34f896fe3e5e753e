"""What `analyze ntk` returns: the kernel's eigenvalues, rates per eigendirection, drift and frequency loadings."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

OBSERVED_ONLY = "observed only"  # `rates` of a run with no closed form (Adam): no predicted rates
SHOWN_ROWS = {"rates": 10, "drift": 15}  # rows printed, so the output fits a screen; --json holds all of them


@dataclass(frozen=True)
class NtkResult:
    """Args:
        step: the checkpoint whose kernel K was decomposed.
        route: jacobian or matrix-free; trained: "all layers" or "output layer" (a --freeze-hidden run).
        rates: "predicted and observed" for full-batch GD, "observed only" otherwise (Adam has no closed form).
        effective_rate: a_eff = 2 lr / (N o); r_t along v_i is predicted to scale as (1 - a_eff lambda_i)^t.
        eigenvalues: K's eigenvalues computed, descending (all of them on the jacobian route with top_k 0).
        table: per eigendirection: index, eigenvalue, initial_component (v_i^T r_0), predicted_rate,
            observed_rate (per step), ratio (observed / predicted: Bowman & Montúfar's damped deviations).
        projection_steps, projections: |v_i^T r_t| at log-spaced stored steps, for the first table rows.
        drift: step, relative_change = ||K_t - K||_F / ||K||_F (sketched on the matrix-free route).
        loadings: per target frequency, how its training-grid sine spreads over the eigenvectors: the one holding
            most of it (peak_index, peak_share), how many of the largest shares hold 90 % of it (indices_for_90pct;
            NaN, null in --json, where the computed eigenvectors hold less: computed_share), the share-weighted
            mean index.
    """

    step: int
    route: str
    trained: str
    optimizer: str
    rates: str
    learning_rate: float
    effective_rate: float
    n_rows: int
    n_trained: int
    drift_method: str
    eigenvalues: np.ndarray
    table: pd.DataFrame
    projection_steps: np.ndarray
    projections: np.ndarray
    drift: pd.DataFrame
    loadings: pd.DataFrame
    loading_matrix: np.ndarray
    note: str = ""  # why part of the run was not analysed (non-finite predictions), if any

    def headline(self) -> str:
        observed = self.table["observed_rate"].to_numpy()
        parts = [f"NTK at step {self.step:,} ({self.trained}, {self.n_rows:,} x {self.n_trained:,} Jacobian, "
                 f"{self.route}): lambda_max {self.eigenvalues[0]:.4g}"]
        if self.rates == OBSERVED_ONLY:
            parts.append(f"{optimizer_text(self.optimizer)}: rates observed only ({np.isfinite(observed).sum()} directions), "
                         "no closed form")
        else:
            ratio = self.table["ratio"].to_numpy()
            head = ratio[:10][np.isfinite(ratio[:10])]
            parts.append(f"observed/predicted rate over the top 10 directions: median "
                         f"{np.median(head) if len(head) else float('nan'):.3g}")
        if len(self.drift):
            parts.append(f"kernel moved {self.drift['relative_change'].abs().max():.3g} (relative, largest)")
        return "; ".join(parts + ([self.note] if self.note else []))

    def tables(self) -> dict[str, pd.DataFrame]:
        """The tables as printed: at most SHOWN_ROWS rows each (the leading eigendirections; the drift thinned)."""
        drift, rows = self.drift, SHOWN_ROWS["drift"]
        if len(drift) > rows:
            drift = drift.iloc[np.unique(np.linspace(0, len(drift) - 1, rows).round().astype(int))]
        rates, rows = self.table, SHOWN_ROWS["rates"]
        if self.rates == OBSERVED_ONLY:  # nothing predicted: the predicted and ratio columns are empty
            rates = rates.drop(columns=["predicted_rate", "ratio"])
        rates_title = "rates" if len(rates) <= rows else f"rates (first {rows} of {len(rates)} eigendirections)"
        drift_title = f"drift ({self.drift_method})" + (
            f", {len(drift)} of {len(self.drift)} rows shown" if len(drift) < len(self.drift) else "")
        return {rates_title: rates.head(rows), drift_title: drift.reset_index(drop=True),
                "loadings": self.loadings_display()}

    def loadings_display(self) -> pd.DataFrame:
        """The loadings as printed: indices_for_90pct a count, or 'not reached' with what the computed eigenvectors
        hold."""
        shown = self.loadings.copy()
        if len(shown):
            n = len(self.eigenvalues)
            shown["indices_for_90pct"] = [
                f"{int(k)}" if np.isfinite(k) else f"not reached: the {n} computed hold {share:.0%}"
                for k, share in zip(self.loadings.indices_for_90pct.astype(float), self.loadings.computed_share)]
        return shown

    def json_fields(self) -> dict:
        """The fields under their names; indices_for_90pct an integer, or null where it is not reached."""
        named = {f.name: getattr(self, f.name) for f in fields(self)}
        loadings = self.loadings.copy()
        loadings["indices_for_90pct"] = pd.Series(
            [int(k) if np.isfinite(k) else None for k in self.loadings.indices_for_90pct.astype(float)], dtype=object)
        return named | {"loadings": loadings}


def optimizer_text(optimizer: str) -> str:
    """The run's optimizer as stored, or what to do when it is not (an imported run)."""
    if optimizer in ("", "unknown", "None"):
        return "optimizer not recorded (train import --optimizer NAME --lr X records it)"
    return optimizer
