"""The analysis registry: one `Analysis` per name listed in analyzer/analyses/__init__.py:BUILTIN.

An analysis is a folder analyzer/analyses/<name>/ whose __init__.py defines `ANALYSIS = Analysis(...)`;
the registry imports each listed folder on first use and reads that object. The CLI, the cache, the
runner and the report are written once over this registry.
"""

from __future__ import annotations

import dataclasses
import importlib
from dataclasses import dataclass
from typing import Any, Callable

from analyzer.errors import BadInputError

ANALYZER_VERSION = "0.1.0"


@dataclass(frozen=True)
class Split:
    """How an analysis's compute divides into independent parts that may run on different workers.

    plan(run, params, deps) -> (parts, context): what is to be done (the Hessian: one part per checkpoint);
    part(run, params, part) -> piece; combine(run, params, context, pieces) -> result, pieces in plan order.
    combine over all parts must give what compute gives (the contract test checks it).
    """

    plan: Callable[[Any, Any, Any], tuple[list, Any]]
    part: Callable[[Any, Any, Any], Any]
    combine: Callable[[Any, Any, Any, list], Any]


@dataclass(frozen=True)
class Compare:
    """An analysis's part of the comparison section of a report on several runs.

    tables(runs, pooled) -> Markdown lines: its tables side by side; `pooled(**params)` gives its pooled result
        over the report's runs (analyses with a `pool`).
    figures(runs, figs) -> Markdown lines linking the figures it adds to `figs`, or None.
    order: the place of its tables among the other analyses' (figures follow in the same order, after all tables).
    """

    tables: Callable[[list, Callable], list[str]] | None = None
    figures: Callable[[list, dict], list[str]] | None = None
    order: int = 0


@dataclass(frozen=True)
class Analysis:
    """One analysis: parameters, result type and `compute(run, params, deps) -> result` (bump `version` whenever
    results change).

    requires: names of the analyses whose results `compute` reads through `deps.get(name)`.
    section: `section(run_analyses, figs, prefix, level) -> list[str]` Markdown for the report, or None for the
        generic one (summary, headline, tables).
    needs_run: False for analyses that need no run file.
    in_report: the report computes it; otherwise the report shows it only when a result is already cached.
    split: how compute divides into parts for several workers (analyzer/core/parallel.py), or None.
    report_switch: help of the report's `--<name>/--no-<name>` option that leaves it out ("": no such option).
    report_aliases: (report option, parameter) pairs: the report's short spellings of its parameters
        (`analyze report --penalty 2` sets plateaus' penalty; one option may set several analyses' parameters).
    estimate: `estimate(run, overrides, use_cache, cache=None, timings=None) -> plan` with `.seconds`, `.text` and
        `.n_checkpoints` (the units its progress ticks): the report's and the study's up-front plan for a slow
        analysis (the Hessian's CheckpointPlan), or None; `timings`: the plan's memo of timed probes
        (analyses/hessian/probe.HvpTimings), one per run.
    pool: `pool(items, params) -> result` over (run, deps) pairs of several runs, for an analysis that also
        pools runs (correlate): `analyze_pooled`, `analyze <name> RUN...`, `analyzer.<name>([runs])`.
    compare: its part of the report's comparison section on several runs (a `Compare`), or None.
    """

    name: str
    params: type
    result: type
    compute: Callable[[Any, Any, Any], Any]
    version: str
    summary: str
    requires: tuple[str, ...] = ()
    section: Callable | None = None
    needs_run: bool = True
    in_report: bool = False
    split: Split | None = None
    report_switch: str = ""
    report_aliases: tuple[tuple[str, str], ...] = ()
    estimate: Callable | None = None
    pool: Callable | None = None
    compare: Compare | None = None


REGISTRY: dict[str, Analysis] = {}
_loaded = False


def get(name: str) -> Analysis:
    _load_builtin()
    if name not in REGISTRY:
        raise BadInputError(f"unknown analysis {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def names() -> list[str]:
    """Registered analyses in BUILTIN order."""
    _load_builtin()
    return list(REGISTRY)


def _load_builtin() -> None:
    global _loaded
    if _loaded:
        return
    from analyzer.analyses import BUILTIN

    for name in BUILTIN:
        analysis = importlib.import_module(f"analyzer.analyses.{name}").ANALYSIS
        if analysis.name != name:
            raise RuntimeError(f"analyzer/analyses/{name} registers {analysis.name!r}")
        REGISTRY.setdefault(name, analysis)  # setdefault: a test may have put a stand-in there first
    _loaded = True
    for analysis in REGISTRY.values():
        unknown = set(analysis.requires) - set(REGISTRY)
        if unknown:
            raise RuntimeError(f"{analysis.name} requires unregistered analyses {sorted(unknown)}")


def dependency_closure(name: str) -> list[str]:
    """Every analysis `name` reads, directly or through others, in BUILTIN order (itself excluded)."""
    seen: set[str] = set()
    stack = list(get(name).requires)
    while stack:
        current = stack.pop()
        if current not in seen:
            seen.add(current)
            stack.extend(get(current).requires)
    return [n for n in names() if n in seen]


def make_params(analysis: Analysis, **overrides: Any):
    """Build the parameters dataclass, ignoring None overrides; validation lives in __post_init__."""
    given = {k: v for k, v in overrides.items() if v is not None}
    known = {f.name for f in dataclasses.fields(analysis.params)}
    unknown = set(given) - known
    if unknown:
        raise BadInputError(f"{analysis.name}: unknown parameters {sorted(unknown)}")
    try:
        return analysis.params(**given)
    except (TypeError, ValueError) as err:
        if isinstance(err, BadInputError):
            raise
        raise BadInputError(f"{analysis.name}: {err}") from None
