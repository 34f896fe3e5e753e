"""The specification curve of the primary test: its admissible specifications (fixed here, before any data), each
run's events under each of them, and the curve's joint test from shared null draws.

Specifications: plateau detector (change points: jumps vs escapes; gradient method: jumps vs plateau ends) x learned
threshold (0.05 / 0.1 / 0.2) x event (every jump; every jump after the initial transient, step >= TRANSIENT_STEPS;
the learned step; the first step below the threshold): 24 specifications, the primary among them. Float-rounding
replicates are not specifications (they are near copies of the network runs: a noise floor, reported apart).

Joint inference (after Simonsohn, Simmons & Nelson 2020, "Specification curve analysis"): every specification's
statistic is computed on the same null draws (the same permutation of runs within groups for every specification;
under the clock-aligned swap each donor's references are moved onto the receiver's clock, one clock per run read
off its primary jumps, the same for every specification). The joint test needs draws that exchange whole runs,
so it is given for the swap-type nulls (swap, clock-swap) and said to be missing for the others.
A draw's p-value for a specification is its rank among the other draws, so each draw gives a share of
specifications "significant in the primary's direction" and a median effect, exactly as the data do. The curve's
two p-values compare the observed share and the observed median effect with those distributions.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from analyzer.analyses.plateaus.detectors import DEFAULT_DETECTOR, DETECTORS
from analyzer.stats.effect import ExchangeBlock, JumpEffect

THRESHOLDS = (0.05, 0.1, 0.2)
EVENTS = ("jump", "jump after the transient", "learned step", "first reached")
TRANSIENT_STEPS = 20  # jumps before this step are the initial transient
PRIMARY_SPEC = (DEFAULT_DETECTOR, 0.1, "jump")


def reference_name(detector: str) -> str:
    """What a detector's specifications measure jumps against: the default detector's escapes (the loss drops'
    midpoints), every other detector's plateau ends."""
    return "escapes" if detector == DEFAULT_DETECTOR else f"plateau ends ({detector} method)"


@dataclass(frozen=True)
class SpecEvents:
    """One run's events per specification: jump steps per (threshold, event) and references per detector."""

    events: dict  # (threshold, event) -> steps
    references: dict  # detector -> steps

    def units(self, detector: str, threshold: float, event: str) -> tuple[np.ndarray, np.ndarray]:
        return self.events[(threshold, event)], self.references[detector]


def spec_jobs() -> list[tuple[str, dict]]:
    """The spectrum at the curve's other learned thresholds (the default one is the study's events')."""
    return [("spectrum", {"threshold": t}) for t in THRESHOLDS if t != 0.1]


def spec_events(context, events) -> SpecEvents:
    """Every specification's events of one run (events: the run's RunEvents, at the default threshold)."""
    plateaus = context.result("plateaus")
    found = plateaus.plateau_edges
    ends = {name: found[(found.method == name) & (found.kind == "end")].step.to_numpy(np.float64) for name in DETECTORS}
    out = {}
    for threshold in THRESHOLDS:
        spectrum = context.result("spectrum") if threshold == 0.1 else context.result("spectrum", threshold=threshold)
        learning = spectrum.learning
        jumps = spectrum.jumps.step.to_numpy(np.float64)
        out[(threshold, "jump")] = jumps
        out[(threshold, "jump after the transient")] = jumps[jumps >= TRANSIENT_STEPS]
        learned = learning.learned_step.to_numpy(np.float64)
        reached = learning.first_below_step.to_numpy(np.float64)
        out[(threshold, "learned step")] = learned[np.isfinite(learned)]
        out[(threshold, "first reached")] = reached[np.isfinite(reached)]
    return SpecEvents(out, {name: events.escape_steps if name == DEFAULT_DETECTOR else np.unique(ends[name])
                            for name in DETECTORS})


def specifications() -> list[tuple[str, float, str]]:
    return [(d, t, e) for d in DETECTORS for t in THRESHOLDS for e in EVENTS]


def joint_test(observed: np.ndarray, null: np.ndarray, alpha: float, direction: int = -1,
               reference: np.ndarray | None = None) -> dict:
    """The curve's joint test.

    Args:
        observed: (S,) each specification's statistic on the data (mean jump-to-reference distance).
        null: (B, S) the same statistic on B shared null draws (row b: one draw for every specification).
        direction: -1 when small statistics are the effect (jumps closer than the null).
        reference: (S,) each specification's statistic against the other runs' references only (shared_swap_draws):
            the effect is observed - reference, not attenuated by the draws that leave a run its own references;
            None: the null mean.
    Returns: share (observed share of specifications significant at alpha in the direction), p_share, median
        effect (observed - reference, median over specifications), p_median (the same median on each draw),
        n_draws.
    """
    observed, null = np.asarray(observed, np.float64), np.asarray(null, np.float64)
    reference = null.mean(axis=0) if reference is None else np.asarray(reference, np.float64)
    keep = np.isfinite(observed) & np.all(np.isfinite(null), axis=0) & np.isfinite(reference)
    observed, null, reference = observed[keep], null[:, keep], reference[keep]
    n_draws = null.shape[0]
    if observed.size == 0 or n_draws < 2:
        return {"share": math.nan, "p_share": None, "median_effect": math.nan, "p_median": None, "n_specs": 0,
                "n_draws": n_draws}
    signed_obs, signed_null = direction * observed, direction * null  # large: the effect's direction
    p_obs = (1 + np.sum(signed_null >= signed_obs - 1e-12, axis=0)) / (1 + n_draws)
    # a draw's p among the other draws and the data: the share of the pooled column at least as extreme
    pooled = np.sort(np.vstack([signed_obs[None, :], signed_null]), axis=0)
    p_draws = np.column_stack([len(pooled) - np.searchsorted(pooled[:, s], signed_null[:, s] - 1e-12, side="left")
                               for s in range(null.shape[1])]) / (1 + n_draws)
    mean = reference
    share_obs = float(np.mean(p_obs < alpha))
    share_null = np.mean(p_draws < alpha, axis=1)
    median_obs = float(np.median(observed - mean))
    median_null = np.median(null - mean, axis=1)
    p_share = float((1 + np.sum(share_null >= share_obs - 1e-12)) / (1 + n_draws))
    p_median = float((1 + np.sum(direction * median_null >= direction * median_obs - 1e-12)) / (1 + n_draws))
    return {"share": share_obs, "p_share": p_share, "median_effect": median_obs, "p_median": p_median,
            "n_specs": int(observed.size), "n_draws": n_draws}


