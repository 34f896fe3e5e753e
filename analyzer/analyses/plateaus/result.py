"""The plateaus analysis' result: segments and plateau edges of log10(loss) from every detector."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from analyzer.analyses.plateaus import detectors
from analyzer.analyses.plateaus.loss_drops import loss_drops_frame

SEGMENT_COLUMNS = ["method", "start_step", "end_step", "duration", "mean_log10_loss", "slope", "is_plateau"]
# The loss-drop columns as printed: `end_step` there is the plateau's end (its first step after), not the drop's,
# which read "end_step 29, mid_step 891" as a drop that ends before its middle
LOSS_DROP_DISPLAY = {"end_step": "plateau_end_step", "mid_step": "drop_mid_step",
                     "start_step": "next_plateau_start_step", "width_steps": "drop_width_steps"}
LOSS_DROPS_TITLE = ("loss drops: the plateau ends, the loss drops (midpoint, 10-90 % width), the next plateau starts "
                    "('-': none follows, the drop is measured to the run's last loss)")
EDGE_COLUMNS = ["method", "step", "kind"]


@dataclass(frozen=True)
class PlateauResult:
    """Segments and plateau edges of log10(loss) from every detector (plateaus/detectors.py)."""

    segments: pd.DataFrame  # SEGMENT_COLUMNS; duration in steps, slope in decades of loss per decade of steps
    plateau_edges: pd.DataFrame  # EDGE_COLUMNS; kind "start" (first plateau step) or "end" (first step after it)
    change_points: np.ndarray  # steps where a change-point segment starts (interior boundaries)
    agreement: dict = field(default_factory=dict)  # matched edges, distances, F1 within tolerance
    # change-point method, edges="logistic": one row per plateau that ends inside the run (LOSS_DROP_COLUMNS):
    # the drop after it, its midpoint and 10-90 % width in steps, and the start of the next plateau (NaN if none)
    loss_drops: pd.DataFrame = field(default_factory=loss_drops_frame)
    noise_sigma: float = 0.0  # robust noise of the binned log10 loss, decades
    n_steps_used: int = 0  # finite prefix of the loss that was analysed
    note: str = ""  # why part of the run was not analysed, if any
    loss_label: str = ""  # which loss the run logged, when not the MSE: "training loss (user-defined: NAME)"

    def plateaus(self, method: str | None = None) -> pd.DataFrame:
        """The plateau segments of detector `method` (None: the default detector)."""
        method = detectors.get(method).name
        frame = self.segments
        return frame[(frame.method == method) & frame.is_plateau.astype(bool)].reset_index(drop=True)

    def edge_steps(self, method: str | None = None) -> np.ndarray:
        """The plateau edges' steps of detector `method` (None: the default detector)."""
        method = detectors.get(method).name
        return np.unique(self.plateau_edges.loc[self.plateau_edges.method == method, "step"].to_numpy(dtype=np.int64))

    def loss_drop_steps(self) -> np.ndarray:
        """Midpoints of the loss drops that end the change-point plateaus (edges="logistic" only; a plateau
        the loss leaves upwards has none)."""
        mids = self.loss_drops.mid_step.to_numpy(dtype=np.float64)
        return mids[np.isfinite(mids)]

    def headline(self) -> str:
        default = detectors.DEFAULT_DETECTOR
        counts = {m: len(self.plateaus(m)) for m in detectors.DETECTORS}
        n_edges = {m: len(self.edge_steps(m)) for m in detectors.DETECTORS}
        if not any(n_edges.values()):
            flat = " (the whole analysed run is one flat plateau)" if counts[default] else ""
            text = f"no plateau edges found{flat}"
        else:
            found = []
            for m in sorted(detectors.DETECTORS, key=lambda m: m != default):  # the default detector first
                noun = f" plateau{'s' * (counts[m] != 1)}" if m == default else ""
                found.append(f"{counts[m]}{noun} by {detectors.DETECTORS[m].by} ({n_edges[m]} edges)")
            text = (", ".join(found) + f"; {self.agreement.get('matched', 0)} edges agree within "
                    f"{self.agreement.get('tolerance_decades')} decades")
        return text + (f"; {self.note}" if self.note else "") + (f"; loss: {self.loss_label}" if self.loss_label else "")

    def tables(self) -> dict[str, pd.DataFrame]:
        agreement = pd.DataFrame([{k: v for k, v in self.agreement.items()}]) if self.agreement else pd.DataFrame()
        return {"segments": self.segments, "plateau edges": self.plateau_edges, LOSS_DROPS_TITLE: self.loss_drops_display(),
                "agreement": agreement}

    def loss_drops_display(self) -> pd.DataFrame:
        """The loss drops as printed: each row is a plateau's end, the drop after it and the next plateau's start,
        named so (in --json: end_step, mid_step, start_step), in the order they happen."""
        return self.loss_drops.rename(columns=LOSS_DROP_DISPLAY)

