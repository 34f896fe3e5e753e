"""Sidecar cache of analysis results (`run.h5` -> `run.analysis.h5`); the run file is never written.

A result is stored under a key hashed from the analysis's name, version and parameters, those of every
analysis it declares it reads (recursively), the analyzer version, the cache format and the run's
fingerprint: any change that can alter the result recomputes it, an identical call is a hit, and a new
version of one analysis leaves the results of analyses that do not read it valid. Results are
frozen dataclasses whose fields are numpy arrays, pandas DataFrames or JSON-able scalars/containers.

Size: analyses return only what their tables, headlines and figures need (the spectrum's full DFT is
recomputed on demand, not cached), and arrays are stored losslessly compressed. Every store rewrites the
file into a temporary one that atomically replaces it, keeping only the entries still valid (same run
fingerprint and versions): HDF5 never gives back the space of deleted objects, so deleting in place would
let a cache grow with every change of the run or the analyzer, and a kill mid-store would leave it broken.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import os
import warnings
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from analyzer.core.registry import ANALYZER_VERSION, Analysis, get
from analyzer.core.serialize import params_dict
from analyzer.errors import BadInputError


def default_cache_path(run_path: Path) -> Path:
    run_path = Path(run_path)
    stem = run_path.name[:-3] if run_path.name.endswith(".h5") else run_path.name
    return run_path.with_name(stem + ".analysis.h5")


CACHE_FORMAT = 2  # 2: compressed arrays, entries tagged with run path, fingerprint and versions
COMPRESS_MIN_ELEMENTS = 1024  # smaller arrays are stored plainly: a filter pipeline costs more than it saves


def versions_tag(name: str) -> str:
    """Cache format, analyzer version and the versions of `name` and of every analysis it reads, as one string."""
    from analyzer.core.registry import dependency_closure

    versions = {dep: get(dep).version for dep in [name, *dependency_closure(name)]}
    return json.dumps({"format": CACHE_FORMAT, "analyzer": ANALYZER_VERSION, "versions": versions}, sort_keys=True)


def key_tree(name: str, params_by_name: dict[str, Any]) -> dict:
    """Name, version and parameters of `name` and, recursively, of each analysis it declares it reads."""
    analysis = get(name)
    return {"analysis": name, "version": analysis.version, "params": params_dict(params_by_name[name]),
            "requires": [key_tree(dep, params_by_name) for dep in analysis.requires]}


def cache_key(analysis: Analysis, params_by_name: dict[str, Any], fingerprint: str) -> str:
    """The entry key of `analysis` run with params_by_name[analysis.name], its dependencies with theirs."""
    blob = json.dumps({"tree": key_tree(analysis.name, params_by_name), "format": CACHE_FORMAT,
                       "analyzer": ANALYZER_VERSION, "run": fingerprint}, sort_keys=True)
    return hashlib.sha256(blob.encode()).hexdigest()[:24]


def _current_tag(name: str) -> str | None:
    """versions_tag of a registered analysis; None for an entry of an analysis no longer registered."""
    try:
        return versions_tag(name)
    except BadInputError:
        return None


class Cache:
    """Reads and writes results in one sidecar HDF5 file; a broken cache is replaced, never trusted."""

    def __init__(self, path: Path):
        self.path = Path(path)
        self._keep = False  # inside kept_open: one read handle serves every load
        self._handle: h5py.File | None = None

    @contextlib.contextmanager
    def kept_open(self):
        """This cache with one read handle kept for every load until the block ends (a report reads all of a
        run's results through it); a store through this object drops it and the next load reopens (after other
        processes stored, e.g. Dask workers, call `release`)."""
        self._keep = True
        try:
            yield self
        finally:
            self._keep = False
            self.release()

    def release(self) -> None:
        """Close the kept read handle (the file may have been replaced since it was opened)."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None

    @contextlib.contextmanager
    def _reading(self):
        if not self._keep:
            with h5py.File(self.path, "r") as f:
                yield f
            return
        if self._handle is None:
            self._handle = h5py.File(self.path, "r")
        yield self._handle

    def load(self, analysis: Analysis, key: str, result_type: type) -> Any | None:
        if not self.path.exists():
            return None
        try:
            with self._reading() as f:
                group = f.get(f"{analysis.name}/{key}")
                if group is None or not group.attrs.get("complete", False):
                    return None
                return _read_result(group, result_type)
        except (OSError, KeyError, ValueError, TypeError):
            self.release()
            return None

    def store(self, analysis: Analysis, key: str, params: Any, result: Any, run_path: Path | str = "",
              fingerprint: str = "") -> None:
        """Write one result; entries of the same run with another fingerprint or versions are dropped."""
        self.release()  # the file is replaced: a kept handle would go on reading the old one
        try:
            with self._writer_lock():
                self._store(analysis, key, params, result, str(run_path), fingerprint)
        except OSError as err:
            warnings.warn(f"cache {self.path} not written ({err}); results were computed but not cached", stacklevel=2)

    @contextlib.contextmanager
    def _writer_lock(self):
        """One writer at a time: workers that store results of the same run at once would otherwise each
        rewrite the file from the old one, and the last replacement would drop the other's entry. The lock is
        an flock on the cache's folder (no lock file is left beside the user's files), freed by the OS if its
        holder dies; stores are short, so writers of other caches in the folder wait milliseconds. Readers
        never take it."""
        import fcntl

        fd = os.open(self.path.parent if str(self.path.parent) else ".", os.O_RDONLY)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _store(self, analysis: Analysis, key: str, params: Any, result: Any, run_path: str, fingerprint: str) -> None:
        if self.path.exists() and not h5py.is_hdf5(self.path):
            raise OSError(f"{self.path} exists and is not an HDF5 cache; refusing to replace it")
        tag = versions_tag(analysis.name)
        temporary = self.path.with_name(f".{self.path.name}.{os.getpid()}.tmp")
        try:
            with h5py.File(temporary, "w", libver="latest") as new:
                self._copy_valid_entries(new, run_path, fingerprint, skip=f"{analysis.name}/{key}")
                group = new.create_group(f"{analysis.name}/{key}")
                group.attrs.update({"params": json.dumps(params_dict(params), sort_keys=True), "run_path": run_path,
                                    "fingerprint": fingerprint, "versions": tag})
                _write_result(group, result)
                group.attrs["complete"] = True
            os.replace(temporary, self.path)
        finally:
            temporary.unlink(missing_ok=True)

    def _copy_valid_entries(self, new: h5py.File, run_path: str, fingerprint: str, skip: str) -> None:
        """Copy the old file's entries that are still valid: other runs' entries (a shared --cache), and this
        run's entries for its current fingerprint and the current versions of what each entry was computed
        from. An unreadable old cache contributes nothing."""
        if not self.path.exists():
            return
        try:
            with h5py.File(self.path, "r") as old:
                for analysis_name, entries in old.items():
                    tag = _current_tag(analysis_name)
                    for key, entry in entries.items():
                        attrs = entry.attrs
                        same_run = attrs.get("run_path", "") == run_path
                        current = attrs.get("fingerprint") == fingerprint and attrs.get("versions") == tag
                        valid = attrs.get("complete", False) and "versions" in attrs and (current or not same_run)
                        if valid and f"{analysis_name}/{key}" != skip:
                            old.copy(entry, new.require_group(analysis_name), name=key)
        except (OSError, KeyError, AttributeError):
            for name in list(new):
                del new[name]  # a partly readable cache is dropped whole: it holds nothing that cannot be recomputed


