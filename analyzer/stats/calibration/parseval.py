"""The Parseval model: jumps that are loss drops of their own frequency and nothing else (no saddles).

Each frequency k of a run is learned as a sigmoid drop of its relative residual in log-step,
r_k(u) = 1 - expit((u - t_k) / s_k), at its own time t_k (the preset's seed-0 time for that frequency, jittered
by the run's 0.1-0.3 decades, plus the run's clock when there is one) and width s_k ~ U(0.03, 0.1) decades
(a 10-90 % rise of 0.13-0.44 decades). The loss is the sum of the frequencies' residual energies,
L(u) = sum_k (a_k r_k(u))^2 + FLOOR sum_k a_k^2, amplitudes a = 1, 0.8, 0.6, 0.4 in the order the frequencies
are learned (spectral bias). A frequency's jump is its half-learned point t_k plus detection noise (the
spectrum analysis places a jump at the half-rise); nothing else links jumps and loss.

References are the loss-drop midpoints found on the sampled curve (`loss_drop_midpoints`), a simplification of
analyzer/analyses/plateaus (change points on log loss, a logistic per drop): a drop is a maximal stretch where
log10 L falls faster than STEEP decades per decade of steps and that starts after a plateau (the initial fall
from step 0 ends no plateau); its levels are the loss at its two ends, and its midpoint the first point where the
remaining fraction sqrt((L - L1) / (L0 - L1)) reaches 1/2, the pipeline's definition for drops it does not fit
(for one logistic drop it is the logistic's midpoint). Overlapping drops of two frequencies merge into one, as
they do in the pipeline. Per preset the frequencies' times are 4 of the seed-0 jumps at evenly spaced ranks
(all of them for baseline; sgd's single jump: one frequency, the others never learned in the run).

What it is a null for: the decoupled test (a frequency's jumps vs the escapes of the loss with that frequency's
residual energy removed): those escapes are the other frequencies' drops, independent of k's jump, so any
rejection is a false positive. It is NOT a null for the primary test (jumps vs escapes of the whole loss): there
every jump is a loss drop by construction (the identity), and the primary test rejects; nor for the paired
primary-minus-decoupled difference, which the identity alone makes negative.
"""

from __future__ import annotations

import numpy as np
from scipy.special import expit

from analyzer.stats.calibration.models import Study
from analyzer.stats.calibration.templates import DETECTION_DECADES, JITTER_DECADES, LAST_STEP, TEMPLATES, TOP, presets

AMPLITUDES = (1.0, 0.8, 0.6, 0.4)
WIDTH_DECADES = (0.03, 0.1)
FLOOR = 1e-3  # the loss left when every frequency is learned, relative to the initial energy
STEEP = 0.3  # decades of loss per decade of steps: a slower fall is a plateau
GRID = np.linspace(0.0, TOP, int(TOP * 100) + 1)  # 100 points per decade


def frequency_times(template: str) -> np.ndarray:
    """The seed-0 times (decades) of the preset's frequencies: up to 4 of its jumps at evenly spaced ranks."""
    jumps = np.sort(np.log10(np.asarray(TEMPLATES[template]["jumps"], dtype=np.float64) + 1))
    picks = np.unique(np.round(np.linspace(0, len(jumps) - 1, min(len(jumps), len(AMPLITUDES)))).astype(int))
    return jumps[picks]


def residual_energies(times: np.ndarray, widths: np.ndarray, n_modes: int = len(AMPLITUDES)) -> np.ndarray:
    """(n_modes, grid) energies (a_k r_k)^2 on GRID; modes beyond the given times are never learned."""
    energy = np.tile(np.asarray(AMPLITUDES[:n_modes])[:, None] ** 2, (1, len(GRID)))
    for k, (t, s) in enumerate(zip(times, widths)):
        energy[k] *= (1.0 - expit((GRID - t) / s)) ** 2
    return energy


