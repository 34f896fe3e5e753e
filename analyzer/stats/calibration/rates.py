"""Rejection rates, mean effects and interval coverage of the jump test under each null, over simulated studies
of one generative model; each study is simulated once and tested under every null (paired comparisons)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from analyzer.stats.constants import ALPHA, CALIBRATION_DRAWS
from analyzer.stats.nulls import Null, get_null
from analyzer.stats.permutation import jump_test


@dataclass
class Tally:
    """One null's counts over the studies of one model."""

    rejected: int = 0
    tested: int = 0
    effects: list = field(default_factory=list)
    numerator: float = 0.0  # sum over studies of effect x jumps: the pooled effect is numerator / jumps
    jumps: int = 0
    covered: int = 0
    with_ci: int = 0

    def summary(self) -> dict:
        rate = self.rejected / self.tested if self.tested else math.nan
        out = {"rate": rate, "se": math.sqrt(max(rate * (1 - rate), 1e-12) / self.tested) if self.tested else math.nan,
               "effect": float(np.nanmean(self.effects)) if self.effects else math.nan, "studies": self.tested,
               "pooled_effect": self.numerator / self.jumps if self.jumps else math.nan}
        if self.with_ci:
            coverage = self.covered / self.with_ci
            out.update(coverage=coverage, coverage_se=math.sqrt(max(coverage * (1 - coverage), 1e-12) / self.with_ci),
                       with_ci=self.with_ci)
        return out


def null_variants(specs: dict[str, tuple[str, dict]]) -> dict[str, Null]:
    """Label -> Null made from (registered name, options)."""
    return {label: get_null(name, **options) for label, (name, options) in specs.items()}


def rejection_rates(model, nulls: dict[str, Null], n_studies: int, n_draws: int = CALIBRATION_DRAWS,
                    alpha: float = ALPHA, seed: int = 0, design: tuple[int, int] = (4, 8), n_resamples: int = 0,
                    truth: dict[str, float] | None = None, simulate=None) -> dict[str, dict]:
    """Per null label: rejection rate at alpha with its Monte-Carlo SE, mean effect, the pooled effect (the
    estimand's Monte-Carlo value) and, with n_resamples and truth, the share of intervals holding truth[label].

    model: a calibration Model (its simulate(rng, design) gives a Study), or None with `simulate` given."""
    rng = np.random.default_rng([seed, 17])
    simulate = simulate or model.simulate
    tallies = {label: Tally() for label in nulls}
    for study_index in range(n_studies):
        study = simulate(rng, design)
        for label, null in nulls.items():
            outcome = jump_test(**study.arguments(), null=null, n_permutations=n_draws, seed=study_index,
                                strict=False, n_resamples=n_resamples)
            tally = tallies[label]
            if outcome.n_jumps == 0:
                continue
            tally.tested += 1
            tally.rejected += bool(outcome.p_value <= alpha)
            tally.effects.append(outcome.effect)
            tally.numerator += outcome.effect * outcome.n_jumps
            tally.jumps += outcome.n_jumps
            if truth is not None and outcome.ci_low is not None:
                tally.with_ci += 1
                tally.covered += bool(outcome.ci_low <= truth[label] <= outcome.ci_high)
    return {label: tally.summary() for label, tally in tallies.items()}


def holds_level(rate: float, limit: float = 0.07) -> bool:
    """A null holds its level under a model when its false-positive rate is at most `limit` (0.07 at alpha 0.05:
    the issue's bound, about 2 Monte-Carlo SEs above alpha at 1,000 studies)."""
    return rate <= limit
