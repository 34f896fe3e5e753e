"""The analysis registry: every analysis is a name, a parameters dataclass and a pure `compute`.

The CLI, the cache and the report are written once over this registry, so a new analysis is one
module that calls `register`.
"""

from __future__ import annotations

import dataclasses
import math
import sys
import types
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np
import pandas as pd

from analyzer.errors import BadInputError

ANALYZER_VERSION = "0.1.0"


@dataclass(frozen=True)
class Analysis:
    name: str
    params: type
    result: type
    compute: Callable[[Any, Any], Any]
    version: str
    summary: str


REGISTRY: dict[str, Analysis] = {}


def register(name: str, params: type, result: type, version: str, summary: str) -> Callable:
    """Decorator for `compute(run, params) -> Result`; bump `version` whenever results change."""

    def wrap(compute: Callable) -> Callable:
        REGISTRY[name] = Analysis(name, params, result, compute, version, summary)
        _make_module_callable(compute.__module__, name)
        return compute

    return wrap


class AnalysisModule(types.ModuleType):
    """An analysis module that is also its notebook API: `analyzer.plateaus(run, penalty=2)`.

    Importing `analyzer.plateaus` rebinds that package attribute to the module, so a plain function of
    the same name in `analyzer/__init__.py` would vanish on first import; a callable module cannot.
    A module may define `api(...)` to be called instead (correlate pools several runs).
    """

    _analysis_name: str

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        api = self.__dict__.get("api")
        if api is not None:
            return api(*args, **kwargs)
        from analyzer.api import analyze

        return analyze(*args, name=self._analysis_name, **kwargs)


def _make_module_callable(module_name: str, analysis_name: str) -> None:
    module = sys.modules.get(module_name)
    if module is not None and module_name.startswith("analyzer."):
        module.__class__ = AnalysisModule
        module._analysis_name = analysis_name


def get(name: str) -> Analysis:
    _load_builtin()
    if name not in REGISTRY:
        raise BadInputError(f"unknown analysis {name!r}; known: {', '.join(sorted(REGISTRY))}")
    return REGISTRY[name]


def names() -> list[str]:
    _load_builtin()
    return list(REGISTRY)


def _load_builtin() -> None:
    import importlib

    for module in ("plateaus", "spectrum", "correlate", "hessian", "score"):
        try:
            importlib.import_module(f"analyzer.{module}")
        except ModuleNotFoundError as err:
            if err.name != f"analyzer.{module}":
                raise


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
        raise BadInputError(f"{analysis.name}: {err}") from None


def params_dict(params: Any) -> dict:
    return {k: _plain(v) for k, v in dataclasses.asdict(params).items()}


def to_jsonable(value: Any, max_array: int = 10_000) -> Any:
    """Results as JSON: DataFrames as records, small arrays as lists, big arrays as a shape note."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: to_jsonable(getattr(value, f.name), max_array) for f in dataclasses.fields(value)}
    if isinstance(value, pd.DataFrame):
        return [{k: _plain(v) for k, v in row.items()} for row in value.to_dict(orient="records")]
    if isinstance(value, np.ndarray):
        if value.size > max_array:
            return {"omitted_array": {"shape": list(value.shape), "dtype": str(value.dtype)}}
        return [_plain(v) for v in value.tolist()] if value.ndim == 1 else _plain(value.tolist())
    if isinstance(value, dict):
        return {str(k): to_jsonable(v, max_array) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [to_jsonable(v, max_array) for v in value]
    return _plain(value)


def _plain(value: Any) -> Any:
    if isinstance(value, (np.integer,)):
        return int(value)
    if isinstance(value, (np.floating, float)):
        value = float(value)
        return value if math.isfinite(value) else None
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value
