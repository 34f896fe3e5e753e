"""Parameters of the harmonics analysis (`analyze harmonics RUN`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from analyzer.core.params import fail, param, validate


@dataclass(frozen=True)
class HarmonicsParams:
    """Options of `analyze harmonics`; each field's help is its documentation."""

    analysis: ClassVar[str] = "harmonics"

    extra_degrees: int = param(2, "Degrees beyond the highest target degree in the basis (their residual is the "
                                  "net's own, the target has none).", minimum=0, maximum=8)
    fit_from: float = param(0.9, "The rate is fitted from the first step where a degree's residual is below this "
                                 "fraction of its initial norm...", above=0, maximum=1)
    fit_to: float = param(0.1, "...to the first step where it is below this fraction (or the end of the run).",
                          above=0, maximum=1)

    def __post_init__(self):
        validate(self)
        if not self.fit_to < self.fit_from:
            fail(self, "fit_to", f"below fit_from ({self.fit_from:g})", self.fit_to)
