"""Studies of diag-linear known-answer runs for the calibration's power column: jumps at each mode's true escape."""

from __future__ import annotations

import numpy as np

from analyzer.stats.calibration.models import Study
from analyzer.stats.calibration.templates import DETECTION_DECADES


def known_answer_study(rng, answers: list, groups: list[str]) -> Study:
    """Jumps at each mode's true escape (half-learned step) plus detection noise, references at the midpoints of the
    true escapes (analyzer/analyses/score/known.py: each answer's `modes` and `system.epochs`)."""
    jumps, refs, spans = [], [], []
    for answer in answers:
        modes = answer.modes.dropna(subset=["escape_step"])
        escape_u = np.log10(modes.escape_step.to_numpy(np.float64) + 1)
        jumps.append(10 ** (escape_u + rng.normal(0, DETECTION_DECADES, len(escape_u))) - 1)
        mids = 0.5 * (modes.rise_start_step.to_numpy(np.float64) + modes.rise_end_step.to_numpy(np.float64))
        refs.append(mids[np.isfinite(mids)])
        spans.append((0, answer.system.epochs))
    groups = list(groups)
    return Study(jumps, refs, spans, groups, [np.arange(len(j)) for j in jumps], list(range(len(jumps))), groups)
