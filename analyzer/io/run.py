"""`open_run`: a read-only, lazy view of a run file, trimmed to its committed rows."""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from pathlib import Path

import h5py
import numpy as np

from analyzer.errors import BadInputError
from trainer.runfile import schema as runfile
from trainer.errors import RunFileError


class Run:
    """A run file opened read-only (SWMR reader, so live or killed runs open too).

    Arrays are read on first access and cached; `pred_dataset` gives lazy row access.
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        if self.path.is_dir():
            raise BadInputError(f"{self.path} is a directory, not a run file")
        try:
            self._file = runfile.open_swmr_reader(self.path)
        except RunFileError as err:
            raise BadInputError(str(err)) from None
        except (ValueError, TypeError) as err:  # a header attribute of the wrong type (schema_version="[]")
            raise BadInputError(f"{self.path}: run file header unreadable ({err})") from None
        try:
            self.counts = committed_counts(self._file, self.path)
            self.config: dict = _json_object(self._file.attrs["config"], "config")
            self.target: dict = _json_object(self._file["data"].attrs["target"], "/data target")
            self.model_spec: dict = _json_object(self._file["model"].attrs["spec"], "/model spec")
            self.layout: dict = _json_object(self._file["model"].attrs["layout"], "/model layout")
            self.status: str = str(self._file.attrs.get("status", "unknown"))
            self.n_params = int(self._file["model"].attrs["n_params"])
            self.dtype = str(self._file["model"].attrs["dtype"])
        except BadInputError:
            self._file.close()
            raise
        except (KeyError, ValueError, TypeError, OSError) as err:
            self._file.close()
            raise BadInputError(f"{self.path}: run file metadata unreadable ({err})") from None

    # ---- lifecycle -----------------------------------------------------------------------------
    def close(self) -> None:
        self._file.close()

    def __enter__(self) -> "Run":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def __repr__(self) -> str:
        return f"Run({str(self.path)!r}, status={self.status}, steps={self.n_steps})"

    # ---- logs ----------------------------------------------------------------------------------
    def _rows(self, name: str, count: str) -> np.ndarray:
        try:
            return self._file[name][: self.counts[count]]
        except (KeyError, OSError) as err:
            raise BadInputError(f"{self.path}: cannot read /{name} ({err})") from None

    @cached_property
    def steps(self) -> np.ndarray:
        return self._rows("log/step", "log")

    @cached_property
    def loss(self) -> np.ndarray:
        return self._rows("log/loss", "log")

    @cached_property
    def grad_norm(self) -> np.ndarray:
        return self._rows("log/grad_norm", "log")

    @cached_property
    def lr(self) -> np.ndarray:
        return self._rows("log/lr", "log")

    @property
    def n_steps(self) -> int:
        return self.counts["log"]

    @property
    def is_partial(self) -> bool:
        return self.status != "complete"

    # ---- predictions and checkpoints -----------------------------------------------------------
    @cached_property
    def pred_steps(self) -> np.ndarray:
        return self._rows("log/pred_step", "pred")

    @property
    def pred_dataset(self) -> h5py.Dataset:
        """The raw predictions dataset; only its first `len(pred_steps)` rows are committed."""
        return self._file["log/pred"]

    @cached_property
    def pred(self) -> np.ndarray:
        """Predictions on the eval grid, shape (T_pred, G, out_dim)."""
        return self._rows("log/pred", "pred")

    @cached_property
    def ckpt_steps(self) -> np.ndarray:
        return self._rows("ckpt/step", "ckpt")

    def params_at(self, step: int) -> np.ndarray:
        """Flat parameter vector stored at `step`; a clear error names the stored steps otherwise."""
        index = np.searchsorted(self.ckpt_steps, step)
        if index >= len(self.ckpt_steps) or self.ckpt_steps[index] != step:
            raise BadInputError(f"no checkpoint at step {step}; stored checkpoints: {_describe_steps(self.ckpt_steps)}")
        return self._file["ckpt/params"][index]

    # ---- data ----------------------------------------------------------------------------------
    def data(self, name: str) -> np.ndarray:
        """One of x_train, y_train, x_eval, y_eval."""
        try:
            return self._file["data"][name][...]
        except (KeyError, OSError) as err:
            raise BadInputError(f"{self.path}: cannot read /data/{name} ({err})") from None

    @cached_property
    def coords(self) -> np.ndarray | None:
        """(G, c) the coordinate each eval point's target lives on, when the model's input encodes it
        (/data/coords_eval, written by RunWriter.for_model(coords=) or train import --coords); None otherwise."""
        if "coords_eval" not in self._file["data"]:
            return None
        return self.data("coords_eval")

    def require_steps(self, minimum: int, analysis: str) -> None:
        """Refuse a run with fewer than `minimum` committed steps: there is nothing to analyze."""
        if self.n_steps < minimum:
            raise BadInputError(f"{self.path}: nothing to analyze: {self.n_steps} committed step(s); "
                                f"{analysis} needs at least {minimum}")

    # ---- identity ------------------------------------------------------------------------------
    @cached_property
    def fingerprint(self) -> str:
        """Changes whenever the run grows or its contents differ (config, rows, losses, checkpoints)."""
        digest = hashlib.sha256()
        digest.update(self._file.attrs["config"].encode())
        digest.update(json.dumps([self.counts[k] for k in ("log", "pred", "ckpt")]).encode())
        digest.update(np.ascontiguousarray(self.loss).tobytes())
        digest.update(np.ascontiguousarray(self.ckpt_steps).tobytes())
        if len(self.ckpt_steps):
            digest.update(np.ascontiguousarray(self._file["ckpt/params"][self.counts["ckpt"] - 1]).tobytes())
        return digest.hexdigest()[:16]

    @cached_property
    def linearized(self) -> dict | None:
        """The model spec's `linearized` record of a linearised twin (docs/run-file.md); None for a network."""
        record = self.model_spec.get("linearized")
        if record is None and self.config.get("linearize") is True:
            raise BadInputError(f"{self.path}: the config says linearize but the model spec has no linearized "
                                "record; the twin's theta_0 is unknown")
        if record is not None and not isinstance(record, dict):
            raise BadInputError(f"{self.path}: the model spec's linearized record is not an object: {record!r}")
        return record

    @property
    def theta0_step(self) -> int:
        """The checkpoint step holding a twin's theta_0 (the record's theta0.step); BadInputError when unreadable."""
        theta0 = self.linearized.get("theta0") if self.linearized is not None else None
        step = theta0.get("step") if isinstance(theta0, dict) else None
        if not isinstance(step, int) or isinstance(step, bool) or step < 0:
            raise BadInputError(f"{self.path}: no linearised twin's theta_0 step in the model spec "
                                f"(linearized: {self.linearized!r})")
        if step not in self.ckpt_steps:
            raise BadInputError(f"{self.path}: the twin's theta_0 (the checkpoint at step {step}) is not stored")
        return step

    def build_model(self, dtype: str = "float64"):
        """Rebuild the exact model from the stored spec; returns (model, ParamLayout)."""
        from analyzer.io.model import build_model

        return build_model(self, dtype)


