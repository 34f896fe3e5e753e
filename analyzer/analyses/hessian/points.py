"""Per-checkpoint reuse of Hessian results: one entry per (run, step, solver options) in a sidecar beside the cache.

The analysis' own cache entry is keyed by the whole selection (`--steps 0,2000`, `--at grid`, ...); this
store is keyed by the checkpoint alone, with the options that change a checkpoint's row (k, method, tol,
index_tol, grad_tol, dense_max_params, max_dense_gb, krylov_steps, dtype, seed; not at/every/steps/per_decade),
so any selection reuses every checkpoint some earlier call computed. The row's role is the asking
selection's. File: `RUN.hessian-points.analysis.h5` beside `RUN.analysis.h5` (never the run file; the suffix
keeps folder and glob inputs from taking it for a run); entries of an
older run fingerprint or format are dropped on the next write. Writers (workers computing checkpoints of
one run side by side) take an exclusive lock on `<file>.lock`; a broken file is replaced, never trusted.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
from pathlib import Path

import numpy as np

from analyzer.core.cache import default_cache_path

FORMAT = 1  # bump when a row's meaning changes (with the hessian analysis' version, which is part of the key)
SELECTION_FIELDS = ("at", "every", "steps", "per_decade")  # choose checkpoints, never change one's row
ARRAYS = ("top", "bottom", "top_residual", "bottom_residual")


def store_path(cache_path: Path | str) -> Path:
    cache_path = Path(cache_path)
    stem = cache_path.name.removesuffix(".h5").removesuffix(".analysis")
    return cache_path.with_name(stem + ".hessian-points.analysis.h5")  # *.analysis.h5: a sidecar, never a run


class PointStore:
    """Rows and extreme eigenpairs of single checkpoints of one run, keyed by step and solver options."""

    def __init__(self, path: Path | str, fingerprint: str):
        self.path, self.fingerprint = Path(path), fingerprint

    @classmethod
    def beside(cls, run, cache_path: Path | str | None = None) -> "PointStore":
        """The store next to `cache_path` (default: the run's default sidecar cache)."""
        return cls(store_path(cache_path or default_cache_path(run.path)), run.fingerprint)

    def key(self, params, step: int) -> str:
        from analyzer.analyses.hessian.params import VERSION
        from analyzer.core.serialize import params_dict

        options = {k: v for k, v in params_dict(params).items() if k not in SELECTION_FIELDS}
        blob = json.dumps({"options": options, "step": int(step), "version": VERSION, "format": FORMAT},
                          sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:24]

    def load(self, params, step: int):
        """(row, EigenPairs without bases) stored for this checkpoint, or None."""
        import h5py

        if not self.path.exists():
            return None
        try:
            with h5py.File(self.path, "r") as f:
                if f.attrs.get("fingerprint") != self.fingerprint or int(f.attrs.get("format", -1)) != FORMAT:
                    return None
                entry = f.get(self.key(params, step))
                text = None if entry is None else entry[()]
        except (OSError, KeyError, ValueError):
            return None
        return None if text is None else _decode(text.decode() if isinstance(text, bytes) else text)

    def save(self, params, step: int, row: dict, eigenpairs) -> None:
        """Store one checkpoint (atomically: written under the lock into a copy that replaces the file)."""
        import h5py

        with self._lock():
            entries = {}
            with contextlib.suppress(OSError, KeyError, ValueError):
                with h5py.File(self.path, "r") as f:
                    if f.attrs.get("fingerprint") == self.fingerprint and int(f.attrs.get("format", -1)) == FORMAT:
                        entries = {k: f[k][()] for k in f}
            entries[self.key(params, step)] = _encode(row, eigenpairs)
            partial = self.path.with_name(self.path.name + ".partial")
            with h5py.File(partial, "w") as f:
                f.attrs.update({"fingerprint": self.fingerprint, "format": FORMAT})
                for key, text in entries.items():
                    f.create_dataset(key, data=text)
            partial.replace(self.path)

    @contextlib.contextmanager
    def _lock(self):
        import fcntl

        with open(self.path.with_name(self.path.name + ".lock"), "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)


def _encode(row: dict, eigenpairs) -> str:
    pairs = {name: np.asarray(getattr(eigenpairs, name), dtype=float).tolist() for name in ARRAYS}
    pairs.update({name: getattr(eigenpairs, name) for name in ("scale", "method", "n_hvp", "seconds", "error")})
    clean = {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
    return json.dumps({"row": clean, "eigenpairs": pairs})


def _decode(text: str):
    from analyzer.linalg.eigenpairs import EigenPairs

    blob = json.loads(text)
    pairs = blob["eigenpairs"]
    arrays = {name: np.asarray(pairs.pop(name), dtype=float) for name in ARRAYS}
    eigenpairs = EigenPairs(**arrays, **{f.name: pairs[f.name] for f in dataclasses.fields(EigenPairs)
                                         if f.name in pairs})
    return blob["row"], eigenpairs
