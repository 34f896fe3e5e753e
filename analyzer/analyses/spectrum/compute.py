"""Per-step DFT of the stored predictions and when each target frequency is learned (frequency principle); on a
harmonics run the same per spherical-harmonic degree.

The eval grid is uniform, x_i = x_0 + i*dx (i < G), so DFT bin k is the frequency k / (G*dx) Hz. For each
target frequency and stored prediction step the analysis keeps the relative error |h_k - y_k| / |y_k| of the
complex coefficients and the prediction's amplitude, and finds the step after which the error stays below
`threshold` (learned step) and its jumps. The DFT of every bin (`amplitude_spectrum`) is computed on demand,
never cached: it is as large as the predictions themselves. Predictions that turn NaN or infinite end the
analysis at the first such step, the way a non-finite loss ends the plateau analysis.

On a harmonics run (`train run --target harmonics`) the modes are spherical-harmonic degrees (analyzer/bases:
degrees 0 .. highest target degree + 2, fitted by least squares on the eval points): degree l's relative error
is ||P_l (f_t - y)|| / ||P_l y||, the same quantity as |h_k - y_k| / |y_k| on Fourier modes, and its sizes are
the norms ||P_l f_t||, ||P_l y||. Everything below works on the relative error alone and applies unchanged.
Fourier modes keep their DFT formulation (the numbers of sine runs are those of earlier versions, bit for bit).

Learned step: Adam at lr 0.01 makes isolated loss spikes of a few to a few tens of steps that push every
frequency above the threshold for a moment (on the `deep` preset one spike near step 8,550 made 1, 3 and
7 Hz all "learned at ~8,550" although 1 Hz is below 0.1 from step 11 on). So "stays below" is judged on
the running median of the relative error over a centred window of `spike_window` (odd W = 2h + 1)
prediction steps, mirrored at both ends of the run: the learned step is the first stored step whose own
error is below the threshold, at or after the first step from which the running median stays below it.
An isolated excursion above the threshold of at most h steps is ignored; one of h + 1 steps or more (a
relapse) still moves the learned step to the first step after it, exactly as the strict rule does, and
so does a cluster of spikes that is above the threshold for most of a window. At the end of the run the
mirror doubles a trailing stretch, so a final spike shorter than about h/2 steps does not unlearn, and a
frequency that first drops below in the last ~h/2 steps does not yet count as learned. spike_window 0 or
1 is the strict rule: the first step after which every stored error is below the threshold.
The median is computed as a running count of below-threshold steps (the median of an odd window is below
the threshold iff at least h + 1 of its values are): linear in the run length. `first_below_step` keeps
the first step below the threshold, relapses allowed.

Jumps are found on a log-step axis, u = log10(step + 1), because learning proceeds in stages that are
evenly spread in log-step. log10 of the relative error is median-binned on a uniform u grid (robust to
Adam's spikes) and turned into the learned fraction q = 1 - min(r, 1), which for a logistic escape is the
logistic itself (r = 1 - w/a in the diag-linear model). The rise of q across a window, D(u) = q(u + h) -
q(u - h), uses windows clipped at the ends of the grid (never padded values); a jump is a peak of D of at
least `min_drop` whose window starts above `threshold` (a frequency that is still unlearned). It is located
at full resolution: the first stored step where q (5-point running median) reaches the middle of the rise,
which is the half-learned step of a logistic. Locating it on log10(r) instead put it 1.2-2.7 sigmoid widths
late: after an escape log10(r) keeps falling with the exponential convergence, not with the sigmoid.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from analyzer.analyses.spectrum.dft import single_sided_scale, target_bins, target_coefficients
from analyzer.analyses.spectrum.learning import learning_tables
from analyzer.analyses.spectrum.params import SpectrumParams
from analyzer.analyses.spectrum.result import MODE_WORDS, SpectrumResult
from analyzer.errors import BadInputError

MIN_PRED_STEPS = 3  # the log-step curves of jump detection need three stored predictions


def compute(run, params: SpectrumParams, deps=None) -> SpectrumResult:
    """The spectrum analysis of a run (predictions read block by block): on Fourier modes, or on spherical-harmonic
    degrees for a run trained with --target harmonics."""
    from analyzer.bases.for_run import committed_predictions, eval_grid_length, on_sphere_coords  # scipy.special
    from trainer.runfile.frequencies import method_text

    if run.target.get("kind") == "harmonics" or on_sphere_coords(run):
        return dataclasses.replace(harmonics_spectrum(run, params), targets_found=method_text(run.target))

    length = eval_grid_length(run)
    freqs = run.target.get("freqs_hz") or []
    if len(freqs) == 0:
        note = run.target.get("freqs_note")
        raise BadInputError(f"{run.path}: the run stores no target frequencies{f' ({note})' if note else ''}; give "
                            "them when the run is written: RunWriter.for_model(target_freqs_hz=) or train import "
                            "--freqs")
    rows = committed_predictions(run, _enough_predictions(run))
    try:
        result = spectrum_from_predictions(run.pred_steps, rows, run.data("y_eval"), freqs, params, length=length)
    except BadInputError as err:
        raise BadInputError(f"{run.path}: {err}") from None
    return dataclasses.replace(result, targets_found=method_text(run.target))


def _enough_predictions(run) -> int:
    n_pred = len(run.pred_steps)
    if n_pred < MIN_PRED_STEPS:
        raise BadInputError(f"{run.path}: nothing to analyze: {n_pred} committed prediction step(s) "
                            f"({run.n_steps} committed steps); the spectrum needs at least {MIN_PRED_STEPS}")
    return n_pred


def spectrum_from_predictions(steps, pred, y_eval, target_freqs_hz, params: SpectrumParams = SpectrumParams(),
                              *, length: float = 1.0) -> SpectrumResult:
    """The spectrum analysis on arrays.

    Args:
        steps: (T,) increasing prediction steps.
        pred: (T, G) or (T, G, 1) predictions on a uniform grid of `length`; anything row-sliceable
            (an h5py dataset is read block by block).
        y_eval: (G,) target on the same grid.
        target_freqs_hz: frequencies to track; each must fall on a DFT bin below Nyquist.
    """
    steps = np.asarray(steps, dtype=np.int64)
    y_eval = np.asarray(y_eval, dtype=np.float64).reshape(-1)
    n_grid = y_eval.shape[0]
    if len(steps) != pred.shape[0] or pred.shape[1] != n_grid:
        raise BadInputError(f"predictions of shape {tuple(pred.shape)} do not match {len(steps)} steps x {n_grid} points")
    from analyzer.bases.fourier import FourierBasis  # on use: analyzer.bases imports scipy.special

    fourier = FourierBasis(n_points=n_grid, length=length)
    freqs_hz = fourier.labels
    bins = target_bins(np.asarray(target_freqs_hz, dtype=np.float64), n_grid, length)
    target_coef = fourier.dft(y_eval)
    if np.any(np.abs(target_coef[bins]) <= 1e-12 * max(1.0, np.abs(target_coef).max())):
        raise BadInputError("a target frequency has no amplitude in y_eval; its relative error is undefined")
    coef = target_coefficients(pred, n_grid, bins)
    first_bad, note = _finite_prefix(steps, len(coef))
    rel_error = np.abs(coef - target_coef[bins]) / np.abs(target_coef[bins])
    scale = single_sided_scale(n_grid)
    return mode_learning(steps[: len(coef)], freqs_hz, bins, np.abs(target_coef) * scale, np.abs(coef) * scale[bins],
                         rel_error, params, first_bad, note)


def harmonics_spectrum(run, params: SpectrumParams) -> SpectrumResult:
    """The spectrum analysis of a harmonics run on spherical-harmonic degrees (analyzer/bases): the relative error
    of degree l is ||P_l (f_t - y)|| / ||P_l y||, its sizes the norms ||P_l f_t|| and ||P_l y|| (RMS on the sphere)."""
    from analyzer.bases import basis_for_run, project_residual  # on use: analyzer.bases imports scipy.special
    from analyzer.bases.for_run import committed_predictions

    run_basis = basis_for_run(run)
    basis, n_pred = run_basis.basis, _enough_predictions(run)
    y_eval = np.asarray(run.data("y_eval"), dtype=np.float64).reshape(-1)
    target_norm = basis.mode_norms(y_eval)[0]
    tracked = basis.modes_of(run_basis.tracked)
    if np.any(target_norm[tracked] <= 1e-6 * max(1.0, target_norm.max())):  # y_eval is stored in float32
        raise BadInputError(f"{run.path}: a target degree has no component in y_eval; its relative error is undefined")
    projection = project_residual(basis, run.pred_steps[:n_pred], committed_predictions(run, n_pred), y_eval,
                                  run_basis.tracked)
    try:
        first_bad, note = _finite_prefix(np.asarray(run.pred_steps[:n_pred]), len(projection.steps))
    except BadInputError as err:
        raise BadInputError(f"{run.path}: {err}") from None
    return mode_learning(projection.steps, basis.labels.astype(np.int64), tracked, target_norm, projection.pred_norm,
                         projection.rel_error, params, first_bad, note, mode_name=basis.label_name)


def mode_learning(steps: np.ndarray, modes: np.ndarray, tracked: np.ndarray, target_size: np.ndarray,
                  pred_size: np.ndarray, rel_error: np.ndarray, params: SpectrumParams, first_bad: int | None,
                  note: str, mode_name: str = "freq_hz") -> SpectrumResult:
    """The result from one basis's numbers: `modes` (F,) all mode labels, `tracked` (K,) the target modes' indices
    in it, `target_size` (F,) and `pred_size` (T, K) the target's and the predictions' size on each mode (Fourier:
    single-sided amplitude; otherwise the component's norm), `rel_error` (T, K)."""
    learning, jumps = learning_tables(steps, rel_error, modes[tracked], params, mode_name)
    learning.insert(1, MODE_WORDS[mode_name][2][2], target_size[tracked])
    return SpectrumResult(steps=steps, modes=modes, target_modes=modes[tracked], target_amplitude=target_size,
                          pred_amplitude=pred_size, rel_error=rel_error, learning=learning, jumps=jumps,
                          threshold=float(params.threshold), first_nonfinite_step=first_bad, note=note,
                          resolution=time_resolution(steps, params))


def time_resolution(steps: np.ndarray, params: SpectrumParams) -> str:
    """How finely the result resolves time: the prediction spacing and the jump grid (coarsened if sparse)."""
    from analyzer.analyses.spectrum.learning import jump_grid

    gaps = np.diff(np.asarray(steps))
    spacing = (f"every {int(gaps[0])} steps" if len(gaps) and np.all(gaps == gaps[0]) and gaps[0] > 1 else
               "every step" if len(gaps) and np.all(gaps == 1) else f"at {len(steps)} steps")
    points = jump_grid(steps, params)
    coarser = f", coarsened from {params.points_per_decade} for sparse predictions" if points != \
        params.points_per_decade else ""
    return f"predictions {spacing}; jump grid {points} points per decade{coarser}"


def _finite_prefix(steps: np.ndarray, n_finite: int) -> tuple[int | None, str]:
    """The first non-finite prediction step and the note saying so; refuses too few finite steps."""
    if n_finite == len(steps):
        if n_finite < MIN_PRED_STEPS:
            raise BadInputError(f"nothing to analyze: {n_finite} stored prediction step(s); the spectrum needs at "
                                f"least {MIN_PRED_STEPS}")
        return None, ""
    first_bad = int(steps[n_finite])
    if n_finite == 0:
        raise BadInputError(f"the predictions are NaN or infinite from the first stored step ({first_bad}); "
                            "nothing to analyze")
    note = (f"predictions not finite from step {first_bad}; analysed the {n_finite} prediction steps before it "
            "only")
    if n_finite < MIN_PRED_STEPS:
        raise BadInputError(f"{note}, fewer than {MIN_PRED_STEPS}")
    return first_bad, note
