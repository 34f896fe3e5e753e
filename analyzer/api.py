"""Run an analysis by name on a run, through the sidecar cache: the one entry point CLI and report use."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from analyzer import registry
from analyzer.cache import Cache, cache_key, default_cache_path
from analyzer.run import Run, open_run


def analyze(run: Run | str | Path, name: str, *, cache: Path | str | None = None, use_cache: bool = True,
            params: Any = None, **overrides: Any) -> Any:
    """Compute (or load from cache) analysis `name` on `run`.

    Args:
        run: an open Run or a path to a run file.
        cache: sidecar path; default `<run>.analysis.h5` beside the run.
        use_cache: False computes afresh and writes nothing.
        params: a ready parameters dataclass; otherwise built from `overrides`.
    """
    if not isinstance(run, Run):
        with open_run(run) as opened:
            return analyze(opened, name, cache=cache, use_cache=use_cache, params=params, **overrides)
    analysis = registry.get(name)
    params = params if params is not None else registry.make_params(analysis, **overrides)
    if not use_cache:
        return analysis.compute(run, params)
    store = Cache(Path(cache) if cache is not None else default_cache_path(run.path))
    if store.path.resolve() == run.path.resolve():
        from analyzer.errors import BadInputError

        raise BadInputError("the cache path is the run file itself; the run file is never written")
    key = cache_key(analysis, params, run.fingerprint)
    result = store.load(analysis, key, analysis.result)
    if result is not None:
        store.hits += 1
        return result
    store.misses += 1
    result = analysis.compute(run, params)
    store.store(analysis, key, params, result, run_path=run.path.resolve(), fingerprint=run.fingerprint)
    return result
