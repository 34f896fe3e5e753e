"""The plateaus' part of the comparison section of a report on several runs: plateau counts side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyzer.analyses.plateaus.detectors import DETECTORS
from analyzer.sections.markdown import markdown_table


def tables(runs, pooled) -> list[str]:
    return ["### Plateaus per run", ""] + markdown_table(_plateau_counts(runs))


def _plateau_counts(runs) -> pd.DataFrame:
    """Each run's plateaus by every detector, and its change points."""
    rows = []
    for run in runs:
        result = run.results.get("plateaus")
        if result is None:
            rows.append((run.label, *[np.nan] * len(DETECTORS), np.nan))
            continue
        rows.append((run.label, *(len(result.plateaus(name)) for name in DETECTORS), len(result.change_points)))
    columns = ["run", *(f"plateaus ({detector.title})" for detector in DETECTORS.values()), "change points"]
    return pd.DataFrame(rows, columns=columns)
