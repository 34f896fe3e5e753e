"""What `analyze mask` returns: Lucey's GD mask on J's singular values against what the run fitted."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from analyzer.io.optimizer import is_plain_gd


@dataclass(frozen=True)
class MaskResult:
    """Args:
        step: the first checkpoint (q = step - this); J = U diag(s) V^T there.
        effective_rate: a_eff = 2 lr / (N o), the trainer's lr in the mask m(s) = 1 - (1 - a_eff s^2)^q.
        exact: True when the model is linear in its trained parameters (--freeze-hidden) and trained by GD.
        fit_error: max over stored steps and directions of |observed - predicted| fraction fitted.
        singular_values: s of the directions kept (s > rank_tol s_max), descending.
        sample_steps, observed, predicted: fraction of each direction's target component fitted,
            1 - u_i^T r_q / u_i^T r_0, against m(s_i) at log-spaced stored steps (NaN: component too small).
        coefficient_steps, coefficients_observed, coefficients_predicted: V^T (theta_q - theta_0) at
            log-spaced checkpoints against diag(m(s)/s) U^T (y - f_0).
        bandwidth: step, sqrt_q, predicted and observed counts of directions with fraction > 1/2.
        table: per direction: index, singular_value, target_component, max_error.
    """

    step: int
    optimizer: str
    learning_rate: float
    effective_rate: float
    exact: bool
    fit_error: float
    n_directions: int
    rank: int
    singular_values: np.ndarray
    sample_steps: np.ndarray
    observed: np.ndarray
    predicted: np.ndarray
    coefficient_steps: np.ndarray
    coefficients_observed: np.ndarray
    coefficients_predicted: np.ndarray
    bandwidth: pd.DataFrame
    bandwidth_exponent: float
    table: pd.DataFrame
    note: str = ""  # why part of the run was not analysed (non-finite predictions), if any

    def headline(self) -> str:
        kind = "exact (linear in its trained parameters, GD)" if self.exact else (
            "a linearisation" if is_plain_gd(self.optimizer) else f"the GD prediction; this run used {self.optimizer}")
        return (f"GD mask on J's {self.rank} singular directions at step {self.step:,} ({kind}): fit_error "
                f"{self.fit_error:.3g} over {self.n_directions} directions; bandwidth ~ q^"
                f"{self.bandwidth_exponent:.2f} observed (Lucey: q^0.5)" + (f"; {self.note}" if self.note else ""))

    def tables(self) -> dict[str, pd.DataFrame]:
        return {"directions": self.table, "bandwidth": self.bandwidth}