def swap_matrices(jumps: list[np.ndarray], refs: list[np.ndarray], clocks: np.ndarray | None = None
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(D, C) of one group: D[i, k] the summed distance (decades of log10(step + 1)) of run i's jumps to the nearest
    of run k's references (moved by clock_i - clock_k when clocks are given: the clock-aligned swap), C[i, k] the
    number of those jumps (0 where either has none)."""
    from analyzer.stats.distances import nearest_distance

    m = len(jumps)
    clocks = np.zeros(m) if clocks is None else np.asarray(clocks, np.float64)
    distance, count = np.zeros((m, m)), np.zeros((m, m))
    for i, jump in enumerate(jumps):
        u = np.log10(np.asarray(jump, np.float64) + 1)
        for k, ref in enumerate(refs):
            if len(u) and len(ref):
                placed = np.log10(np.asarray(ref, np.float64) + 1) + (clocks[i] - clocks[k])
                distance[i, k] = float(nearest_distance(u, placed).sum())
                count[i, k] = len(u)
    return distance, count


def shared_swap_draws(spec_units: list[list[tuple[np.ndarray, np.ndarray]]], groups: list[str], n_draws: int,
                      seed: int, clocks: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """The mean jump-to-reference distance of every specification on the data and on n_draws shared swap draws.

    Args:
        spec_units: per specification, per run (the same runs, in the same order), (jumps, references).
        groups: per run, its group; references are exchanged among the runs of a group, with the same permutation
            of runs for every specification (the draws are shared).
        clocks: per run, its clock in decades (the clock-aligned swap: a donor's references are moved onto the
            receiver's clock), or None (the plain swap).
    Returns: observed (S,), null (B, S) and reference (S,): the statistic against the other runs' references only
        (observed minus the swap nulls' effect of analyzer/stats/effect.py, swap_effect: each receiver against the
        other members of its group); NaN where a specification has no jump with references.
    """
    from analyzer.stats.nulls.exchange import permutation_draws

    labels = list(dict.fromkeys(groups))
    members = [np.flatnonzero(np.asarray(groups) == g) for g in labels]
    perms, _ = permutation_draws([len(m) for m in members], n_draws, np.random.default_rng(seed))
    clocks = np.zeros(len(groups)) if clocks is None else np.asarray(clocks, np.float64)
    n_specs = len(spec_units)
    observed, null = np.full(n_specs, np.nan), np.full((len(perms[0]) if perms else 0, n_specs), np.nan)
    reference = np.full(n_specs, np.nan)
    for s, units in enumerate(spec_units):
        num_obs = den_obs = 0.0
        num_null = np.zeros(null.shape[0])
        den_null = np.zeros(null.shape[0])
        matrices = []
        for index, perm in zip(members, perms):
            distance, count = swap_matrices([units[i][0] for i in index], [units[i][1] for i in index],
                                            clocks[index])
            rows = np.arange(len(index))[None, :]
            num_obs, den_obs = num_obs + np.trace(distance), den_obs + np.trace(count)
            num_null += distance[rows, perm].sum(axis=1)
            den_null += count[rows, perm].sum(axis=1)
            matrices.append((index, distance, count))
        with np.errstate(invalid="ignore", divide="ignore"):
            observed[s] = num_obs / den_obs if den_obs else np.nan
            effect = float(swap_effect(matrices, groups).estimate(np.ones((1, len(groups))))[0][0])
            reference[s] = observed[s] - effect if den_obs else np.nan
            null[:, s] = num_null / den_null
    return observed, null, reference


def swap_effect(matrices: list[tuple[np.ndarray, np.ndarray, np.ndarray]], groups: list[str]) -> JumpEffect:
    """The swap nulls' effect (analyzer/stats/effect.py) of one specification from its groups' (runs, D, C)
    (swap_matrices): a group's members are its runs with references, its receivers those members with jumps, each
    measured against the other members' references. A receiver whose group has no other member with references
    counts its jumps with no effect (observed = reference), as its jumps count in the observed statistic."""
    blocks, single = [], []
    for index, distance, count in matrices:
        own_count = np.diag(count)
        members = np.flatnonzero(count.sum(axis=0) > 0)  # runs with references (column k > 0 only then)
        receivers = np.flatnonzero(own_count > 0)
        if len(members) < 2:
            single += [(index[i], distance[i, i], own_count[i]) for i in receivers]
        elif len(receivers):
            blocks.append(ExchangeBlock(sums=distance[np.ix_(receivers, members)],
                                        own=np.searchsorted(members, receivers), n=own_count[receivers],
                                        member_clusters=index[members], receiver_clusters=index[receivers]))
    diagonal = np.array([d for _, d, _ in single], dtype=np.float64)
    return JumpEffect(blocks=tuple(blocks), observed=diagonal, reference=diagonal,
                      n=np.array([n for _, _, n in single], dtype=np.float64),
                      clusters=np.array([i for i, _, _ in single], dtype=np.int64), strata=tuple(groups),
                      n_clusters=len(groups))
