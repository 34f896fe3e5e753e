"""Result of the harmonics analysis: each degree's residual component over training, its rate, its NTK eigenvalue."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True, eq=False)
class HarmonicsResult:
    """Per spherical-harmonic degree (rows of `table`, columns of the arrays) of a harmonics run."""

    steps: np.ndarray  # (T,) prediction steps analysed
    degrees: np.ndarray  # (K,) degrees 0 .. max of the basis
    target_degrees: tuple[int, ...]
    residual_norm: np.ndarray  # (T, K) ||P_l (f_t - y)||, RMS under the uniform measure on the sphere
    residual_rms: np.ndarray  # (T,) the whole residual's RMS over the eval points
    table: pd.DataFrame  # degree, in_target, target_norm, ..., rate, ntk_eigenvalue (see compute.degree_table)
    ntk_source: str  # where ntk_eigenvalue comes from ("closed form: ...", or why there is none)
    ntk_empirical_source: str = ""  # how ntk_eigenvalue_empirical was computed (kernel, checkpoint), or why not
    note: str = ""

    def headline(self) -> str:
        rows = self.table[self.table.in_target]
        rates = ", ".join(f"degree {int(r.degree)} {r.rate:.3g}" + ("" if r.reached_fit_to else " (partial)")
                          for r in rows.itertuples())
        text = f"convergence rates per step: {rates}"
        finite = rows.dropna(subset=["rate"])
        if len(finite) > 1:
            falling = bool(np.all(np.diff(finite.rate.to_numpy()) < 0))
            text += f"; {'falling' if falling else 'not falling'} with degree"
        ratios = rows.dropna(subset=["rate_per_eigenvalue"])
        if len(ratios):
            text += "; rate / NTK eigenvalue " + ", ".join(f"{r.rate_per_eigenvalue:.3g}" for r in ratios.itertuples())
        linearised = rows.dropna(subset=["rate_over_gd_rate_empirical"])
        if len(linearised):
            text += "; observed / linearised rate (empirical NTK) " + ", ".join(
                f"{r.rate_over_gd_rate_empirical:.3g}" for r in linearised.itertuples())
        return text + (f"; {self.note}" if self.note else "")

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"convergence per degree": self.table}
