"""The analysis registry: one `Analysis` per name, filled by the package that holds the analyses.

An analysis is a folder analyzer/analyses/<name>/ whose __init__.py defines `ANALYSIS = Analysis(...)`. The
analyses package declares its names and how to load each (`declare`, in analyzer/analyses/__init__.py, which
`import analyzer` runs); the registry imports each declared folder on first use and reads that object. Core
never imports the analyses: it knows only what was declared. The CLI, the cache, the runner and the report are
written once over this registry; the contract test (tests/analyzer/core/test_contract.py) reads each analysis's `Tags`.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable

from analyzer.errors import BadInputError

ANALYZER_VERSION = "0.1.0"
READS = ("nothing", "log", "checkpoints")
RUN_KINDS = ("any", "harmonics", "known-answer")
COSTS = ("cheap", "heavy")


@dataclass(frozen=True)
class Tags:
    """What an analysis needs from a run and what it costs, declared once and read by generic code and tests.

    reads: "nothing" (needs no run file), "log" (the loss log and stored predictions only) or "checkpoints"
        (rebuilds the model at stored parameters); an analysis that reads the log gives the same result on a run
        whose checkpoints are gone.
    run_kind: the runs it applies to: "any", "harmonics" (a spherical-harmonic target) or "known-answer" (a
        diag-linear run); it refuses others with a one-line error.
    fast_params: parameters that exercise it quickly on a tiny run (the tests' and a quick check's choice).
    cost: "cheap" (seconds on a real run) or "heavy" (minutes: it plans its cost up front, `Hooks.estimate`).
    """

    reads: str = "checkpoints"
    run_kind: str = "any"
    fast_params: dict = field(default_factory=dict, hash=False)
    cost: str = "cheap"

    def __post_init__(self):
        for name, allowed in (("reads", READS), ("run_kind", RUN_KINDS), ("cost", COSTS)):
            if getattr(self, name) not in allowed:
                raise ValueError(f"Tags.{name} must be one of {allowed}, got {getattr(self, name)!r}")


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
class Hooks:
    """What an analysis may add beyond one compute on one run, for the report, the study and several workers; all
    optional (the defaults: none of it).

    in_report: the report computes it; otherwise the report shows it only when a result is already cached.
    report_switch: help of the report's `--<name>/--no-<name>` option that leaves it out ("": no such option).
    report_aliases: (report option, parameter) pairs: the report's short spellings of its parameters
        (`analyze report --penalty 2` sets plateaus' penalty; one option may set several analyses' parameters).
    compare: its part of the report's comparison section on several runs (a `Compare`), or None.
    pool: `pool(items, params) -> result` over the (run, deps) pairs of several runs, the one pooling signature
        (correlate): `analyze_pooled`, `analyze <name> RUN...`, `analyzer.<name>([runs])`, the report's `pooled`.
    split: how compute divides into parts for several workers (analyzer/core/parallel.py), or None.
    estimate: `estimate(run, overrides, use_cache, cache=None, timings=None) -> plan` with `.seconds`, `.text` and
        `.n_checkpoints` (the units its progress ticks): the report's and the study's up-front plan for a heavy
        analysis (the Hessian's CheckpointPlan), or None; `timings`: the plan's memo of timed probes
        (curvature/hvp_timing.HvpTimings), one per run.
    """

    in_report: bool = False
    report_switch: str = ""
    report_aliases: tuple[tuple[str, str], ...] = ()
    compare: Compare | None = None
    pool: Callable | None = None
    split: Split | None = None
    estimate: Callable | None = None


@dataclass(frozen=True)
class Analysis:
    """One analysis: parameters, result type and `compute(run, params, deps) -> result` (bump `version` whenever
    results change).

    requires: names of the analyses whose results `compute` reads through `deps.get(name)`.
    section: `section(run_analyses, figs, prefix, level) -> list[str]` Markdown for the report, or None for the
        generic one (summary, headline, tables).
    tags: what it reads, which runs it applies to, fast parameters and cost (`Tags`).
    hooks: its optional parts for the report, the study and several workers (`Hooks`).
    """

    name: str
    params: type
    result: type
    compute: Callable[[Any, Any, Any], Any]
    version: str
    summary: str
    requires: tuple[str, ...] = ()
    section: Callable | None = None
    tags: Tags = Tags()
    hooks: Hooks = Hooks()

    @property
    def needs_run(self) -> bool:
        """False for an analysis that reads no run file."""
        return self.tags.reads != "nothing"


REGISTRY: dict[str, Analysis] = {}
_declared: dict[str, Callable[[str], Analysis]] = {}  # name -> its loader, in declaration order
_loaded = False


def declare(names_in_order: Iterable[str], load: Callable[[str], Analysis]) -> None:
    """Declare analyses by name, in report order, and how to load one (`load(name) -> Analysis`), on first use.

    The package that holds analyses calls this when it is imported (analyzer/analyses/__init__.py)."""
    global _loaded
    for name in names_in_order:
        _declared.setdefault(name, load)
    _loaded = False


def get(name: str) -> Analysis:
    _load_declared()
    if name not in REGISTRY:
        raise BadInputError(f"unknown analysis {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def names() -> list[str]:
    """Registered analyses in declaration (report) order."""
    _load_declared()
    return list(REGISTRY)


def _load_declared() -> None:
    global _loaded
    if _loaded:
        return
    for name, load in _declared.items():
        if name in REGISTRY:
            continue  # a test may have put a stand-in there first
        analysis = load(name)
        if analysis.name != name:
            raise RuntimeError(f"the analysis declared as {name!r} registers {analysis.name!r}")
        REGISTRY[name] = analysis
    _loaded = True
    for analysis in REGISTRY.values():
        unknown = set(analysis.requires) - set(REGISTRY)
        if unknown:
            raise RuntimeError(f"{analysis.name} requires unregistered analyses {sorted(unknown)}")


def dependency_closure(name: str) -> list[str]:
    """Every analysis `name` reads, directly or through others, in registry order (itself excluded)."""
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
