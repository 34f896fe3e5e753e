"""What a plateau detector is (`Detector`: its name, how the text names it, its function) and what it finds
(`Detection`). The detectors themselves are one module each; analyzer/analyses/plateaus/detectors.py lists them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np
import pandas as pd

from analyzer.analyses.plateaus.loss_drops import loss_drops_frame


@dataclass(frozen=True)
class Detection:
    """One detector's segments of a loss curve (SEGMENT_COLUMNS, `method` its name, `is_plateau` set), and what
    only some detectors find: the change points and the loss drops after plateaus (empty for the others)."""

    segments: pd.DataFrame
    change_points: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    loss_drops: pd.DataFrame = field(default_factory=loss_drops_frame)


@dataclass(frozen=True)
class Detector:
    """A named plateau detector.

    Args:
        name: its `method` in the segments and edges, and `PlateauResult.plateaus(name)`.
        by: how the headline names it ("3 plateaus by change points").
        title: its short name in tables ("plateaus (change points)").
        detect: (loss curve, PlateauParams) -> Detection.
    """

    name: str
    by: str
    title: str
    detect: Callable[..., Detection]
