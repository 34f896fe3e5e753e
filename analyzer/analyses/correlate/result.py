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

    @property
    def mode_name(self) -> str:
        """What the jumps are jumps of: "freq_hz" (sine runs) or "degree" (harmonics runs), the distance table's
        second column."""
        return str(self.distances.columns[1])

    def headline(self) -> str:
        return self.conclusion

    def tables(self) -> dict[str, pd.DataFrame]:
        points, point = REFERENCE_NAMES[self.reference]
        summary = pd.DataFrame({
            "quantity": ["runs tested", "jumps tested", points, "null", "statistic", "observed", "null mean",
                         "effect (observed - null mean)", "effect size (null std)", "p-value"],
            "value": [str(self.n_runs), str(self.n_jumps), str(self.n_reference_points), self.null,
                      f"{self.statistic} ({self.distance_units})", _fmt(self.observed_statistic),
                      _fmt(self.null_mean), _fmt(self.effect), _fmt(self.effect_size), _fmt(self.p_value)]})
        return {"permutation test": summary, f"jump to nearest {point}": self.distances}


REFERENCE_NAMES = {"escapes": ("loss-drop midpoints", "loss-drop midpoint"),  # (plural, singular)
                    "edges": ("plateau edges", "plateau edge")}


def _fmt(value) -> str:
    return "-" if value is None or value != value else f"{value:.4g}"