def _json_object(text, what: str) -> dict:
    """A JSON object stored as an attribute; valid JSON of another kind ("7", "[]") is as unreadable."""
    value = json.loads(text)
    if not isinstance(value, dict):
        raise ValueError(f"the {what} attribute is JSON {type(value).__name__}, not an object")
    return value


# the datasets each commit-marker count covers: the marker may lag them (rows written, marker not yet
# advanced) but never lead them
COUNTED_DATASETS = {"log": ("log/step", "log/loss", "log/grad_norm", "log/lr"),
                    "pred": ("log/pred_step", "log/pred"), "ckpt": ("ckpt/step", "ckpt/params")}
REQUIRED_DATA = ("data/x_train", "data/y_train", "data/x_eval", "data/y_eval")


def committed_counts(f: h5py.File, path: Path) -> dict[str, int]:
    """The commit marker's row counts, checked against the stored rows; a marker past the data is damage.

    `trainer.runfile.schema.committed` clamps such a marker to the stored rows, which would present a damaged
    file as a shorter, healthy one.
    """
    for name in (*REQUIRED_DATA, *(n for names in COUNTED_DATASETS.values() for n in names)):
        if name not in f:
            raise BadInputError(f"{path} is missing /{name}; the run file is damaged")
    marker = np.asarray(f["commit"][()]).reshape(-1)
    if marker.shape[0] < len(runfile.COMMIT_FIELDS) or marker.dtype.kind not in "iu":
        raise BadInputError(f"{path}: the commit marker /commit is malformed ({marker.shape[0]} "
                            f"{marker.dtype} values); the run file is damaged")
    counts = dict(zip(runfile.COMMIT_FIELDS, (int(v) for v in marker)))
    for field, names in COUNTED_DATASETS.items():
        if counts[field] < 0:
            raise BadInputError(f"{path}: the commit marker names {counts[field]} {field} rows; "
                                "the run file is damaged")
        for name in names:
            stored = _stored_rows(f[name], counts[field])
            if counts[field] > stored:
                raise BadInputError(f"{path}: the commit marker names {counts[field]:,} {field} rows but /{name} "
                                    f"stores {stored:,}; the run file is damaged")
    return counts


def _stored_rows(dataset: h5py.Dataset, wanted: int) -> int:
    if not isinstance(dataset, h5py.Dataset) or dataset.shape is None or len(dataset.shape) == 0:
        return 0
    if dataset.shape[0] < wanted:
        try:  # an SWMR reader may hold a stale shape of a dataset that a live writer has since grown
            dataset.refresh()
        except (OSError, ValueError):
            pass
    return dataset.shape[0]


def open_run(path: Path | str) -> Run:
    """Open a run file read-only; raises BadInputError with a one-line reason when it cannot."""
    return Run(path)


def _describe_steps(steps: np.ndarray) -> str:
    if len(steps) == 0:
        return "none"
    if len(steps) <= 8:
        return ", ".join(str(int(s)) for s in steps)
    diffs = np.diff(steps)
    every = f" every {int(diffs[0])}" if np.all(diffs[:-1] == diffs[0]) else ""
    return f"{len(steps)} from {int(steps[0])} to {int(steps[-1])}{every}"
