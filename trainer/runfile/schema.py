"""The run file: an append-only, crash-safe HDF5 file written by `RunWriter` (schema in docs/run-file.md).

Crash safety: the file is written in HDF5 SWMR mode, whose ordered metadata writes keep the file
openable at every instant, and rows become visible through a commit marker. A commit writes the
buffered rows, flushes them, writes the optimizer state of the newest checkpoint into the resume slot
not currently in use, flushes, and only then advances `/commit` = [log rows, pred rows, ckpt rows,
resume slot]. A reader trims every dataset to the marker, so after `kill -9` at any moment it sees
only complete rows and a resume state that matches a stored checkpoint. Every other change (creation,
resume, the final status) is made on a temporary copy that atomically replaces the run file."""

from __future__ import annotations

import json
import os
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import h5py
import numpy as np

from trainer.errors import RunFileError

FORMAT = "spectral-run"
# 2 added the root `source` attribute and the model kind "import"; 3 the target kind "harmonics" (inputs on the
# sphere, /data/x_* of shape (N, d), the drawn components in the target record) (docs/run-file.md)
SCHEMA_VERSION = 3
READABLE_SCHEMA_VERSIONS = (1, 2, 3)  # a version-1 file is a `train run` file without `source`
SOURCES = ("train", "import", "logger")  # who wrote the rows: `train run`, `train import`, RunWriter.for_model
OPTIONAL_DATA = ("coords_eval",)  # /data/coords_eval: the coordinate the target lives on, when the input encodes it
STATUSES = ("running", "complete", "diverged", "interrupted")
COMMIT_FIELDS = ("log", "pred", "ckpt", "resume_slot")
LOG_FIELDS = {"step": np.int64, "loss": np.float64, "grad_norm": np.float64, "lr": np.float64}
NO_SLOT = -1


@dataclass(frozen=True)
class RunMeta:
    """What a run file holds before its first step: enough to create (or re-create) it."""

    config: dict[str, Any]
    target: dict[str, Any]
    model: dict[str, Any]
    layout: dict[str, Any]
    data: dict[str, np.ndarray]  # x_train, y_train, x_eval, y_eval (and any of OPTIONAL_DATA)
    n_params: int
    param_dtype: str
    resume_size: int
    pred_compression: str | None = "lzf"  # see bench/RESULTS.md: ~30% smaller, cheapest to write
    source: str = "train"

    @property
    def eval_shape(self) -> tuple[int, int]:
        return tuple(self.data["y_eval"].shape)  # type: ignore[return-value]


def _versions() -> dict[str, str]:
    import platform

    import torch

    from trainer import __version__

    return {"trainer": __version__, "torch": torch.__version__, "h5py": h5py.__version__,
            "hdf5": h5py.version.hdf5_version, "numpy": np.__version__, "python": platform.python_version()}