def loss_drop_midpoints(log_loss: np.ndarray, grid: np.ndarray = GRID) -> np.ndarray:
    """Midpoints (decades) of the drops of a log10 loss curve that end a plateau (module docstring)."""
    steepness = -np.gradient(log_loss, grid)
    steep = steepness > STEEP
    edges = np.flatnonzero(np.diff(steep.astype(np.int8)))
    starts = list(edges[~steep[edges]] + 1)
    ends = list(edges[steep[edges]] + 1)
    if steep[-1]:
        ends.append(len(grid) - 1)
    mids = []
    for a in starts:  # a drop that starts at the grid's first point ends no plateau: never in `starts`
        b = min([e for e in ends if e > a], default=len(grid) - 1)
        top, bottom = 10 ** log_loss[a - 1], 10 ** log_loss[b]
        if not top > bottom:
            continue
        remaining = np.sqrt(np.clip((10 ** log_loss[a - 1:b + 1] - bottom) / (top - bottom), 0, None))
        k = int(np.argmax(remaining <= 0.5))
        x0, x1, y0, y1 = grid[a - 2 + k], grid[a - 1 + k], remaining[k - 1], remaining[k]
        mids.append(x1 if k == 0 or y0 == y1 else x0 + (y0 - 0.5) * (x1 - x0) / (y0 - y1))
    return np.asarray(mids)


def parseval_run(rng: np.random.Generator, template: str, clock: float):
    """(jump times, their frequency indices, midpoints of the whole loss, per learned frequency the midpoints of
    the loss without it), all in decades."""
    times = frequency_times(template) + rng.normal(0, rng.uniform(*JITTER_DECADES), len(frequency_times(template)))
    times = times + clock
    widths = rng.uniform(*WIDTH_DECADES, len(times))
    energy = residual_energies(times, widths)
    total = energy.sum(axis=0) + FLOOR * energy[:, 0].sum()
    learned = np.flatnonzero((times > 0) & (times < TOP))
    jumps = times[learned] + rng.normal(0, DETECTION_DECADES, len(learned))
    whole = loss_drop_midpoints(np.log10(total))
    without = {int(k): loss_drop_midpoints(np.log10(total - energy[k])) for k in learned}
    return jumps, learned, whole, without


def parseval_study(rng: np.random.Generator, clock_sd: float = 0.0, design: tuple[int, int] = (4, 8),
                   test: str = "decoupled") -> Study:
    """A study of the Parseval model. test "decoupled": one unit per run and learned frequency (its jump vs the
    escapes of the loss without it; group = preset x frequency, cluster = run, stratum = preset, clock = the
    run's); "primary": one unit per run (its jumps vs the escapes of its loss)."""
    from analyzer.stats.nulls.clock_swap import estimate_clocks

    n_groups, runs_per_group = design
    runs = []
    for group, template in presets(n_groups):
        for _ in range(runs_per_group):
            clock = rng.normal(0, clock_sd) if clock_sd > 0 else 0.0
            runs.append((group, *parseval_run(rng, template, clock)))
    clocks = estimate_clocks([r[1] for r in runs], [r[0] for r in runs], [r[2] for r in runs])
    steps = lambda u: 10 ** np.clip(np.asarray(u, dtype=np.float64), 0, TOP) - 1  # noqa: E731
    if test == "primary":
        return Study([steps(r[1]) for r in runs], [steps(r[3]) for r in runs], [(0, LAST_STEP)] * len(runs),
                     [r[0] for r in runs], [r[2] for r in runs], list(range(len(runs))), [r[0] for r in runs])
    units = [(run, int(k), jump) for run, r in enumerate(runs) for jump, k in zip(r[1], r[2])]
    return Study(jumps=[steps([jump]) for _, _, jump in units],
                 references=[steps(runs[run][4][k]) for run, k, _ in units],
                 spans=[(0, LAST_STEP)] * len(units), groups=[f"{runs[run][0]} f{k}" for run, k, _ in units],
                 labels=[np.array([k]) for _, k, _ in units], clusters=[run for run, _, _ in units],
                 strata=[runs[run][0] for run, _, _ in units], clocks=clocks[[run for run, _, _ in units]])
