"""Offline analyses of run files: plateaus, spectra, Hessian saddles, and their correlation.

Notebook use::

    import analyzer
    run = analyzer.open_run("data/runs/baseline-s0.h5")
    analyzer.plateaus(run).segments          # pandas DataFrame
"""

from __future__ import annotations

from analyzer.api import analyze
from analyzer.registry import ANALYZER_VERSION as __version__
from analyzer.run import Run, open_run


def plateaus(run, **params):
    """Loss plateaus and change points (see `analyzer.plateaus.PlateauParams`)."""
    return analyze(run, "plateaus", **params)


def spectrum(run, **params):
    """Per-step DFT of the predictions and per-frequency learning (see `analyzer.spectrum.SpectrumParams`)."""
    return analyze(run, "spectrum", **params)


def correlate(runs, **params):
    """Plateau edges vs frequency jumps with a permutation test, pooled over one or several runs."""
    from analyzer.correlate import correlate_runs

    return correlate_runs(runs if isinstance(runs, (list, tuple)) else [runs], **params)


def hessian(run, **params):
    """Hessian spectra and saddle metrics at checkpoints (see `analyzer.hessian.HessianParams`)."""
    return analyze(run, "hessian", **params)


__all__ = ["Run", "open_run", "analyze", "plateaus", "spectrum", "correlate", "hessian", "__version__"]
