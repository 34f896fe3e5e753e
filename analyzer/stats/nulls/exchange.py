"""Exchanging references between the runs of a group: the machinery of the swap-type nulls (swap, clock-swap).

The reference sets of a group's runs are permuted among its runs, so each run's jumps are measured against
another run's references (aligned on the run's clock by the clock-aligned swap). The draws are uniform
permutations of the group, the randomization group of the test, so a draw may leave some runs with their own
references: restricting the draws to derangements (no run keeps its own) was measured anticonservative, a
false-positive rate of 0.087-0.092 at alpha 0.05 on 300-500 simulated studies against 0.06 for uniform
permutations (bench/RESULTS.md). A group needs at least two runs with reference points. When the groups' joint
permutations number at most the requested draws + 1 they are all enumerated (an exact test: the observed
pairing is one of them); otherwise a seeded sample is drawn, independently per group.

Units of one run in several groups (the decoupled test: one unit per run and frequency, grouped by preset and
frequency) are exchanged together: one permutation of the runs is drawn for all groups that share runs, and each
group takes the permutation it induces on its own members (a run without a unit in the group is skipped along
its cycle; the induced permutation of a uniform one is uniform), so the donors keep what a run's units share.
That alone does not make the pooled permutation p exact for such units: two frequencies learned together are each
other's reference, one coincidence counted twice, which no exchange reproduces (on the Parseval model the swap's
permutation p rejected 0.098 of 400 studies with each frequency's group permuted on its own, 0.09 of 300 with
runs permuted together); analyzer/stats/permutation.py takes the p-value from runs as clusters there.
"""

from __future__ import annotations

import itertools
import math
from abc import abstractmethod

import numpy as np

from analyzer.errors import BadInputError
from analyzer.stats.distances import nearest_distance
from analyzer.stats.nulls.base import Events, Null, NullDraws


def permutation_draws(sizes: list[int], n_draws: int, rng) -> tuple[list[np.ndarray], bool]:
    """Per group, (draws, m) permutations: every joint permutation but the identity when they number at most
    n_draws + 1 (exact), otherwise n_draws uniform ones, drawn independently per group."""
    total = math.prod(math.factorial(m) for m in sizes)
    if total - 1 <= n_draws:
        every = [np.array(list(itertools.permutations(range(m)))) for m in sizes]
        joint = list(itertools.product(*(range(len(e)) for e in every)))[1:]  # the first is the identity
        return [e[[c[g] for c in joint]].reshape(len(joint), len(e[0])) for g, e in enumerate(every)], True
    return [rng.permuted(np.tile(np.arange(m), (n_draws, 1)), axis=1) for m in sizes], False


def joint_permutations(members: dict, clusters: list | None, n_draws: int, rng) -> tuple[list[np.ndarray], bool]:
    """Per group of `members` (group -> unit positions), (draws, m) permutations of its members, groups that share
    clusters (runs) permuted together (module docstring); and whether the draws are exhaustive."""
    cluster_of = (lambda i: ("unit", i)) if clusters is None else (lambda i: clusters[i])
    components: list[tuple[list, list]] = []  # (groups, clusters in order)
    for group, units in members.items():
        mine = [cluster_of(i) for i in units]
        if len(set(mine)) < len(mine):
            raise BadInputError(f"group {group!r} has two units of one run; a run exchanges its references whole")
        joined = [c for c in components if set(c[1]) & set(mine)]
        merged = ([group] + [g for c in joined for g in c[0]],
                  list(dict.fromkeys([x for c in joined for x in c[1]] + mine)))
        components = [c for c in components if not any(c is j for j in joined)] + [merged]
    perms, exact = permutation_draws([len(c[1]) for c in components], n_draws, rng)
    out = {}
    for (groups, order), perm in zip(components, perms):
        for group in groups:
            out[group] = induced(perm, [order.index(cluster_of(i)) for i in members[group]], len(order))
    return [out[group] for group in members], exact


def induced(perm: np.ndarray, positions: list[int], n: int) -> np.ndarray:
    """(draws, m): the permutation each row of `perm` (draws, n) induces on `positions` (cycles skip the rest),
    as indices into `positions`."""
    inside = np.zeros(n, dtype=bool)
    inside[positions] = True
    lookup = np.full(n, -1)
    lookup[positions] = np.arange(len(positions))
    current = perm[:, positions]
    rows = np.broadcast_to(np.arange(len(perm))[:, None], current.shape)
    outside = ~inside[current]
    while outside.any():
        current = np.where(outside, perm[rows, current], current)
        outside = ~inside[current]
    return lookup[current]


class ExchangeNull(Null):
    """References permuted among the runs of a group; subclasses say how a donor's references are placed in a
    receiver's run (`placed`)."""

    exchanges = True

    def _draw(self, events: Events, n_draws: int, rng: np.random.Generator, strict: bool) -> NullDraws:
        draws = NullDraws()
        members = self.exchange_groups(events, strict, draws.notes)
        if not members:
            return draws
        perms, draws.exact = joint_permutations(members, events.clusters, n_draws, rng)
        context = self.prepare(events)
        for (group, runs), perm in zip(members.items(), perms):
            for position, i in enumerate(runs):
                if not len(events.jumps[i]):
                    continue
                cross = np.stack([nearest_distance(events.jumps[i], self.placed(events, context, i, k))
                                  for k in runs])  # (m, n_j): run i's jumps against every member's references
                draws.runs.append(i)
                draws.observed.append(cross[position])
                draws.null.append(cross[perm[:, position]])
                draws.cross.append(cross)
                draws.members.append(tuple(runs))
        return draws

    def prepare(self, events: Events):
        """Whatever `placed` needs computed once per test (the clocks); None by default."""
        return None

    @abstractmethod
    def placed(self, events: Events, context, receiver: int, donor: int) -> np.ndarray:
        """The donor's references as the null places them in the receiver's run (the receiver's own: unchanged)."""

    def exchange_groups(self, events: Events, strict: bool, notes: list[str]) -> dict:
        """Per group, the units with references among which they are exchanged (groups without jumps skipped)."""
        members = {}
        for group in dict.fromkeys(events.groups):
            runs = [i for i, g in enumerate(events.groups) if g == group]
            with_refs = [i for i in runs if len(events.references[i])]
            if not [i for i in with_refs if len(events.jumps[i])]:
                continue
            names = events.names
            if len(runs) < 2 and not strict:
                notes.append(f"group {group}: a single run ({names[runs[0]]}), nothing to swap with: left out")
                continue
            if len(runs) < 2:
                raise BadInputError(f"--null {self.name} needs at least two runs per group; group {group!r} has one "
                                    f"run ({names[runs[0]]}): add runs of that group or choose a null that keeps "
                                    "each run apart (interval-jitter, shift)")
            if len(with_refs) < 2:
                notes.append(f"group {group}: only {names[with_refs[0]]} has reference points, so its jumps "
                             "cannot be swapped and are left out")
                continue
            members[group] = with_refs
        return members
