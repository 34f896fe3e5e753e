"""Bring your own run: training data, target record, model spec and run metadata for models that are not ours.

Shared by `train import` (trainer/byo/importer.py) and `RunWriter.for_model` (any PyTorch loop). The run
file stores what the analyzer needs to treat such a run like one of ours: the data as trained, a
target record (kind "imported") with the frequencies the spectrum tracks, and a model spec that
rebuilds the model (kind "import" with its constructor, or one of our own specs).
"""

from __future__ import annotations

import dataclasses
import json
import math
from pathlib import Path
from typing import Any

import numpy as np

from trainer.runfile import degrees, frequencies
from trainer.runfile.frequencies import (DETECT_FRACTION, check_freqs_on_grid, detect_freqs,  # noqa: F401 (re-exported)
                                     uniform_grid_length)
from trainer.config import PRESETS, ModelSpec
from trainer.errors import ConfigError
from trainer.runfile.schema import RunMeta

DATA_KEYS = ("x_train", "y_train", "x_eval", "y_eval")
COORDS_KEY = "coords_eval"  # the coordinate the target lives on, one row per eval point (run file /data/coords_eval)
FLOAT_DTYPES = ("float32", "float64")


# ---- training data ------------------------------------------------------------------------------------
def load_data_file(path: Path | str, coords: str | None = None) -> dict[str, np.ndarray]:
    """x_train, y_train (and x_eval, y_eval, defaulting to the training set) from an .npz file, checked; `coords`
    names the array of the eval points' coordinates: an array of that .npz, or a .npy file."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in DATA_KEYS if key in npz.files}
            names = list(npz.files)
            if coords is not None and coords in names:
                arrays[COORDS_KEY] = npz[coords]
    except FileNotFoundError:
        raise ConfigError(f"data file {path}: no such file") from None
    except (OSError, ValueError) as err:
        raise ConfigError(f"data file {path} is not a readable .npz file ({err})") from None
    if coords is not None and COORDS_KEY not in arrays:
        arrays[COORDS_KEY] = _coords_file(coords, path, names)
    return check_data(arrays, str(path))


def _coords_file(coords: str, data: Path, names: list[str]) -> np.ndarray:
    """The coords from a .npy file, when --coords names no array of the data file."""
    if not coords.endswith(".npy") or not Path(coords).is_file():
        raise ConfigError(f"--coords {coords}: neither an array of {data} (it has {', '.join(names)}) nor a .npy file")
    try:
        return np.load(coords, allow_pickle=False)
    except (OSError, ValueError) as err:
        raise ConfigError(f"--coords {coords} is not a readable .npy file ({err})") from None


def check_data(arrays: dict[str, Any], source: str = "the data") -> dict[str, np.ndarray]:
    """Columns as (N, d) / (N, o) float64 arrays; the eval set defaults to the training set."""
    missing = [key for key in ("x_train", "y_train") if arrays.get(key) is None]
    if missing:
        raise ConfigError(f"{source} has no {' and no '.join(missing)}; it needs x_train and y_train "
                          f"(and optionally x_eval and y_eval)")
    if (arrays.get("x_eval") is None) != (arrays.get("y_eval") is None):
        raise ConfigError(f"{source} has only one of x_eval and y_eval; give both or neither")
    data = {key: _column_array(arrays[key], key, source) for key in DATA_KEYS if arrays.get(key) is not None}
    data.setdefault("x_eval", data["x_train"])
    data.setdefault("y_eval", data["y_train"])
    for split in ("train", "eval"):
        x, y = data[f"x_{split}"], data[f"y_{split}"]
        if len(x) != len(y):
            raise ConfigError(f"{source}: x_{split} has {len(x)} rows but y_{split} has {len(y)}")
        if len(x) == 0:
            raise ConfigError(f"{source}: x_{split} is empty")
    if data["y_train"].shape[1] != data["y_eval"].shape[1] or data["x_train"].shape[1] != data["x_eval"].shape[1]:
        raise ConfigError(f"{source}: the eval set has other column counts than the training set")
    if arrays.get(COORDS_KEY) is not None:
        data[COORDS_KEY] = _column_array(arrays[COORDS_KEY], "coords", source)
        if len(data[COORDS_KEY]) != len(data["x_eval"]):
            which = "x_eval" if arrays.get("x_eval") is not None else "x_train (the eval points when there is no x_eval)"
            raise ConfigError(f"{source}: coords have {len(data[COORDS_KEY])} rows but {which} has "
                              f"{len(data['x_eval'])}: give one coordinate row per eval point")
    return data


def _column_array(value, key: str, source: str) -> np.ndarray:
    array = np.asarray(value.detach().cpu().numpy() if hasattr(value, "detach") else value)
    if array.dtype.kind not in "fiu" or array.ndim not in (1, 2):
        raise ConfigError(f"{source}: {key} must be a 1-D or 2-D array of numbers, got {array.dtype} {array.shape}")
    array = array.astype(np.float64).reshape(len(array), -1)
    if not np.all(np.isfinite(array)):
        raise ConfigError(f"{source}: {key} holds NaN or infinite values")
    return array


# ---- target record ------------------------------------------------------------------------------------
def describe_target(data: dict[str, np.ndarray], dtype: str, freqs_hz=None, *,
                    max_freqs: int | None = None) -> dict[str, Any]:
    """The /data `target` record of a run whose target we did not make.

    Frequencies tracked by the spectrum: the given ones, else every DFT peak of y_eval at >= 10 % of the largest
    (at most `max_freqs`) when the grid is 1-D and uniform (else none, and `freqs_note` says why). The grid is the
    run's coords when it has them (`coords_eval`: the coordinate the target lives on), else x_eval.
    """
    has_coords = data.get("coords_eval") is not None
    grid = data["coords_eval"] if has_coords else data["x_eval"].astype(dtype)
    record: dict[str, Any] = {"kind": "imported"}
    if has_coords and degrees.on_sphere(grid):
        return record | _sphere_target(grid, data, freqs_hz)
    if freqs_hz is not None:
        freqs = [float(f) for f in freqs_hz]
        if not freqs or not all(math.isfinite(f) and f > 0 for f in freqs):
            raise ConfigError(f"target frequencies must be positive numbers, got {freqs_hz}")
        freqs = frequencies.check_freqs_on_grid(freqs, grid)
        found = "given"
    else:
        if max_freqs is not None and max_freqs < 1:
            raise ConfigError(f"the limit on detected frequencies must be at least 1, got {max_freqs}")
        freqs, how = frequencies.detect(grid, data["y_eval"], max_freqs)
        found = "detected" if freqs else "none"
        record["freqs_detection"] = how
        if not freqs:
            record["freqs_note"] = frequencies.none_found_note(grid, has_coords)
    if has_coords:
        record["coords"] = {"dims": int(grid.shape[1])}
    return record | {"freqs_hz": freqs, "freqs_source": found, "n_train": int(len(data["x_train"])),
                     "n_eval": int(len(data["x_eval"]))}


def _sphere_target(points: np.ndarray, data: dict[str, np.ndarray], freqs_hz) -> dict[str, Any]:
    """The target record on sphere coords: the degrees the spectrum tracks, detected (no frequencies)."""
    if freqs_hz is not None:
        raise ConfigError(f"the coords are points on S^{points.shape[1] - 1}: the spectrum tracks spherical-harmonic "
                          "degrees there (detected from y_eval), not frequencies in Hz")
    found, how = degrees.detect_degrees(points, data["y_eval"])
    record = {"degrees": found, "freqs_hz": [], "freqs_source": "detected" if found else "none",
              "freqs_detection": how, "coords": {"dims": int(points.shape[1]), "sphere": True},
              "n_train": int(len(data["x_train"])), "n_eval": int(len(data["x_eval"]))}
    if not found:
        record["freqs_note"] = "y_eval has no component of degree 1 or more on the sphere coords"
    return record


# ---- model spec and run metadata ----------------------------------------------------------------------
def model_spec_for(reference: str, kwargs: dict[str, Any] | None = None) -> ModelSpec:
    """The spec of `--model`: "preset:NAME" (our preset's model; kwargs override its fields) or
    "package.module:callable" (kind "import", called with kwargs)."""
    from trainer import constructor

    kwargs = dict(kwargs or {})
    if reference.startswith("preset:"):
        name = reference.removeprefix("preset:")
        if name not in PRESETS:
            raise ConfigError(f"unknown preset {name!r} in --model; known presets: {', '.join(PRESETS)}")
        fields = {f.name for f in dataclasses.fields(ModelSpec)} - {"kind", "constructor", "constructor_kwargs"}
        unknown = sorted(set(kwargs) - fields)
        if unknown:
            raise ConfigError(f"--model-kwargs {unknown} are not model spec fields; known: {', '.join(sorted(fields))}")
        return dataclasses.replace(PRESETS[name].model, **kwargs)
    constructor.parse_reference(reference)
    try:
        json.dumps(kwargs)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"model constructor kwargs must be JSON-serialisable ({err})") from None
    return ModelSpec(kind="import", constructor=reference, constructor_kwargs=kwargs)


def param_dtype_of(model) -> str:
    """The one floating dtype of a model's parameters (float32 or float64)."""
    dtypes = {str(p.dtype).removeprefix("torch.") for p in model.parameters()}
    if len(dtypes) != 1 or not dtypes <= set(FLOAT_DTYPES):
        raise ConfigError(f"the model's parameters must all be float32 or all float64, found {sorted(dtypes)}")
    return dtypes.pop()


def run_meta(model, spec: ModelSpec, data: dict[str, np.ndarray], target: dict[str, Any], *, source: str,
             config: dict[str, Any], resume_size: int = 0) -> RunMeta:
    """RunMeta of a run written by `train import` or RunWriter.for_model (data cast to the parameters' dtype)."""
    from trainer.models import param_layout

    dtype = param_dtype_of(model)
    layout = param_layout(model)
    spec_dict = stored_spec(spec)
    full_config = {"source": source, "model": spec_dict, "target": target, "dtype": dtype, **config}
    try:
        json.dumps(full_config)
    except (TypeError, ValueError) as err:
        raise ConfigError(f"the run config must be JSON-serialisable ({err})") from None
    return RunMeta(config=full_config, target=target, model=spec_dict, layout=layout.to_dict(),
                   data=cast_data(data, dtype), n_params=layout.n_params,
                   param_dtype=dtype, resume_size=resume_size, source=source)


IMPORT_SPEC_FIELDS = ("kind", "constructor", "constructor_kwargs")


def stored_spec(spec: ModelSpec) -> dict[str, Any]:
    """The spec as the run file stores it; a model of kind "import" keeps only its constructor (the MLP fields
    are unused, and would read as a 2 x 50 ReLU network that it is not)."""
    spec_dict = dataclasses.asdict(spec)
    if spec.kind == "import":
        return {key: spec_dict[key] for key in IMPORT_SPEC_FIELDS}
    return spec_dict


def cast_data(data: dict[str, np.ndarray], dtype: str) -> dict[str, np.ndarray]:
    """The data as the run stores it: in the parameters' dtype (coords, which are no model input, in float64)."""
    return {key: value.astype(dtype) if key in DATA_KEYS else value for key, value in data.items()}


def check_rebuilds(model, spec: ModelSpec) -> None:
    """Refuse a spec whose rebuilt model has another parameter layout than `model` (the analyzer could not load it)."""
    from trainer.models import build_model, param_layout

    rebuilt = build_model(spec, seed=0, dtype=next(model.parameters()).dtype)
    if param_layout(rebuilt) != param_layout(model):
        raise ConfigError(f"the model rebuilt from {spec.constructor or spec.kind} has other parameters than the "
                          f"model given: {_layout_text(param_layout(rebuilt))} vs {_layout_text(param_layout(model))}")


def _layout_text(layout) -> str:
    shown = [f"{n}{list(s)}" for n, s in zip(layout.names, layout.shapes)]
    return ", ".join(shown[:6]) + (f", ... ({len(shown)} tensors)" if len(shown) > 6 else "")
