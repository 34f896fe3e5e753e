"""What one run contributes to the study's robustness checks, computed on the worker beside its summary
(the plateaus' study hook, study.py).

- Specifications (issue 21 item 6): jumps, learned and first-reached steps at every learned threshold of
  THRESHOLDS, and the plateau ends of the gradient method (the change-point method's references are the
  summary's escapes).
- Decoupled plateaus (item 5): the loss is the sum of the frequency residuals (Parseval, the evaluation grid
  being the training grid), so a frequency being learned is itself a loss drop. For every frequency that
  jumps, the plateaus are re-detected on the loss with that frequency's own residual energy removed,
  L(t) - (r_k(t) a_k)^2 / 2 (r_k its relative error, a_k its target amplitude: a sinusoid of amplitude A has
  mean square A^2 / 2), and the escapes of that curve are the references of that frequency's jumps.
"""

from __future__ import annotations

import numpy as np

from analyzer.study.robustness import THRESHOLDS  # the specification curve's

FLOOR = 1e-3  # the decoupled loss is kept above this fraction of the loss (rounding of the two sums)


def spec_events(context, spectrum, plateaus) -> dict[str, np.ndarray]:
    """Flat dict of arrays: jumps/<t>, jump_freqs/<t>, learned/<t>, reached/<t> per threshold; ends/gradient.

    context.result(name, **overrides): the run's results (analyzer/study/collect.py:StudyContext)."""
    out: dict[str, np.ndarray] = {}
    for threshold in THRESHOLDS:
        result = spectrum if threshold == spectrum.threshold else context.result("spectrum", threshold=threshold)
        learning = result.learning.sort_values("freq_hz")
        out[f"jumps/{threshold:g}"] = result.jumps.step.to_numpy(np.float64)
        out[f"jump_freqs/{threshold:g}"] = result.jumps.freq_hz.to_numpy(np.float64)
        out[f"learned/{threshold:g}"] = learning.learned_step.to_numpy(np.float64)
        out[f"reached/{threshold:g}"] = learning.first_below_step.to_numpy(np.float64)
    found = plateaus.plateau_edges
    ends = found[(found.method == "gradient") & (found.kind == "end")]
    out["ends/gradient"] = np.unique(ends.step.to_numpy(np.float64))
    return out


def decoupled_escapes(run, spectrum) -> dict[float, np.ndarray]:
    """Per target frequency with at least one jump: the escapes of the loss without that frequency's residual."""
    from analyzer.analyses.plateaus.compute import detect_plateaus

    steps, loss = np.asarray(run.steps, np.float64), np.asarray(run.loss, np.float64)
    amplitudes = spectrum.learning.set_index("freq_hz").target_amplitude
    out = {}
    for k, freq in enumerate(np.asarray(spectrum.target_modes, np.float64)):
        if not np.any(spectrum.jumps.freq_hz.to_numpy(np.float64) == freq):
            continue
        energy = 0.5 * (np.asarray(spectrum.rel_error[:, k], np.float64) * float(amplitudes.loc[freq])) ** 2
        removed = loss - np.interp(steps, np.asarray(spectrum.steps, np.float64), energy)
        curve = np.maximum(removed, FLOOR * loss)
        out[float(freq)] = np.asarray(detect_plateaus(steps, curve).loss_drop_steps(), np.float64)
    return out
