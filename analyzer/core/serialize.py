"""Results and parameters as plain JSON values: DataFrames as records, small arrays as lists, NaN as None."""

from __future__ import annotations

import dataclasses
import math
from typing import Any

import numpy as np
import pandas as pd


def params_dict(params: Any) -> dict:
    return {k: _plain(v) for k, v in dataclasses.asdict(params).items()}


def to_jsonable(value: Any, max_array: int = 10_000) -> Any:
    """Results as JSON: DataFrames as records, small arrays as lists, big arrays as a shape note; a dataclass's
    fields under their names, or under those its `json_fields()` gives."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        # a result may name its fields for JSON (json_fields): the spectrum's depend on the run's basis
        named = value.json_fields() if hasattr(value, "json_fields") else {
            f.name: getattr(value, f.name) for f in dataclasses.fields(value)}
        return {name: to_jsonable(item, max_array) for name, item in named.items()}
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
