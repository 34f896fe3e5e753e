"""Run an analysis by name on a run, through the sidecar cache, with its declared dependencies resolved.

`analyze` is the one entry point of the CLI, the report, the study and the notebook API. An analysis that
reads another one's result declares it (`Analysis.requires`) and asks for it with `deps.get(name)`: the
runner computes it, or loads it from the cache, with the parameters the user gave for it
(`analyze(run, "correlate", plateaus={"penalty": 2})`), plus any parameters the asking analysis derives
(`deps.get("hessian", at="steps", steps=(...))`). Within one call each result is computed at most once.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any, Iterator

from analyzer.core import registry
from analyzer.core.cache import Cache, cache_key, default_cache_path
from analyzer.errors import BadInputError
from analyzer.io.run import Run, open_run


@contextlib.contextmanager
def opened_with_cache(path: str | Path, use_cache: bool = True) -> Iterator[tuple[Run, Cache | None]]:
    """The run file and (with the cache) its sidecar cache, both kept open for the block: every read of the run's
    results goes through one handle (the cache's opens on its first load)."""
    with open_run(path) as run:
        if not use_cache:
            yield run, None
            return
        with Cache(default_cache_path(run.path)).kept_open() as cache:
            yield run, cache


def analyze(run: Run | str | Path | None, name: str, *, cache: Cache | Path | str | None = None, use_cache: bool = True,
            params: Any = None, **overrides: Any) -> Any:
    """Compute (or load from cache) analysis `name` on `run`.

    Args:
        run: an open Run or a path to a run file (None for an analysis that needs no run).
        cache: sidecar path (or a Cache kept open); default `<run>.analysis.h5` beside the run.
        use_cache: False computes afresh (dependencies too) and writes nothing.
        params: a ready parameters dataclass; otherwise built from `overrides`.
        overrides: the analysis's own parameters, and, under the name of each analysis it reads (directly or
            through another), a dict of that analysis's parameters.
    """
    if run is not None and not isinstance(run, Run):
        with open_run(run) as opened:
            return analyze(opened, name, cache=cache, use_cache=use_cache, params=params, **overrides)
    analysis = registry.get(name)
    sub_params = split_sub_params(name, overrides)
    params = params if params is not None else registry.make_params(analysis, **overrides)
    return Resolver(run, cache, use_cache, sub_params).result(name, params)


def cached_result(run: Run, name: str, *, cache: Cache | Path | str | None = None, **overrides: Any) -> Any | None:
    """The result `analyze(run, name, **overrides)` would load from the cache, or None; computes nothing."""
    sub_params = split_sub_params(name, overrides)
    params = registry.make_params(registry.get(name), **overrides)
    return Resolver(run, cache, True, sub_params).cached(name, params)


def resolver_for(run: Run, name: str, *, cache: Cache | Path | str | None = None, use_cache: bool = True,
                 **overrides: Any) -> tuple["Resolver", Any]:
    """The resolver `analyze(run, name, **overrides)` would use, and the analysis's parameters; computes nothing."""
    sub_params = split_sub_params(name, overrides)
    return Resolver(run, cache, use_cache, sub_params), registry.make_params(registry.get(name), **overrides)


def split_sub_params(name: str, overrides: dict[str, Any]) -> dict[str, dict]:
    """Take the dependencies' parameter dicts out of `overrides` (in place); None values are dropped."""
    sub_params = {}
    for dep in registry.dependency_closure(name):
        given = overrides.pop(dep, None) or {}
        if not isinstance(given, dict):
            raise BadInputError(f"{name}: {dep} parameters must be a dict, got {given!r}")
        sub_params[dep] = {k: v for k, v in given.items() if v is not None}
    return sub_params


class Resolver:
    """Results of one run for one top-level call: through the cache (if used), each computed at most once."""

    def __init__(self, run: Run | None, cache: Cache | Path | str | None, use_cache: bool, sub_params: dict[str, dict]):
        self.run, self.sub_params = run, sub_params
        self.store = None
        if use_cache and run is not None:
            self.store = cache if isinstance(cache, Cache) else Cache(
                Path(cache) if cache is not None else default_cache_path(run.path))
            if self.store.path.resolve() == run.path.resolve():
                raise BadInputError("the cache path is the run file itself; the run file is never written")
        self._memo: dict[str, Any] = {}

    def params_for(self, name: str, asked_by: str = "", **derived: Any) -> Any:
        """The user's parameters of `name`, with those the asking analysis derives on top (never contradicting)."""
        user = self.sub_params.get(name, {})
        for field, value in derived.items():
            if field in user and user[field] != value:
                raise BadInputError(f"{asked_by}: {name}'s {field} is set by {asked_by} (to {value!r}); "
                                    f"drop the {name} {field} setting ({user[field]!r})")
        return registry.make_params(registry.get(name), **{**user, **derived})

    def key(self, name: str, params: Any) -> str:
        params_by_name = {dep: self.params_for(dep) for dep in registry.dependency_closure(name)}
        params_by_name[name] = params
        return cache_key(registry.get(name), params_by_name, self.run.fingerprint if self.run is not None else "")

    def cached(self, name: str, params: Any) -> Any | None:
        """The stored result, or None; computes nothing."""
        analysis = registry.get(name)
        return self.store.load(analysis, self.key(name, params), analysis.result) if self.store is not None else None

    def deps_for(self, name: str) -> "Deps":
        return Deps(self, registry.get(name))

    def put(self, name: str, params: Any, result: Any) -> None:
        """Store a result computed elsewhere (in parts, on several workers) as `result(name, params)` would."""
        analysis, key = registry.get(name), self.key(name, params)
        self._memo[key] = result
        if self.store is not None:
            self.store.store(analysis, key, params, result, run_path=self.run.path.resolve(),
                             fingerprint=self.run.fingerprint)

    def result(self, name: str, params: Any) -> Any:
        analysis = registry.get(name)
        if analysis.needs_run and self.run is None:
            raise BadInputError(f"{name} needs a run file")
        key = self.key(name, params)
        if key in self._memo:
            return self._memo[key]
        result = self.store.load(analysis, key, analysis.result) if self.store is not None else None
        if result is None:
            result = analysis.compute(self.run, params, Deps(self, analysis))
            if self.store is not None:
                self.store.store(analysis, key, params, result, run_path=self.run.path.resolve(),
                                 fingerprint=self.run.fingerprint)
        self._memo[key] = result
        return result


class Deps:
    """What `compute(run, params, deps)` gets: the results of the analyses it declared in `requires`."""

    def __init__(self, resolver: Resolver, analysis: registry.Analysis):
        self._resolver, self._analysis = resolver, analysis

    @property
    def cache_path(self) -> Path | None:
        """The sidecar cache this call reads and writes (None: --no-cache), for analyses that keep finer-grained
        entries beside it (the Hessian's per-checkpoint store)."""
        store = self._resolver.store
        return None if store is None else store.path

    def get(self, name: str, **derived: Any) -> Any:
        """The result of `name` with the user's parameters for it, and `derived` ones set by the asking analysis."""
        if name not in self._analysis.requires:
            raise RuntimeError(f"{self._analysis.name} asks for {name!r}, which its `requires` does not declare")
        resolver = self._resolver
        return resolver.result(name, resolver.params_for(name, self._analysis.name, **derived))


def dependencies(run: Run, name: str, *, cache: Cache | Path | str | None = None, use_cache: bool = True,
                 sub_params: dict[str, dict] | None = None) -> Deps:
    """The `deps` that analysis `name` would get on `run`, for callers that pool several runs (correlate)."""
    return Deps(Resolver(run, cache, use_cache, sub_params or {}), registry.get(name))


def analyze_pooled(runs: list, name: str, *, use_cache: bool = True, caches: list | None = None,
                   **overrides: Any) -> Any:
    """Analysis `name` pooled over several runs (its `Hooks.pool`), each run's dependencies through its cache.

    Args:
        runs: open Runs or paths (a path is opened for its turn only).
        caches: one sidecar path or Cache per run (default beside each run).
        overrides: as for `analyze`: the analysis's own parameters and a dict per analysis it reads.
    """
    analysis = registry.get(name)
    if analysis.hooks.pool is None:
        raise BadInputError(f"{name} does not pool runs; run it on one run at a time")
    if len(runs) == 0:
        raise BadInputError(f"{name} needs at least one run")
    sub_params = split_sub_params(name, overrides)
    params = registry.make_params(analysis, **overrides)
    caches = list(caches) if caches is not None else [None] * len(runs)
    return analysis.hooks.pool(_pool_items(runs, name, caches, use_cache, sub_params), params)


def _pool_items(runs: list, name: str, caches: list, use_cache: bool, sub_params: dict):
    """(run, deps) of each run in turn; a run given as a path is open only while its pair is in use."""
    for run, cache in zip(runs, caches):
        if isinstance(run, Run):
            yield run, dependencies(run, name, cache=cache, use_cache=use_cache, sub_params=sub_params)
        else:
            with open_run(run) as opened:
                yield opened, dependencies(opened, name, cache=cache, use_cache=use_cache, sub_params=sub_params)
