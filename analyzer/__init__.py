"""Offline analyses of run files: plateaus, spectra, Hessian saddles, and their correlation.

Notebook use (each analysis module is also callable; results hold pandas DataFrames)::

    import analyzer
    run = analyzer.open_run("data/runs/baseline-s0.h5")
    analyzer.plateaus(run).segments                       # loss plateaus, both methods
    analyzer.spectrum(run, threshold=0.05).learning       # learned / jump step per target frequency
    analyzer.hessian(run, steps=(0, 500)).table           # saddle metrics at checkpoints
    analyzer.correlate([run_a, run_b]).p_value            # jumps vs escapes from plateaus, pooled
"""

from __future__ import annotations

import importlib

from analyzer.api import analyze
from analyzer.registry import ANALYZER_VERSION as __version__
from analyzer.run import Run, open_run

ANALYSES = ("plateaus", "spectrum", "correlate", "hessian", "known", "score")


def __getattr__(name: str):
    # Analyses are imported on first use so that `import analyzer` (and `analyze --help`) stays fast.
    if name in ANALYSES:
        return importlib.import_module(f"analyzer.{name}")
    raise AttributeError(f"module 'analyzer' has no attribute {name!r}")


__all__ = ["Run", "open_run", "analyze", *ANALYSES, "__version__"]
