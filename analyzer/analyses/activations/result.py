"""Result of the activations analysis: normalised singular-value spectra and principal components per activation."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True, eq=False)
class ActivationsResult:
    """Spectra of A = eta(sigma (x - b^T)); index convention in analyzer/analyses/activations/compute.py."""

    sigma: float
    x: np.ndarray  # (N,) sample points on [0, 1]
    n_biases: int  # M, the columns of A
    activations: tuple[str, ...]
    singular_values: dict[str, np.ndarray]  # activation -> (min(N, M),) s_k / s_0, descending, first 1
    component_indices: tuple[int, ...]  # k of the stored principal components
    components: np.ndarray  # (activations, len(component_indices), N) u_k(x), unit norm, sign-fixed
    summary: pd.DataFrame  # one row per activation (see compute.summary_table)

    def __post_init__(self):
        # the cache keeps a dict of arrays as JSON lists (exact for finite floats): arrays again on loading
        object.__setattr__(self, "singular_values", {name: np.asarray(values, dtype=np.float64)
                                             for name, values in self.singular_values.items()})

    def headline(self) -> str:
        knees = self.summary.set_index("activation")["first_k_below_0.5"]
        parts = ", ".join(f"{name} {int(k)}" for name, k in knees.items())
        return f"sigma {self.sigma:g}, {len(self.x)} points: first k with s_k/s_0 < 0.5: {parts}"

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"activation spectra": self.summary}
