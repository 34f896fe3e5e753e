"""Offline analyses of run files: plateaus, spectra, Hessian saddles, and their correlation.

Notebook use (each registered analysis is a function; results hold pandas DataFrames)::

    import analyzer
    run = analyzer.open_run("data/runs/baseline-s0.h5")
    analyzer.plateaus(run).segments                       # loss plateaus, both methods
    analyzer.spectrum(run, threshold=0.05).learning       # learned step / jump step per target frequency
    analyzer.hessian(run, steps=(0, 500)).table           # saddle metrics at checkpoints
    analyzer.correlate([run_a, run_b]).p_value            # jumps vs escapes from plateaus, pooled
    analyzer.analyze(run, "correlate", plateaus={"penalty": 2})   # a dependency's parameters by its name

How the package is laid out, and where each kind of change goes: docs/architecture.md.
"""

from __future__ import annotations

from analyzer import analyses  # noqa: F401 -- declares the built-in analyses to the registry (imports none of them yet)
from analyzer.core.registry import ANALYZER_VERSION as __version__
from analyzer.core.runner import analyze
from analyzer.io.run import Run, open_run


def __getattr__(name: str):
    # Analyses are imported on first use so that `import analyzer` (and `analyze --help`) stays fast.
    from analyzer.analyses import BUILTIN
    from analyzer.core import registry

    if name not in BUILTIN:
        raise AttributeError(f"module 'analyzer' has no attribute {name!r}")
    analysis = registry.get(name)

    def run_analysis(run, **params):
        if analysis.hooks.pool is not None and isinstance(run, (list, tuple)):
            from analyzer.core.runner import analyze_pooled

            return analyze_pooled(list(run), name, **params)
        return analyze(run, name, **params)

    run_analysis.__name__ = run_analysis.__qualname__ = name
    pooled = "; a list of runs is pooled" if analysis.hooks.pool is not None else ""
    run_analysis.__doc__ = f"`analyze(run, {name!r}, **params)`: {analysis.summary}{pooled}."
    return run_analysis


__all__ = ["Run", "open_run", "analyze", "__version__"]
