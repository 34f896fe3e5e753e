"""The study's family of tests: typed rows, the multiplicity procedure, and the power at the level the verdict uses.

Procedure: a weighted Holm procedure (Holm 1979, with weights; the graphical form of Bretz et al. 2009 with each
rejected hypothesis passing its level on to the others in proportion to their weights). The pre-registered primary
gets PRIMARY_WEIGHT = 0.8 of alpha and the secondaries share the rest equally. Step down: among the hypotheses
not yet rejected (set I), reject the one with the smallest p_i / w_i if p_i <= alpha w_i / sum_{j in I} w_j, and
repeat; when the primary is rejected its 0.8 alpha is passed on to the secondaries (plain Holm among them).
Why: it controls the family-wise error strongly (it is the closed test of weighted Bonferroni intersection tests,
checked against brute-force closed testing in tests/analyzer/stats/test_stats_family.py); it keeps the primary's power (0.04
where plain Holm over 20 tests gives it 0.0025 until the others fall); and unlike a fixed-sequence gatekeeper
(primary at alpha, secondaries only if it rejects) the secondaries are still tested when the primary fails, as
they must be: they are separate claims (saddles, escape directions) whose verdicts the report prints either way.
Adjusted p-values: p~_i is the smallest alpha at which the procedure rejects i (so p~_i <= alpha iff rejected).

Power (`detectable_effect`): the smallest effect the one-sided test detects with 80 % power at a given level, in
the normal approximation (z_{1-level} + z_{0.8}) x SE, stated at the level the verdict uses (`local_level`: the
primary's 0.8 alpha, a secondary's share), not at alpha.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from analyzer.stats.constants import ALPHA, POWER

PRIMARY_WEIGHT = 0.8


@dataclass(frozen=True)
class TestRow:
    """One test of the family: what is tested (name, claim id, reference, null), its p-value and adjusted p-value,
    the effect with its interval, whether it is the primary, and the runs and jumps it rests on."""

    __test__ = False  # not a pytest class

    name: str
    claim: str
    reference: str
    null: str
    p_value: float | None
    p_adjusted: float | None = None
    effect: float | None = None
    ci_low: float | None = None
    ci_high: float | None = None
    primary: bool = False
    n_runs: int = 0
    n_jumps: int = 0
    notes: tuple[str, ...] = ()
    observed: float | None = None  # the statistic on the data (the report prints it beside null_mean)
    null_mean: float | None = None  # what the effect compares it with
    effect_unit: str = ""  # "decades" for the jump tests (the forest plot draws those)
    details: dict = field(default_factory=dict, compare=False)  # per-run numbers other claims read (not in JSON)

    JSON_KEYS = ("name", "claim", "reference", "null", "p_value", "p_adjusted", "effect", "ci_low", "ci_high",
                 "primary")

    def as_json(self) -> dict:
        """The row as `test_family` in --json shows it."""
        return {key: getattr(self, key) for key in self.JSON_KEYS}

    def detail_json(self) -> dict:
        """The row's counts and notes (`test_details` in --json)."""
        return {"name": self.name, "observed": self.observed, "null_mean": self.null_mean, "n_runs": self.n_runs,
                "n_jumps": self.n_jumps, "notes": list(self.notes)}


def family_weights(primary: list[bool], primary_weight: float = PRIMARY_WEIGHT) -> np.ndarray:
    """Initial weights: the primary primary_weight, the secondaries (1 - primary_weight) shared equally; a family
    without secondaries gives the primary everything, one without a primary is plain Holm (equal weights)."""
    primary = np.asarray(primary, dtype=bool)
    if primary.sum() > 1:
        raise ValueError("a family has at most one primary test")
    n_secondary = int((~primary).sum())
    if not primary.any():
        return np.full(len(primary), 1.0 / max(len(primary), 1))
    if n_secondary == 0:
        return primary.astype(np.float64)
    return np.where(primary, primary_weight, (1.0 - primary_weight) / n_secondary)


def weighted_holm(p_values, weights) -> list[float | None]:
    """Adjusted p-values of the weighted Holm procedure (module docstring); None p-values stay None and their
    weight is shared among the others in proportion."""
    known = [i for i, p in enumerate(p_values) if p is not None and math.isfinite(p)]
    adjusted: list[float | None] = [None] * len(p_values)
    if not known:
        return adjusted
    p = np.array([p_values[i] for i in known], dtype=np.float64)
    w = np.asarray(weights, dtype=np.float64)[known]
    w = w / w.sum()
    order = np.argsort(p / np.where(w > 0, w, np.nan), kind="stable")
    remaining, running = w.sum(), 0.0
    for i in order:
        level = p[i] * remaining / w[i] if w[i] > 0 else 1.0
        running = max(running, min(1.0, max(level, p[i])))  # >= p itself (rounding of the renormalised weights)
        adjusted[known[i]] = running
        remaining -= w[i]
    return adjusted


def adjust(rows: list[TestRow], primary_weight: float = PRIMARY_WEIGHT) -> list[TestRow]:
    """The rows with p_adjusted filled by the weighted Holm procedure over the family."""
    weights = family_weights([r.primary for r in rows], primary_weight)
    adjusted = weighted_holm([r.p_value for r in rows], weights)
    return [replace(row, p_adjusted=a) for row, a in zip(rows, adjusted)]


def adjust_family(rows: list[TestRow], primary_weight: float = PRIMARY_WEIGHT) -> list[TestRow]:
    """The family adjusted together (`adjust`), its one primary first; two primaries are an error."""
    if sum(r.primary for r in rows) > 1:
        raise ValueError(f"the family has {sum(r.primary for r in rows)} primary tests; it must have one")
    return adjust([r for r in rows if r.primary] + [r for r in rows if not r.primary], primary_weight)


def holm(p_values: list[float | None]) -> list[float | None]:
    """Holm's step-down adjusted p-values (equal weights; None stays None and does not count in the family)."""
    return weighted_holm(p_values, np.ones(len(p_values)))


def local_level(rows: list[TestRow], index: int, alpha: float = ALPHA,
                primary_weight: float = PRIMARY_WEIGHT) -> float:
    """The level test `index` is first judged at: alpha times its initial weight (the primary's 0.8 alpha; a
    secondary's share of 0.2 alpha), the threshold its verdict needs before any other test is rejected."""
    tested = [r.p_value is not None and math.isfinite(r.p_value) for r in rows]
    weights = family_weights([r.primary for r in rows], primary_weight) * np.asarray(tested, dtype=np.float64)
    return float(alpha * weights[index] / weights.sum()) if weights.sum() > 0 else float("nan")


def detectable_effect(se: float | None, level: float, power: float = POWER, sided: int = 1) -> float | None:
    """The smallest effect (magnitude, the effect's units) a test of standard error `se` detects with `power` at
    `level` (one- or two-sided), normal approximation: (z_{1 - level / sided} + z_{power}) x se."""
    from scipy import stats  # here, not at the top: `analyze --help` must not load scipy.special

    if se is None or not math.isfinite(se) or not 0 < level < 1:
        return None
    return float((stats.norm.ppf(1 - level / sided) + stats.norm.ppf(power)) * se)
