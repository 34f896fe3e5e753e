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
    alike) is read as coupling: false-positive rate 0.086, 0.257 and 0.433 at alpha 0.05 under a clock of SD 0.1,
    0.2 and 0.3 decades (bench/null_calibration.py, 1,000 studies each).
    """

    name = "swap"
    keeps = "each run's jumps and the group's reference sets; breaks only which run's references a run gets"
    calibrated_for = ("independent", "independent-edges", "parseval", "parseval-clock-0.2")

    def placed(self, events: Events, context, receiver: int, donor: int) -> np.ndarray:
        return events.references[donor]


NULL = Swap
