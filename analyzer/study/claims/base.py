"""The Claim base class: one claim of the study -- what it needs from each run, its tests, its verdict, its section.

A claim is the study's unit. It names the cached analyses its workers compute for every run (`jobs`), reduces
one run to a small frozen dataclass on the worker (`extract`), evaluates the pooled evidence once over all runs
(`evaluate`), contributes typed rows to the study's test family (`tests`; the family's multiplicity procedure
adjusts them together), and judges itself by a rule stated beside the verdict (`verdicts`, after adjustment).
`section` and `json` show it. Adding a claim is one module in this package plus one line in `BUILTIN`
(analyzer/study/claims/__init__.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

from analyzer.stats.constants import ALPHA

VERDICTS = ("holds", "partly", "fragile", "tolerance-dependent", "not shown", "does not hold", "untested",
            "descriptive")


@dataclass(frozen=True)
class ClaimJob:
    """A cached analysis a claim reads for every run: its name, overrides, and for which runs (None: all)."""

    analysis: str
    overrides: dict = field(default_factory=dict)
    only_if: Callable[[Any], bool] | None = None


@dataclass(frozen=True)
class Verdict:
    """One verdict row: the claim, the observation in words, the verdict, the evidence (numbers) and the rule."""

    claim: str
    observation: str
    verdict: str
    evidence: str
    rule: str

    def __post_init__(self):
        if self.verdict not in VERDICTS:
            raise ValueError(f"unknown verdict {self.verdict!r}")

    def as_dict(self) -> dict:
        return {"claim": self.claim, "observation": self.observation, "verdict": self.verdict,
                "evidence": self.evidence, "rule": self.rule}


class Claim:
    """Base class of the study's claims; a subclass sets `id`, `observation` and `rule` and overrides what it uses.

    Class attributes:
        id: the claim's id (`verdicts[].claim` in `analyze study --json`), e.g. "jumps_near_escapes".
        observation: the claim in words, as the report states it.
        rule: how the verdict follows from the numbers.
        essential: a failure of `extract` skips the run (the study's events); otherwise it is a note on the run.
        network_runs_only: `extract` is skipped for float-rounding replicates (they feed the noise floor alone).
        claimed_sign, effect_unit: of `per_run_effects`.
    """

    id: ClassVar[str] = ""
    observation: ClassVar[str] = ""
    rule: ClassVar[str] = ""
    essential: ClassVar[bool] = False
    network_runs_only: ClassVar[bool] = False
    claimed_sign: ClassVar[int] = 1  # the sign of a per-run effect that shows the claim (per_run_effects)
    effect_unit: ClassVar[str] = ""  # the unit of a per-run effect, in words

    def jobs(self, options) -> list[ClaimJob]:
        """The cached analyses computed on the workers for every run before it is extracted."""
        return []

    def extract(self, run, context) -> Any:
        """What this claim keeps of one open run (a small frozen dataclass), or None."""
        return None

    def evaluate(self, study) -> Any:
        """The claim's pooled evidence over the study's runs, computed once (study.results[id])."""
        return None

    def tests(self, study, result) -> list:
        """Typed rows of the study's test family (stats.family.TestRow), before adjustment."""
        return []

    def verdicts(self, study, result) -> list[Verdict]:
        """The claim's verdict(s), read after the family's adjustment (study.family_row(name))."""
        return []

    def section(self, study, result, figs: dict) -> list[str]:
        """Markdown lines of the claim's report section (figures into `figs`)."""
        return []

    def json(self, study, result) -> dict:
        """The claim's keys of `analyze study --json`."""
        return {}

    def per_run_effects(self, study, result) -> dict[str, float]:
        """Run path -> the claim's effect in that run (claimed_sign: the direction that shows the claim), for the
        claims a paired contrast can compare run by run (the twin contrast); {} where none is defined."""
        return {}

    def verdict(self, verdict: str, evidence: str, observation: str | None = None, rule: str | None = None) -> Verdict:
        return Verdict(self.id, observation or self.observation, verdict, evidence, rule or self.rule)

    def row_verdict(self, row, claimed_sign: int, untested: str, evidence: Callable[[Any], str],
                    observation: str | None = None, rule: str | None = None) -> Verdict:
        """The verdict of one family row (test_verdict at ALPHA, after the family's adjustment), its evidence
        `evidence(row)`; "untested" with `untested` as the evidence where the family has no adjusted p for it."""
        if row is None or row.p_adjusted is None:
            return self.verdict("untested", untested, observation, rule)
        return self.verdict(test_verdict(row.p_adjusted, row.effect, claimed_sign, ALPHA), evidence(row),
                            observation, rule)


def test_verdict(p_adjusted: float | None, effect: float | None, claimed_sign: int, alpha: float) -> str:
    """A one-test verdict: holds when significant at alpha (adjusted) in the claimed direction, does not hold when
    significant the other way, not shown otherwise; untested without a p-value."""
    if p_adjusted is None or effect is None or not math.isfinite(p_adjusted) or not math.isfinite(effect):
        return "untested"
    if p_adjusted >= alpha or effect == 0:
        return "not shown"
    return "holds" if math.copysign(1, effect) == claimed_sign else "does not hold"
