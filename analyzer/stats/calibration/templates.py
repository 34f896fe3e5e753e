"""The timing of the seed-0 runs that every simulated study copies: each preset's jumps, plateau edges and
escapes, and how much a seed moves them."""

from __future__ import annotations

import math

LAST_STEP = 10_000
TOP = math.log10(LAST_STEP + 1)  # the end of a run in decades of log10(step + 1)
# seed-0 runs of `make demo` (reports/seed-study): every jump step, plateau edge and escape (loss-drop midpoint)
TEMPLATES = {
    "baseline": {"jumps": [7, 41, 8, 149], "edges": [8, 87], "escapes": [528]},
    "wide": {"jumps": [3, 53, 4, 183, 1289, 4326], "edges": [3, 68], "escapes": [572]},
    "deep": {"jumps": [5, 10, 77, 6, 94, 210, 7387, 295, 4408], "edges": [434, 3829, 4008, 7300],
             "escapes": [3959, 7621]},
    "sgd": {"jumps": [145], "edges": [34, 192, 5911], "escapes": [130, 8877]},
}
JITTER_DECADES = (0.1, 0.3)  # each run's jitter SD, drawn uniformly from this range per event kind
KEEP = 0.85  # probability that a template event occurs in a simulated run
DETECTION_DECADES = 0.05  # noise of a jump's detected time around the event it marks (the jump grid: 20 / decade)
COUPLING = 0.2  # planted coupling of the power models: this fraction of each run's jumps at its own references;
# an effect of about -0.03 decades against the other runs' references, the size of the committed primary effect


def presets(n_groups: int) -> list[tuple[str, str]]:
    """(group name, template) for n_groups groups: the four presets, then again as further groups."""
    names = list(TEMPLATES)
    return [(names[g % len(names)] + ("" if g < len(names) else f"-{g // len(names) + 1}"), names[g % len(names)])
            for g in range(n_groups)]
