"""The plateau detectors, one module each behind one registry (the nulls' pattern, analyzer/stats/nulls/).

Adding a detector: a module in this folder defining `DETECTOR = Detector(...)` (plateaus/detection.py), and its
module name on one line of BUILTIN below. The plateaus result (its segments, edges, `plateaus(name)` and headline),
the report's comparison table and the study's specification curve iterate DETECTORS. Every other reader of
plateaus takes the default detector's, through the result's defaults, and names none.
"""

from __future__ import annotations

import importlib

from analyzer.analyses.plateaus.detection import Detection, Detector
from analyzer.errors import BadInputError

BUILTIN = (
    "changepoints",
    "gradient",
)

DETECTORS: dict[str, Detector] = {detector.name: detector for detector in
                                  (importlib.import_module(f"analyzer.analyses.plateaus.{module}").DETECTOR
                                   for module in BUILTIN)}
DEFAULT_DETECTOR = "changepoint"  # its plateaus, edges and loss drops are the ones the other analyses read
AGREEMENT_DETECTOR = "gradient"  # the seed's method: the result's `agreement` matches its edges with the default's


def get(name: str | None = None) -> Detector:
    """The detector called `name` (None: the default one)."""
    name = DEFAULT_DETECTOR if name is None else name
    if name not in DETECTORS:
        raise BadInputError(f"method must be {' or '.join(repr(known) for known in DETECTORS)}, got {name!r}")
    return DETECTORS[name]


__all__ = ["AGREEMENT_DETECTOR", "BUILTIN", "DEFAULT_DETECTOR", "DETECTORS", "Detection", "Detector", "get"]
