"""The swap null: reference sets permuted among the runs of a group (exchange.py has the draws)."""

from __future__ import annotations

import numpy as np

from analyzer.stats.nulls.base import Events
from analyzer.stats.nulls.exchange import ExchangeNull


class Swap(ExchangeNull):
    """Each run's jumps against another run's references, as they are.

    Keeps every run's timing structure exactly (early transients, preset-typical plateau times, clustering) and
    breaks only the pairing of jumps with their own run's references. It assumes the runs of a group are
    exchangeable: a shared per-run clock (a seed that learns everything a little earlier, jumps and references
    alike) is read as coupling, and its false-positive rate grows with the clock's spread
    (bench/null_calibration.py, model clock-0.2 and clock-0.3).
    """

    name = "swap"
    keeps = "each run's jumps and the group's reference sets; breaks only which run's references a run gets"
    calibrated_for = ("independent", "independent-edges", "clock-0.1")

    def placed(self, events: Events, context, receiver: int, donor: int) -> np.ndarray:
        return events.references[donor]


NULL = Swap