def _chunk_rows(row_bytes: int, target_bytes: int = 1 << 18) -> int:
    return max(1, min(4096, target_bytes // max(1, row_bytes)))


def _create_layout(f: h5py.File, meta: RunMeta) -> None:
    if meta.source not in SOURCES:
        raise RunFileError(f"unknown run source {meta.source!r}; known: {', '.join(SOURCES)}")
    f.attrs.update({"format": FORMAT, "schema_version": SCHEMA_VERSION, "status": "running", "source": meta.source,
                    "config": json.dumps(meta.config, sort_keys=True), "created": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
                    "versions": json.dumps(_versions(), sort_keys=True)})
    data = f.create_group("data")
    data.attrs["target"] = json.dumps(meta.target, sort_keys=True)
    for name in ("x_train", "y_train", "x_eval", "y_eval", *(k for k in OPTIONAL_DATA if k in meta.data)):
        data.create_dataset(name, data=meta.data[name], chunks=True)
    model = f.create_group("model")
    model.attrs.update({"spec": json.dumps(meta.model, sort_keys=True), "layout": json.dumps(meta.layout),
                        "n_params": meta.n_params, "dtype": meta.param_dtype})
    log = f.create_group("log")
    for name, dtype in LOG_FIELDS.items():
        log.create_dataset(name, shape=(0,), maxshape=(None,), dtype=dtype, chunks=(4096,))
    grid, out_dim = meta.eval_shape
    itemsize = np.dtype(meta.param_dtype).itemsize
    log.create_dataset("pred_step", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(4096,))
    log.create_dataset("pred", shape=(0, grid, out_dim), maxshape=(None, grid, out_dim), dtype=meta.param_dtype,
                       chunks=(_chunk_rows(grid * out_dim * itemsize), grid, out_dim),
                       **_compression(meta.pred_compression))
    ckpt = f.create_group("ckpt")
    ckpt.create_dataset("step", shape=(0,), maxshape=(None,), dtype=np.int64, chunks=(1024,))
    ckpt.create_dataset("params", shape=(0, meta.n_params), maxshape=(None, meta.n_params), dtype=meta.param_dtype,
                        chunks=(_chunk_rows(meta.n_params * itemsize), meta.n_params))
    resume = f.create_group("resume")
    resume.create_dataset("step", data=np.full(2, -1, np.int64), maxshape=(None,), chunks=(2,))
    resume.create_dataset("state", shape=(2, max(1, meta.resume_size)), maxshape=(None, max(1, meta.resume_size)),
                          dtype=np.float64, chunks=(1, max(1, meta.resume_size)))
    commit = f.create_dataset("commit", data=np.array([0, 0, 0, NO_SLOT], np.int64), maxshape=(None,), chunks=(4,))
    commit.attrs["fields"] = json.dumps(COMMIT_FIELDS)


def _compression(name: str | None) -> dict[str, Any]:
    if name is None:
        return {}
    if name == "gzip":
        return {"compression": "gzip", "compression_opts": 1, "shuffle": True}
    if name == "lzf":
        return {"compression": "lzf", "shuffle": True}
    raise RunFileError(f"unknown compression {name!r}; use gzip, lzf or none")


def check_writable_target(path: Path, overwrite: bool) -> None:
    """Refuse an existing output (unless overwrite) or an unwritable folder, before any work."""
    path = Path(path)
    if path.is_dir():
        raise RunFileError(f"{path} is a directory, not a run file path")
    if path.exists() and not overwrite:
        raise RunFileError(f"{path} already exists; pass --overwrite to replace it")
    reason = unwritable_reason(path.parent)
    if reason:
        raise RunFileError(f"cannot create {path}: {reason}")


def unwritable_reason(folder: Path) -> str | None:
    """Why files cannot be created in `folder` (existing or to be made), or None when they can."""
    folder = Path(folder)
    existing = next((p for p in (folder, *folder.parents) if p.exists()), Path("."))
    if not existing.is_dir():
        return f"{existing} is not a directory"
    try:  # a real probe: os.access says yes to root even on read-only mounts
        tempfile.TemporaryFile(dir=existing).close()
    except OSError as err:
        return f"directory {existing} is not writable ({err.strerror})"
    return None


def open_swmr_reader(path: Path) -> h5py.File:
    """Open a run file read-only as an SWMR reader (works on live and killed runs); clear errors."""
    path = Path(path)
    if not path.is_file():
        raise RunFileError(f"{path}: no such file")
    if not h5py.is_hdf5(path):
        raise RunFileError(f"{path} is not an HDF5 file")
    try:  # a cleanly closed file opens plainly, and a plain open detects truncation
        f = h5py.File(path, "r")
    except OSError as err:
        if "truncated" in str(err):
            raise RunFileError(f"{path} cannot be opened: the HDF5 file is truncated") from None
        # a live or killed SWMR writer leaves flags that only an SWMR reader accepts; an SWMR reader
        # skips the end-of-file check, which is why truncation is tested by the plain open above
        try:
            f = h5py.File(path, "r", swmr=True)
        except OSError as swmr_err:
            raise RunFileError(f"{path} cannot be opened as HDF5 (corrupt?): {swmr_err}") from None
    try:
        check_schema(f, path)
    except RunFileError:
        f.close()
        raise
    return f


def check_schema(f: h5py.File, path: Path) -> None:
    if f.attrs.get("format") != FORMAT:
        raise RunFileError(f"{path} is an HDF5 file but not a run file (no format={FORMAT!r} attribute)")
    version = int(f.attrs.get("schema_version", -1))
    if version not in READABLE_SCHEMA_VERSIONS:
        readable = ", ".join(str(v) for v in READABLE_SCHEMA_VERSIONS[:-1]) + f" and {READABLE_SCHEMA_VERSIONS[-1]}"
        raise RunFileError(f"{path} has run-file schema version {version}; this version reads {readable}")
    for name in ("commit", "log/step", "log/loss", "log/pred", "ckpt/params", "data/x_train", "model"):
        if name not in f:
            raise RunFileError(f"{path} is missing /{name}; the run file is incomplete")


def check_resumable(f: h5py.File, path: Path) -> None:
    status = str(f.attrs.get("status"))
    if status == "complete":
        raise RunFileError(f"{path} is already complete; nothing to resume")
    if status == "diverged":
        raise RunFileError(f"{path} diverged (non-finite loss); resuming would diverge again")
    # `committed` clamps the marker for live readers, whose view of a growing file may lag; a resume holds
    # the lock, nobody writes, so a marker past the stored rows means a damaged file, not a lagging view
    marker = dict(zip(COMMIT_FIELDS, (int(v) for v in f["commit"][:4])))
    for field, dataset in (("log", "log/step"), ("pred", "log/pred"), ("ckpt", "ckpt/params")):
        stored = f[dataset].shape[0]
        if not 0 <= marker[field] <= stored:
            raise RunFileError(f"{path}: commit marker names {marker[field]:,} {field} rows but {dataset} stores "
                               f"{stored:,}; the run file is damaged")


def committed(f: h5py.File) -> dict[str, int]:
    """Committed row counts (log, pred, ckpt) and the valid resume slot, as the marker says."""
    marker = f["commit"][:4]
    counts = dict(zip(COMMIT_FIELDS, (int(v) for v in marker)))
    counts["log"] = min(counts["log"], f["log/step"].shape[0])
    counts["pred"] = min(counts["pred"], f["log/pred"].shape[0])
    counts["ckpt"] = min(counts["ckpt"], f["ckpt/params"].shape[0])
    return counts


def read_meta(f: h5py.File) -> RunMeta:
    model = f["model"]
    pred = f["log/pred"]
    return RunMeta(
        config=json.loads(f.attrs["config"]), target=json.loads(f["data"].attrs["target"]),
        model=json.loads(model.attrs["spec"]), layout=json.loads(model.attrs["layout"]),
        data={name: f["data"][name][...] for name in ("x_train", "y_train", "x_eval", "y_eval", *OPTIONAL_DATA)
              if name in f["data"]},
        n_params=int(model.attrs["n_params"]), param_dtype=str(model.attrs["dtype"]),
        resume_size=int(f["resume/state"].shape[1]), pred_compression=pred.compression, source=source_of(f),
    )


def source_of(f: h5py.File) -> str:
    """Who wrote the run: "train", "import" or "logger" (version-1 files were all written by `train run`)."""
    return str(f.attrs.get("source", "train"))


def check_trainer_run(f: h5py.File, path: Path) -> None:
    """`train resume` continues only runs of `train run`: another loop's run has no config it could replay."""
    source = source_of(f)
    if source != "train":
        how = "was imported by `train import`" if source == "import" else "was written by your own training loop"
        raise RunFileError(f"{path} {how}; `train resume` continues only runs of `train run`"
                           + ("" if source == "import" else " (continue it with RunWriter.resume in your loop)"))


def differences(path_a: Path | str, path_b: Path | str) -> list[str]:
    """Where two run files differ, comparing every dataset bit for bit and the config and status.

    Left out: the optimizer snapshots (`/resume/*`) and the marker's resume slot, which depend on
    when commits happened, and the `created`/`ended` timestamps. Empty when the runs are the same.
    """
    with open_swmr_reader(Path(path_a)) as a, open_swmr_reader(Path(path_b)) as b:
        names_a, names_b = _dataset_names(a), _dataset_names(b)
        found = [f"/{name} only in one file" for name in sorted(names_a ^ names_b)]
        for name in sorted(names_a & names_b):
            x, y = a[name][()], b[name][()]
            if name == "commit":
                x, y = x[:3], y[:3]
            if x.dtype != y.dtype or x.shape != y.shape or x.tobytes() != y.tobytes():
                found.append(f"/{name} differs")
        for attr in ("config", "status", "schema_version", "source"):
            if a.attrs.get(attr) != b.attrs.get(attr):
                found.append(f"attribute {attr} differs")
    return found


def _dataset_names(f: h5py.File) -> set[str]:
    names: set[str] = set()
    f.visititems(lambda name, obj: names.add(name) if isinstance(obj, h5py.Dataset) else None)
    return {name for name in names if not name.startswith("resume/")}
