"""Generative models of whole studies for the calibration of the jump tests: what "no coupling" can look like
in data, and planted coupling for power. None of them is a null's own assumption.

- independent: every run's jumps and references cluster around its preset's seed-0 times (templates.py) with
  their own independent jitter of 0.1-0.3 decades, each event kept with probability 0.85; jumps and references
  are drawn independently: any rejection is a false positive. Exactly the swap null's assumption (runs of a
  group exchangeable), so it cannot show the swap null failing; the others can.
- clock-SD: the same plus one offset per run, normal with SD 0.1, 0.2 or 0.3 decades, added to BOTH its jumps and
  its references: a seed that learns everything a little earlier or later (seeds differ by 0.14-0.28 decades in
  learned steps). No event coupling: a rejection is a false positive.
- planted (power): a fraction (templates.COUPLING, 0.2) of each run's jumps moved onto one of the run's own references plus
  DETECTION_DECADES of detection noise, with or without a shared clock.
- parseval (parseval.py): frequencies' residuals drop as sigmoids at their jumps and the loss is their energy.
catalog.py names them all.

Events that the jitter or the clock moves past either end of the run are dropped: the run never sees them (the
first calibration clipped them to the ends instead, which piles jumps and references together at the last step:
model clock-0.3-clipped keeps that form to reproduce the issue's figures; it is not a null model).
A study is 4 presets x 8 runs unless a design (groups, runs per group) says otherwise. Each jump carries its
template index as its label (the frequency it stands for), which the clock-aligned swap uses.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from analyzer.stats.calibration.templates import (DETECTION_DECADES, JITTER_DECADES, KEEP, LAST_STEP, TEMPLATES,
                                                  TOP, presets)


@dataclass(frozen=True)
class Study:
    """One simulated study as the jump test takes it: per unit jumps and references (steps), spans, groups, jump
    labels, the unit's run (cluster), its stratum and clock (None: estimated from the unit's jumps)."""

    jumps: list
    references: list
    spans: list
    groups: list
    labels: list
    clusters: list
    strata: list
    clocks: np.ndarray | None = None

    def arguments(self) -> dict:
        """Keyword arguments of analyzer.stats.permutation.jump_test."""
        return {"jumps": self.jumps, "references": self.references, "spans": self.spans, "groups": self.groups,
                "labels": self.labels, "clusters": self.clusters, "strata": self.strata, "clocks": self.clocks}


def jittered(rng: np.random.Generator, steps, sd: float, keep: float = KEEP) -> tuple[np.ndarray, np.ndarray]:
    """(u, labels): the template events kept with probability `keep`, jittered by N(0, sd) decades (at least one
    kept), in decades of log10(step + 1), labelled by their template index."""
    u = np.log10(np.asarray(steps, dtype=np.float64) + 1)
    kept = np.flatnonzero(rng.random(len(u)) < keep)
    if len(kept) == 0:
        kept = rng.integers(len(u), size=1)
    return u[kept] + rng.normal(0, sd, len(kept)), kept


def event_study(rng: np.random.Generator, reference: str = "escapes", clock_sd: float = 0.0, coupling: float = 0.0,
                design: tuple[int, int] = (4, 8), clip: bool = False) -> Study:
    """One study of the independent / clock / planted models (module docstring); design = (groups, runs each).

    Events a clock moves past the run's ends are dropped (never seen), or with `clip` piled at the ends as the
    first calibration did: clipped jumps and references then coincide at the last step, a coupling the clock
    plants (it reproduces the issue's swap figures, and no null can hold its level there)."""
    n_groups, runs_per_group = design
    jumps, refs, groups, labels = [], [], [], []
    for group, template in presets(n_groups):
        for _ in range(runs_per_group):
            clock = rng.normal(0, clock_sd) if clock_sd > 0 else 0.0
            jump_u, label = jittered(rng, TEMPLATES[template]["jumps"], rng.uniform(*JITTER_DECADES))
            ref_u, _ = jittered(rng, TEMPLATES[template][reference], rng.uniform(*JITTER_DECADES))
            planted = rng.random(len(jump_u)) < coupling
            jump_u[planted] = ref_u[rng.integers(len(ref_u), size=int(planted.sum()))] \
                + rng.normal(0, DETECTION_DECADES, int(planted.sum()))
            jump_u, ref_u = jump_u + clock, ref_u + clock
            inside = np.ones(len(jump_u), bool) if clip else (jump_u >= 0) & (jump_u <= TOP)
            jumps.append(10 ** np.clip(jump_u[inside], 0, TOP) - 1)
            refs.append(10 ** np.clip(ref_u if clip else ref_u[(ref_u >= 0) & (ref_u <= TOP)], 0, TOP) - 1)
            groups.append(group)
            labels.append(label[inside])
    return Study(jumps, refs, [(0, LAST_STEP)] * len(jumps), groups, labels, list(range(len(jumps))), groups)
