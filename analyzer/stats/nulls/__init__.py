"""The nulls of the jump-to-reference test, one named class per file behind one factory (the ruptures pattern).

Adding a null: a module here defining `NULL = <a Null subclass>` with its `name`, `keeps` and `calibrated_for`,
plus its module name on one line of BUILTIN. `get_null(name, **options)` makes one; `NULLS` maps every name to
its class. The default null is the one bench/null_calibration.py chose: the most powerful null whose
false-positive rate stayed at or below 0.07 (alpha 0.05) under every generative model of the calibration that is
a null for the test (analyzer/stats/calibration; bench/RESULTS.md).
"""

from __future__ import annotations

import importlib

from analyzer.errors import BadInputError
from analyzer.stats.nulls.base import Events, Null, NullDraws
from analyzer.stats.nulls.exchange import permutation_draws

BUILTIN = (
    "swap",
    "clock_swap",
    "interval_jitter",
    "shift",
    "log_uniform",
    "uniform",
)

NULLS: dict[str, type[Null]] = {cls.name: cls for cls in
                                (importlib.import_module(f"{__name__}.{module}").NULL for module in BUILTIN)}
DEFAULT_NULL = "clock-swap"  # bench/null_calibration.py's choice: worst FPR 0.061 +- 0.008, power 0.86


def get_null(name: str, **options) -> Null:
    """The null called `name`, made with its options (e.g. get_null("interval-jitter", window=0.05))."""
    if isinstance(name, Null):
        return name
    if name not in NULLS:
        raise BadInputError(f"unknown null {name!r}; known: {', '.join(NULLS)}")
    try:
        return NULLS[name](**options)
    except TypeError as error:
        raise BadInputError(f"null {name!r}: {error}") from None


def diagnostic_nulls() -> tuple[str, ...]:
    """Nulls known to reject without coupling, shown for comparison only."""
    return tuple(name for name, cls in NULLS.items() if cls.diagnostic)


__all__ = ["BUILTIN", "DEFAULT_NULL", "Events", "NULLS", "Null", "NullDraws", "diagnostic_nulls", "get_null",
           "permutation_draws"]
