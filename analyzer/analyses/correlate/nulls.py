"""Null generators of the jump-to-reference test: what "no coupling" means, one named surrogate each.

Each generator keeps every run's jumps where they are and says where its reference points (escapes or
plateau edges) could have been had they been unrelated to the jumps; distances are in decades of
u = log10(step + 1) ("uniform": in steps).

- swap (the default, bench/null_calibration.py): the reference sets of a group's runs are permuted among its
  runs, so each run's jumps are measured against another run's reference points. Every run's timing structure
  (early transients, preset-typical plateau times, clustering) is kept exactly; only the pairing of jumps with
  their own run's references is broken. The draws are uniform permutations of the group, the randomization
  group of the test, so a draw may leave some runs with their own references: restricting the draws to
  derangements (no run keeps its own) was measured anticonservative, a false-positive rate of 0.087-0.092 at
  alpha 0.05 on 300-500 simulated studies against 0.06 for uniform permutations (bench/RESULTS.md). A group
  needs at least two runs with reference points. When the groups' joint permutations number at most the
  requested draws + 1 they are all enumerated (an exact test: the observed pairing is one of them);
  otherwise a seeded sample is drawn.
- shift: each run's reference points are shifted circularly in u by one uniform offset within the run's
  prediction range (wrapping at its ends); the spacing of the references is kept, their placement relative to
  the run's own clock is not (early transients shared by jumps and plateaus are lost).
- log-uniform (diagnostic): each jump redrawn uniformly in u over the run's range; keeps nothing.
- uniform (diagnostic): the same in steps.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np

from analyzer.errors import BadInputError

NULLS = ("swap", "shift", "log-uniform", "uniform")
DIAGNOSTIC_NULLS = ("log-uniform", "uniform")
DEFAULT_NULL = "swap"


@dataclass
class NullDraws:
    """Per run that informs the test: observed distances (n_j,) and null distances (draws, n_j)."""

    observed: list[np.ndarray] = field(default_factory=list)
    null: list[np.ndarray] = field(default_factory=list)
    runs: list[int] = field(default_factory=list)  # positions of those runs in the input
    notes: list[str] = field(default_factory=list)  # runs left out, and why
    exact: bool = False  # the null draws are every permutation but the observed one (swap), not a sample
    # per run, the part of the null mean its jumps account for; swap: row + column - grand mean of the group's
    # matrix of distance sums (runs whose references are far from every run's jumps then do not inflate the
    # spread of per-run effects, as they do not move the permutation null); empty: the mean of the draws
    null_sums: list[float] = field(default_factory=list)


def scale_steps(steps, null: str) -> np.ndarray:
    steps = np.asarray(steps, dtype=np.float64)
    return steps if null == "uniform" else np.log10(steps + 1.0)


def nearest_distance(points: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """Distance from each point (any shape) to the nearest of the reference points (1-D, any order)."""
    reference = np.sort(np.asarray(reference, dtype=np.float64))
    right = np.clip(np.searchsorted(reference, points), 1, len(reference) - 1) if len(reference) > 1 \
        else np.zeros(np.shape(points), dtype=np.int64)
    left = np.maximum(right - 1, 0)
    return np.minimum(np.abs(points - reference[left]), np.abs(points - reference[right]))


def draw_null(jumps, references, spans, groups, null: str, n_draws: int, rng: np.random.Generator,
              names=None, strict: bool = True) -> NullDraws:
    """The observed and null distances of every run with jumps and reference points, under `null`.

    Args:
        jumps, references: per run, steps. spans: per run, (first, last) prediction step.
        groups: per run, the group label (swap only exchanges references within a group).
        names: per run, a name for notes and errors.
        strict: swap on a group of one run is bad input (True) or leaves that group out with a note (False).
    """
    if null not in NULLS:
        raise BadInputError(f"unknown null {null!r}; known: {', '.join(NULLS)}")
    names = list(names) if names is not None else [f"run {i}" for i in range(len(jumps))]
    jumps_u = [scale_steps(j, null) for j in jumps]
    refs_u = [scale_steps(r, null) for r in references]
    spans_u = [tuple(scale_steps(list(s), null)) for s in spans]
    if null == "swap":
        return _swap(jumps_u, refs_u, list(groups), n_draws, rng, names, strict)
    draws = NullDraws()
    for i, (j, r, (low, high)) in enumerate(zip(jumps_u, refs_u, spans_u)):
        if len(j) == 0 or len(r) == 0:
            continue
        draws.runs.append(i)
        draws.observed.append(nearest_distance(j, r))
        if null == "shift":
            width = max(high - low, 1e-12)
            shifted = low + np.mod(r[None, :] - low + rng.uniform(0, width, (n_draws, 1)), width)
            draws.null.append(np.abs(j[None, :, None] - shifted[:, None, :]).min(axis=2))
        else:
            draws.null.append(nearest_distance(rng.uniform(low, high, (n_draws, len(j))), r))
    return draws


def _swap(jumps_u, refs_u, groups, n_draws: int, rng, names, strict: bool) -> NullDraws:
    draws = NullDraws()
    members = {}
    for group in dict.fromkeys(groups):
        runs = [i for i, g in enumerate(groups) if g == group]
        with_refs = [i for i in runs if len(refs_u[i])]
        receivers = [i for i in with_refs if len(jumps_u[i])]
        if not receivers:
            continue
        if len(runs) < 2 and not strict:
            draws.notes.append(f"group {group}: a single run ({names[runs[0]]}), nothing to swap with: left out")
            continue
        if len(runs) < 2:
            raise BadInputError(f"--null swap needs at least two runs per group; group {group!r} has one run "
                                f"({names[runs[0]]}): add runs of that group or choose --null shift")
        if len(with_refs) < 2:
            draws.notes.append(f"group {group}: only {names[with_refs[0]]} has reference points, so its jumps "
                               "cannot be swapped and are left out")
            continue
        members[group] = with_refs
    perms, draws.exact = permutation_draws([len(m) for m in members.values()], n_draws, rng)
    for (group, runs), perm in zip(members.items(), perms):
        tables = {i: np.stack([nearest_distance(jumps_u[i], refs_u[k]) for k in runs]) for i in runs
                  if len(jumps_u[i])}  # (m, n_j): run i's jumps against every member's references
        sums = np.array([tables[i].sum(axis=1) if i in tables else np.zeros(len(runs)) for i in runs])  # (m, m)
        for position, i in enumerate(runs):
            if i not in tables:
                continue
            draws.runs.append(i)
            draws.observed.append(tables[i][position])
            draws.null.append(tables[i][perm[:, position]])
            draws.null_sums.append(float(sums[position].mean() + sums[:, position].mean() - sums.mean()))
    return draws


def permutation_draws(sizes: list[int], n_draws: int, rng) -> tuple[list[np.ndarray], bool]:
    """Per group, (draws, m) permutations: every joint permutation but the identity when they number at most
    n_draws + 1 (exact), otherwise n_draws uniform ones, drawn independently per group."""
    total = math.prod(math.factorial(m) for m in sizes)
    if total - 1 <= n_draws:
        every = [np.array(list(itertools.permutations(range(m)))) for m in sizes]
        joint = list(itertools.product(*(range(len(e)) for e in every)))[1:]  # the first is the identity
        return [e[[c[g] for c in joint]].reshape(len(joint), len(e[0])) for g, e in enumerate(every)], True
    return [rng.permuted(np.tile(np.arange(m), (n_draws, 1)), axis=1) for m in sizes], False
