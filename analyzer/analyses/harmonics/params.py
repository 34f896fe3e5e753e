"""Parameters of the harmonics analysis (`analyze harmonics RUN`)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from analyzer.errors import BadInputError


@dataclass(frozen=True)
class HarmonicsParams:
    """Options of `analyze harmonics`."""

    extra_degrees: int = field(default=2, metadata={"help": "Degrees beyond the highest target degree in the basis "
                                                            "(their residual is the net's own, the target has none)."})
    fit_from: float = field(default=0.9, metadata={"help": "The rate is fitted from the first step where a degree's "
                                                           "residual is below this fraction of its initial norm..."})
    fit_to: float = field(default=0.1, metadata={"help": "...to the first step where it is below this fraction (or "
                                                         "the end of the run)."})

    def __post_init__(self):
        if not (isinstance(self.extra_degrees, int) and 0 <= self.extra_degrees <= 8):
            raise BadInputError(f"harmonics: extra_degrees must be an integer from 0 to 8, got {self.extra_degrees}")
        for name in ("fit_from", "fit_to"):
            value = getattr(self, name)
            if not (isinstance(value, (int, float)) and math.isfinite(value) and 0 < value <= 1):
                raise BadInputError(f"harmonics: {name} must be a fraction in (0, 1], got {value}")
        if not self.fit_to < self.fit_from:
            raise BadInputError(f"harmonics: fit_to must be below fit_from ({self.fit_from}), got {self.fit_to}")
