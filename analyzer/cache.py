"""Sidecar cache of analysis results (`run.h5` -> `run.analysis.h5`); the run file is never written.

A result is stored under a key hashed from analysis name, parameters, analyzer and analysis versions
and the run's fingerprint, so any change recomputes and an identical call is a hit. Results are
frozen dataclasses whose fields are numpy arrays, pandas DataFrames or JSON-able scalars/containers.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import warnings
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from analyzer.registry import ANALYZER_VERSION, REGISTRY, Analysis, params_dict, to_jsonable


def default_cache_path(run_path: Path) -> Path:
    run_path = Path(run_path)
    stem = run_path.name[:-3] if run_path.name.endswith(".h5") else run_path.name
    return run_path.with_name(stem + ".analysis.h5")


def cache_key(analysis: Analysis, params: Any, fingerprint: str) -> str:
    # every analysis's version is in the key: some build on others (correlate on plateaus and spectrum),
    # so a change to any of them must invalidate the results derived from it
    versions = {name: entry.version for name, entry in sorted(REGISTRY.items())}
    blob = json.dumps({"analysis": analysis.name, "version": analysis.version, "analyzer": ANALYZER_VERSION,
                       "versions": versions, "params": params_dict(params), "run": fingerprint}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


class Cache:
    """Reads and writes results in one sidecar HDF5 file; a broken cache is replaced, never trusted."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self.hits = 0
        self.misses = 0

    def load(self, analysis: Analysis, key: str, result_type: type) -> Any | None:
        if not self.path.exists():
            return None
        try:
            with h5py.File(self.path, "r") as f:
                group = f.get(f"{analysis.name}/{key}")
                if group is None or not group.attrs.get("complete", False):
                    return None
                return _read_result(group, result_type)
        except (OSError, KeyError, ValueError, TypeError):
            return None

    def store(self, analysis: Analysis, key: str, params: Any, result: Any) -> None:
        try:
            self._store(analysis, key, params, result)
        except OSError as err:
            warnings.warn(f"cache {self.path} not written ({err}); results were computed but not cached", stacklevel=2)

    def _store(self, analysis: Analysis, key: str, params: Any, result: Any) -> None:
        if self.path.exists() and not h5py.is_hdf5(self.path):
            raise OSError(f"{self.path} exists and is not an HDF5 cache; refusing to replace it")
        try:
            f = h5py.File(self.path, "a")
        except OSError:
            self.path.unlink()  # an unreadable cache holds nothing that cannot be recomputed
            f = h5py.File(self.path, "a")
        with f:
            name = f"{analysis.name}/{key}"
            if name in f:
                del f[name]
            group = f.create_group(name)
            group.attrs["params"] = json.dumps(params_dict(params), sort_keys=True)
            _write_result(group, result)
            group.attrs["complete"] = True


def _write_result(group: h5py.Group, result: Any) -> None:
    scalars = {}
    for field in dataclasses.fields(result):
        value = getattr(result, field.name)
        if isinstance(value, pd.DataFrame):
            _write_frame(group.create_group(field.name), value)
        elif isinstance(value, np.ndarray):
            if value.dtype.kind in "OU":
                value = value.astype(h5py.string_dtype())
            group.create_dataset(field.name, data=value)
        else:
            scalars[field.name] = to_jsonable(value, max_array=10**9)
    group.attrs["scalars"] = json.dumps(scalars)


def _read_result(group: h5py.Group, result_type: type) -> Any:
    values = json.loads(group.attrs["scalars"])
    for name, item in group.items():
        if isinstance(item, h5py.Group):
            values[name] = _read_frame(item)
        else:
            data = item[()]
            values[name] = data.astype(str) if item.dtype.kind == "O" else data
    for field in dataclasses.fields(result_type):
        if isinstance(values.get(field.name), list) and "tuple" in str(field.type):
            values[field.name] = tuple(values[field.name])
    return result_type(**values)


def _write_frame(group: h5py.Group, frame: pd.DataFrame) -> None:
    group.attrs["columns"] = json.dumps([str(c) for c in frame.columns])
    for column in frame.columns:
        values = frame[column].to_numpy()
        if values.dtype.kind in "OU" or isinstance(frame[column].dtype, pd.StringDtype):
            values = np.asarray([str(v) for v in values], dtype=object).astype(h5py.string_dtype())
        group.create_dataset(str(column), data=values)


def _read_frame(group: h5py.Group) -> pd.DataFrame:
    columns = json.loads(group.attrs["columns"])
    data = {}
    for column in columns:
        item = group[column]
        data[column] = item.asstr()[()] if item.dtype.kind == "O" else item[()]
    return pd.DataFrame(data, columns=columns)