def _write_result(group: h5py.Group, result: Any) -> None:
    scalars = {}
    for field in dataclasses.fields(result):
        value = getattr(result, field.name)
        if isinstance(value, pd.DataFrame):
            _write_frame(group.create_group(field.name), value)
        elif isinstance(value, np.ndarray):
            _write_array(group, field.name, value)
        else:
            scalars[field.name] = _exact_json(value)
    group.attrs["scalars"] = json.dumps(scalars)


def _exact_json(value: Any) -> Any:
    """Plain Python values for json.dumps, NaN and infinities kept (JSON output turns them into None; a cache
    hit must give back exactly what was computed)."""
    if isinstance(value, dict):
        return {str(k): _exact_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_exact_json(v) for v in value]
    if isinstance(value, np.generic):
        return value.item()
    return value


def _write_array(group: h5py.Group, name: str, value: np.ndarray) -> None:
    """Numeric arrays losslessly compressed (gzip + shuffle), strings as variable-length UTF-8."""
    if value.dtype.kind in "OU":
        group.create_dataset(name, data=value.astype(h5py.string_dtype()))
    elif value.size >= COMPRESS_MIN_ELEMENTS:
        group.create_dataset(name, data=value, compression="gzip", compression_opts=4, shuffle=True)
    else:
        group.create_dataset(name, data=value)


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
            values = np.asarray([str(v) for v in values], dtype=object)
        _write_array(group, str(column), values)


def _read_frame(group: h5py.Group) -> pd.DataFrame:
    columns = json.loads(group.attrs["columns"])
    data = {}
    for column in columns:
        item = group[column]
        data[column] = item.asstr()[()] if item.dtype.kind == "O" else item[()]
    return pd.DataFrame(data, columns=columns)
