"""The base of every null of the jump-to-reference test: what a null declares, the events it draws from, its draws.

A null says where a run's reference points (escapes or plateau edges) could have been had they been unrelated
to the run's jumps; the jumps stay where they are. Distances are in decades of u = log10(step + 1) (steps for
the "uniform" diagnostic). A null declares:
- `name`: its registry name (`get_null(name)`, `analyze correlate --null NAME`);
- `keeps`: one line saying which structure of the data it preserves (what "no coupling" means for it);
- `calibrated_for`: the generative models (analyzer/stats/calibration) under whose simulated studies its
  false-positive rate held the level (bench/null_calibration.py measured it; bench/RESULTS.md has the table);
- `exchanges`: whether it exchanges references between runs (swap-type): its effect is then measured against
  the other runs' references only.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from analyzer.errors import BadInputError
from analyzer.stats.distances import nearest_distance, scale_steps


@dataclass(frozen=True)
class Events:
    """What a null draws from, on its axis: per unit (a run, or a run's frequency) its jumps, references,
    (first, last) span, group, name, the jumps' labels (frequencies; None: unlabelled) and clock (None: unknown)."""

    jumps: list[np.ndarray]
    references: list[np.ndarray]
    spans: list[tuple[float, float]]
    groups: list
    names: list[str]
    labels: list[np.ndarray] | None = None
    clocks: np.ndarray | None = None
    clusters: list | None = None  # per unit, its run: units of one run are exchanged together

    def __len__(self) -> int:
        return len(self.jumps)

    def tested(self, i: int) -> bool:
        """A unit informs the test when it has jumps and reference points."""
        return len(self.jumps[i]) > 0 and len(self.references[i]) > 0


@dataclass
class NullDraws:
    """Per unit that informs the test: observed distances (n_j,) and null distances (draws, n_j).

    Swap-type nulls also give, per such unit, `cross`: its jumps' distances to the (aligned) references of every
    member of its exchange group, (m, n_j), rows in the order of `members` (input positions; the unit's own row
    is where `members` holds its position). The effect against other runs' references and its bootstrap read them.
    """

    observed: list[np.ndarray] = field(default_factory=list)
    null: list[np.ndarray] = field(default_factory=list)
    runs: list[int] = field(default_factory=list)  # positions of the tested units in the input
    notes: list[str] = field(default_factory=list)  # units left out, and why
    exact: bool = False  # the draws are every permutation but the observed one (swap-type), not a sample
    cross: list[np.ndarray] = field(default_factory=list)
    members: list[tuple[int, ...]] = field(default_factory=list)


class Null(ABC):
    """A named surrogate generator of reference points (module docstring). Options are keyword arguments."""

    name: ClassVar[str]
    keeps: ClassVar[str]
    calibrated_for: ClassVar[tuple[str, ...]] = ()
    exchanges: ClassVar[bool] = False
    diagnostic: ClassVar[bool] = False  # known to reject without coupling: for comparison only
    axis: ClassVar[str] = "log"  # "log": decades of log10(step + 1); "steps": plain steps

    @property
    def units(self) -> str:
        return "steps" if self.axis == "steps" else "decades of log10(step+1)"

    def draw(self, jumps, references, spans, groups=None, n_draws: int = 199, rng=None, names=None,
             strict: bool = True, labels=None, clocks=None, clusters=None) -> NullDraws:
        """The observed and null distances of every unit with jumps and reference points.

        Args:
            jumps, references: per unit, steps. spans: per unit, (first, last) prediction step, or the last step.
            groups: per unit, its group (swap-type nulls exchange references within a group; default one group).
            rng: a numpy Generator (or a seed). names: per unit, a name for notes and errors.
            strict: a swap-type null on a group of one unit is bad input (True) or leaves it out with a note.
            labels: per unit, the label of each jump (its frequency), for nulls that align runs on a clock.
            clocks: per unit, its clock in decades (the clock-aligned swap; None: estimated from the jumps).
            clusters: per unit, its run, where a run has several units (a run's frequencies): swap-type nulls then
                give all units of a run the references of one other run (default: every unit its own run).
        """
        events = self.events(jumps, references, spans, groups, names, labels, clocks, clusters)
        rng = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        return self._draw(events, int(n_draws), rng, strict)

    def events(self, jumps, references, spans, groups=None, names=None, labels=None, clocks=None,
               clusters=None) -> Events:
        n = len(jumps)
        if len(references) != n or len(spans) != n or (groups is not None and len(groups) != n):
            raise BadInputError(f"jumps, references, spans and groups must have one entry per unit ({n})")
        spans = [(0, span) if np.ndim(span) == 0 else tuple(span) for span in spans]
        return Events(jumps=[scale_steps(j, self.axis_name) for j in jumps],
                      references=[scale_steps(r, self.axis_name) for r in references],
                      spans=[tuple(scale_steps(list(s), self.axis_name)) for s in spans],
                      groups=list(groups) if groups is not None else [""] * n,
                      names=list(names) if names is not None else [f"run {i}" for i in range(n)],
                      labels=[np.asarray(x) for x in labels] if labels is not None else None,
                      clocks=np.asarray(clocks, dtype=np.float64) if clocks is not None else None,
                      clusters=list(clusters) if clusters is not None else None)

    @property
    def axis_name(self) -> str:
        return "uniform" if self.axis == "steps" else "log"

    @abstractmethod
    def _draw(self, events: Events, n_draws: int, rng: np.random.Generator, strict: bool) -> NullDraws:
        """The draws on events already on the null's axis."""

    def __repr__(self) -> str:
        options = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({options})"


class PerRunNull(Null):
    """A null that redraws each run's references (or jumps) from that run alone."""

    def _draw(self, events: Events, n_draws: int, rng: np.random.Generator, strict: bool) -> NullDraws:
        draws = NullDraws()
        for i in range(len(events)):
            if not events.tested(i):
                continue
            draws.runs.append(i)
            draws.observed.append(nearest_distance(events.jumps[i], events.references[i]))
            draws.null.append(self.null_distances(events.jumps[i], events.references[i], events.spans[i],
                                                  n_draws, rng))
        return draws

    @abstractmethod
    def null_distances(self, jumps: np.ndarray, references: np.ndarray, span: tuple[float, float], n_draws: int,
                       rng: np.random.Generator) -> np.ndarray:
        """(n_draws, n_jumps) null distances of one run."""
