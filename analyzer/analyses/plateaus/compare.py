"""The plateaus' part of the comparison section of a report on several runs: plateau counts side by side."""

from __future__ import annotations

import numpy as np
import pandas as pd

from analyzer.sections.markdown import markdown_table


def tables(runs, pooled) -> list[str]:
    return ["### Plateaus per run", ""] + markdown_table(_plateau_counts(runs))


def _plateau_counts(runs) -> pd.DataFrame:
    rows = []
    for run in runs:
        result = run.results.get("plateaus")
        if result is None:
            rows.append((run.label, np.nan, np.nan, np.nan))
            continue
        rows.append((run.label, len(result.plateaus("changepoint")), len(result.plateaus("gradient")),
                     len(result.change_points)))
    return pd.DataFrame(rows, columns=["run", "plateaus (change points)", "plateaus (gradient)", "change points"])
