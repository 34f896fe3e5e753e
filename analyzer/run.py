"""`open_run`: a read-only, lazy view of a run file, trimmed to its committed rows."""

from __future__ import annotations

import hashlib
import json
from functools import cached_property
from pathlib import Path

import h5py
import numpy as np

from analyzer.errors import BadInputError
from trainer import runfile
from trainer.errors import RunFileError


class Run:
    """A run file opened read-only (SWMR reader, so live or killed runs open too).

    Arrays are read on first access and cached; `pred_dataset` gives lazy row access.
    """

    def __init__(self, path: Path | str):
        self.path = Path(path)
        try:
            self._file = runfile.open_swmr_reader(self.path)
        except RunFileError as err:
            raise BadInputError(str(err)) from None
        try:
            self.counts = runfile.committed(self._file)
            self.config: dict = json.loads(self._file.attrs["config"])
            self.target: dict = json.loads(self._file["data"].attrs["target"])
            self.model_spec: dict = json.loads(self._file["model"].attrs["spec"])
            self.layout: dict = json.loads(self._file["model"].attrs["layout"])
            self.status: str = str(self._file.attrs.get("status", "unknown"))
            self.n_params = int(self._file["model"].attrs["n_params"])
            self.dtype = str(self._file["model"].attrs["dtype"])
        except (KeyError, ValueError, OSError) as err:
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
        return self._file["data"][name][...]

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

    def build_model(self, dtype: str = "float64"):
        """Rebuild the exact model from the stored spec; returns (model, ParamLayout)."""
        import torch

        from trainer.errors import ConfigError
        from trainer.models import ParamLayout, build_model, check_layout, model_spec_from_dict

        try:
            spec = model_spec_from_dict(self.model_spec)
            model = build_model(spec, seed=0, dtype=getattr(torch, dtype))
            check_layout(model, self.layout)  # an imported model's class may have changed since
        except (ConfigError, TypeError) as err:
            raise BadInputError(f"{self.path}: the stored model spec cannot be rebuilt ({err})") from None
        layout = ParamLayout.from_dict(self.layout)
        if layout.n_params != self.n_params:
            raise BadInputError(f"{self.path}: model layout has {layout.n_params} parameters, file says {self.n_params}")
        return model, layout


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
