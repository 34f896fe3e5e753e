"""The correlate analysis' result: jump-to-reference distances and the permutation test."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd


@dataclass(frozen=True)
class CorrelateResult:
    """Jump-to-reference distances and the permutation test.

    `effect_size` is (null mean - observed) / null std for "mean_distance" and (observed - null mean) /
    null std for "hit_fraction": in units of the null's standard deviation, positive when jumps sit closer
    to the reference points than chance. `distance_units` says whether statistics are in decades of
    log10(step+1) or steps.
    p_value, effect_size and the statistics are None/NaN when there is nothing to test.
    `descriptive_only`: a single run informs the figures (one run's jumps against its own reference points): they
    describe that run and test nothing, so the conclusion, the section and the tables show no p-value and no
    conclusion; p_value stays in the JSON under its key, for a caller who pools it elsewhere.
    """

    distances: pd.DataFrame  # run, freq_hz (or degree), jump_step, nearest_reference_step, distance_steps, distance
    p_value: float | None
    effect_size: float | None
    observed_statistic: float | None
    null_mean: float | None
    null_std: float | None
    n_jumps: int
    n_reference_points: int
    n_runs: int
    reference: str
    statistic: str
    null: str
    distance_units: str
    conclusion: str
    effect: float | None = None  # observed - null mean of the statistic, in distance_units (negative: closer)
    notes: tuple[str, ...] = ()  # runs the null had to leave out, and why
    n_runs_given: int = 0  # runs given; n_runs counts those that inform the test (jumps and reference points)
    descriptive_only: bool = False  # at most one run informs the figures: shown as a description, not a test

    @property
    def mode_name(self) -> str:
        """What the jumps are jumps of: "freq_hz" (sine runs) or "degree" (harmonics runs), the distance table's
        second column."""
        return str(self.distances.columns[1])

    def headline(self) -> str:
        return self.conclusion

    def tables(self) -> dict[str, pd.DataFrame]:
        points, point = REFERENCE_NAMES[self.reference]
        quantities = ["runs tested", "jumps tested", points, "null", "statistic", "observed", "null mean",
                      "effect (observed - null mean)", "effect size (null std)", "p-value"]
        values = [str(self.n_runs), str(self.n_jumps), str(self.n_reference_points), self.null,
                  f"{self.statistic} ({self.distance_units})", _fmt(self.observed_statistic), _fmt(self.null_mean),
                  _fmt(self.effect), _fmt(self.effect_size), _fmt(self.p_value)]
        if self.descriptive_only:  # one run's figures, without the p-value a single draw cannot support
            quantities, values = ["runs"] + quantities[1:-1], values[:-1]
        title = "distances vs the null (one run: descriptive)" if self.descriptive_only else "permutation test"
        return {title: pd.DataFrame({"quantity": quantities, "value": values}),
                f"jump to nearest {point}": self.distances}


DESCRIPTIVE = "one run: descriptive; `analyze study` tests across runs"
REFERENCE_NAMES = {"escapes": ("loss-drop midpoints", "loss-drop midpoint"),  # (plural, singular)
                    "edges": ("plateau edges", "plateau edge")}


def _fmt(value) -> str:
    return "-" if value is None or value != value else f"{value:.4g}"
