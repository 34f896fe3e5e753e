"""The full per-degree spectrum of a harmonics run's stored predictions (the heatmap's lower panel), computed on
demand like the DFT of a sine run (analyzer/analyses/spectrum/dft.py): the norm of every degree's component."""

from __future__ import annotations

import numpy as np

from analyzer.analyses.spectrum.result import AmplitudeSpectrum


def mode_amplitudes(run, *, n_rows: int | None = None, dtype=np.float32) -> AmplitudeSpectrum:
    """||P_l f_t|| of every degree l of the run's basis at the first `n_rows` (default all) prediction steps."""
    from analyzer.bases import basis_for_run, project_residual  # on use: analyzer.bases imports scipy.special
    from analyzer.bases.for_run import committed_predictions

    basis = basis_for_run(run).basis
    n_rows = len(run.pred_steps) if n_rows is None else min(n_rows, len(run.pred_steps))
    zero = np.zeros(basis.n_points)  # against a zero target the "residual" is the prediction itself
    projection = project_residual(basis, run.pred_steps[:n_rows], committed_predictions(run, n_rows), zero,
                                  basis.labels)
    return AmplitudeSpectrum(projection.steps, basis.labels, projection.pred_norm.astype(dtype), None)
