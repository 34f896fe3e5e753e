"""Options of the correlate analysis (`analyze correlate`)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from analyzer.core.params import param, validate
from analyzer.stats.nulls import NULLS as REGISTERED_NULLS

NULLS = ("auto", *REGISTERED_NULLS)  # analyzer/stats/nulls: one class per null
STATISTICS = ("mean_distance", "hit_fraction")
JUMP_SETS = ("all", "main")
REFERENCES = ("escapes", "edges")


@dataclass(frozen=True)
class CorrelateParams:
    """Options of `analyze correlate`; each field's help is its documentation (see analyzer/core/params.py)."""

    analysis: ClassVar[str] = "correlate"

    n_permutations: int = param(9999, "Null draws of the permutation test; the smallest reachable p-value is "
                                      "1 / (draws + 1).", minimum=1, cli="permutations")
    seed: int = param(0, "Seed of the null draws.")
    null: str = param("auto", "Null (analyzer/stats/nulls): swap (references swapped between runs of a group), "
                              "clock-swap (the same after aligning runs on their clocks), interval-jitter (each "
                              "reference redrawn within a window of its own position), shift (references shifted "
                              "circularly in log-step within each run), log-uniform or uniform (diagnostics: jumps "
                              "redrawn uniformly in log-step or in steps); auto = the default chosen by "
                              "bench/null_calibration.py (clock-swap), or shift when a group (preset) has a single "
                              "run and the default exchanges references between runs.", choices=NULLS)
    statistic: str = param("mean_distance", "mean_distance (mean jump-to-nearest-reference distance; small means "
                                             "association) or hit_fraction (fraction of jumps within --tolerance).",
                           choices=STATISTICS)
    tolerance: float = param(0.1, "Hit distance of hit_fraction, in the null's units (decades or steps).", above=0)
    jumps: str = param("all", "all detected jumps, or only the main (largest) jump of each frequency.",
                       choices=JUMP_SETS)
    reference: str = param("escapes", "Reference points: escapes (midpoints of the loss drops that end plateaus) or "
                                      "plateau edges.", choices=REFERENCES)
    threshold: float = param(0.1, "Spectrum threshold on the relative error (sets the spectrum's threshold).",
                             above=0)
    alpha: float = param(0.05, "Significance level of the plain-sentence conclusion.", above=0, below=1)

    def __post_init__(self):
        validate(self)
