"""Calibration of the jump-to-reference nulls: simulated studies without coupling (false-positive rate) and
with planted coupling (power), on the timing structure of the seed-0 presets.

No-coupling studies copy what made the log-uniform null reject in issue 21: every run's jumps and reference
points cluster around its preset's typical times (the seed-0 runs of `make demo`, TEMPLATES) with their own
independent jitter of 0.1-0.3 decades, and each event is kept with probability 0.85, so runs differ in their
counts as real seeds do. Jumps and references are drawn independently: any rejection is a false positive.
Planted coupling moves a fraction of each run's jumps onto one of that run's own reference points (plus 0.05
decades of detection noise): "jumps placed at plateau ends". bench/null_calibration.py runs these and the
diag-linear known-answer runs; tests/test_null_calibration.py runs a small version.
"""

from __future__ import annotations

import math

import numpy as np

from analyzer.analyses.correlate import CorrelateParams, permutation_test

LAST_STEP = 10_000
# seed-0 runs of `make demo` (reports/seed-study): every jump step, plateau edge and escape (loss-drop midpoint)
TEMPLATES = {
    "baseline": {"jumps": [7, 41, 8, 149], "edges": [8, 87], "escapes": [528]},
    "wide": {"jumps": [3, 53, 4, 183, 1289, 4326], "edges": [3, 68], "escapes": [572]},
    "deep": {"jumps": [5, 10, 77, 6, 94, 210, 7387, 295, 4408], "edges": [434, 3829, 4008, 7300],
             "escapes": [3959, 7621]},
    "sgd": {"jumps": [145], "edges": [34, 192, 5911], "escapes": [130, 8877]},
}
JITTER_DECADES = (0.1, 0.3)  # each run's jitter SD, drawn uniformly from this range per event kind
KEEP = 0.85  # probability that a template event occurs in a simulated run
DETECTION_DECADES = 0.05  # noise of a planted jump around its reference point


def _jittered(rng, steps, sd: float) -> np.ndarray:
    u = np.log10(np.asarray(steps, dtype=np.float64) + 1)
    kept = u[rng.random(len(u)) < KEEP]
    if len(kept) == 0:
        kept = u[rng.integers(len(u), size=1)]
    u = np.clip(kept + rng.normal(0, sd, len(kept)), 0, math.log10(LAST_STEP + 1))
    return u


def simulate_study(rng, reference: str = "escapes", runs_per_group: int = 8, coupling: float = 0.0,
                   templates: dict | None = None) -> tuple[list, list, list, list]:
    """One simulated study: (jumps, references, spans, groups), steps per run, runs_per_group runs per preset.

    coupling: the fraction of each run's jumps moved onto its own reference points (0: no coupling).
    """
    jumps, refs, spans, groups = [], [], [], []
    for preset, template in (templates or TEMPLATES).items():
        for _ in range(runs_per_group):
            jump_u = _jittered(rng, template["jumps"], rng.uniform(*JITTER_DECADES))
            ref_u = _jittered(rng, template[reference], rng.uniform(*JITTER_DECADES))
            planted = rng.random(len(jump_u)) < coupling
            jump_u[planted] = ref_u[rng.integers(len(ref_u), size=int(planted.sum()))] \
                + rng.normal(0, DETECTION_DECADES, int(planted.sum()))
            jumps.append(10 ** np.clip(jump_u, 0, None) - 1)
            refs.append(10 ** ref_u - 1)
            spans.append((0, LAST_STEP))
            groups.append(preset)
    return jumps, refs, spans, groups


def rejection_rate(null: str, n_studies: int, n_draws: int = 199, alpha: float = 0.05, seed: int = 0,
                   **simulation) -> dict:
    """Fraction of simulated studies the pooled test rejects at alpha, its Monte-Carlo SE, and the mean effect
    (observed - null mean distance, decades)."""
    rng = np.random.default_rng(seed)
    rejected, effects = 0, []
    for study in range(n_studies):
        jumps, refs, spans, groups = simulate_study(rng, **simulation)
        outcome = permutation_test(jumps, refs, spans, CorrelateParams(n_permutations=n_draws, null=null,
                                                                       seed=seed * 100_003 + study), groups=groups)
        rejected += bool(outcome["p_value"] <= alpha)
        effects.append(outcome["effect"])
    rate = rejected / n_studies
    return {"rate": rate, "se": math.sqrt(max(rate * (1 - rate), 1e-12) / n_studies),
            "effect": float(np.nanmean(effects))}


def known_answer_study(rng, answers: list, groups: list[str]) -> tuple[list, list, list, list]:
    """A study of diag-linear known-answer runs: jumps at each mode's true escape (half-learned step) plus
    detection noise, references at the midpoints of the true escapes (analyzer/analyses/score/known.py)."""
    jumps, refs, spans = [], [], []
    for answer in answers:
        modes = answer.modes.dropna(subset=["escape_step"])
        escape_u = np.log10(modes.escape_step.to_numpy(np.float64) + 1)
        jumps.append(10 ** (escape_u + rng.normal(0, DETECTION_DECADES, len(escape_u))) - 1)
        mids = 0.5 * (modes.rise_start_step.to_numpy(np.float64) + modes.rise_end_step.to_numpy(np.float64))
        refs.append(mids[np.isfinite(mids)])
        spans.append((0, answer.system.epochs))
    return jumps, refs, spans, list(groups)


def known_answer_power(null: str, answers: list, groups: list[str], n_studies: int, n_draws: int = 199,
                       alpha: float = 0.05, seed: int = 0) -> float:
    rng = np.random.default_rng(seed)
    rejected = 0
    for study in range(n_studies):
        jumps, refs, spans, labels = known_answer_study(rng, answers, groups)
        outcome = permutation_test(jumps, refs, spans, CorrelateParams(n_permutations=n_draws, null=null,
                                                                       seed=study), groups=labels)
        rejected += bool(outcome["p_value"] <= alpha)
    return rejected / n_studies


def holds_level(rate: float, se: float, alpha: float = 0.05) -> bool:
    """A null holds its level when its false-positive rate is within two Monte-Carlo SEs of alpha or below."""
    return rate <= alpha + 2 * se
