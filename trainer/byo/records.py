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

from trainer.config import PRESETS, ModelSpec
from trainer.errors import ConfigError
from trainer.runfile.schema import RunMeta

DATA_KEYS = ("x_train", "y_train", "x_eval", "y_eval")
DETECT_FRACTION = 0.1  # a DFT peak of y_eval is a target frequency if its amplitude is >= this x the largest
DETECT_MAX = 8  # ... and it is among the this-many largest such peaks
FLOAT_DTYPES = ("float32", "float64")


# ---- training data ------------------------------------------------------------------------------------
def load_data_file(path: Path | str) -> dict[str, np.ndarray]:
    """x_train, y_train (and x_eval, y_eval, defaulting to the training set) from an .npz file, checked."""
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            arrays = {key: npz[key] for key in DATA_KEYS if key in npz.files}
    except FileNotFoundError:
        raise ConfigError(f"data file {path}: no such file") from None
    except (OSError, ValueError) as err:
        raise ConfigError(f"data file {path} is not a readable .npz file ({err})") from None
    return check_data(arrays, str(path))


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
def describe_target(data: dict[str, np.ndarray], dtype: str, freqs_hz=None) -> dict[str, Any]:
    """The /data `target` record of a run whose target we did not make.

    Frequencies tracked by the spectrum: the given ones, else the dominant DFT peaks of y_eval when
    the eval grid is 1-D and uniform (else none, and the spectrum says it needs them).
    """
    if freqs_hz is not None:
        freqs = [float(f) for f in freqs_hz]
        if not freqs or not all(math.isfinite(f) and f > 0 for f in freqs):
            raise ConfigError(f"target frequencies must be positive numbers, got {freqs_hz}")
        freqs = check_freqs_on_grid(freqs, data["x_eval"].astype(dtype))
        found = "given"
    else:
        freqs = detect_freqs(data["x_eval"].astype(dtype), data["y_eval"])
        found = "detected" if freqs else "none"
    return {"kind": "imported", "freqs_hz": freqs, "freqs_source": found,
            "n_train": int(len(data["x_train"])), "n_eval": int(len(data["x_eval"]))}


SNAP_BINS = 1e-3  # a given frequency this close to a DFT bin (in bins) is that bin's frequency, rounded as typed


def check_freqs_on_grid(freqs: list[float], x_eval: np.ndarray) -> list[float]:
    """The target frequencies on the bins of a uniform 1-D eval grid (snapped when within SNAP_BINS of one);
    refused when the spectrum could not track them: between bins or at/above Nyquist (the analyzer's rule,
    checked before anything is written), with the likely fix. Other grids: returned as given."""
    if x_eval.shape[1] != 1 or len(x_eval) < 4:
        return freqs
    length = uniform_grid_length(x_eval[:, 0])
    if length is None:
        return freqs
    n_grid = len(x_eval)
    bins = np.asarray(freqs) * length
    off_bin = np.abs(bins - np.rint(bins)) > SNAP_BINS
    too_high = np.rint(bins) >= n_grid / 2
    if not (off_bin.any() or too_high.any()):
        return [float(k / length) for k in np.rint(bins)]
    grid = (f"the eval grid: {n_grid} points over a period of {length:g} (bins every {1 / length:g} Hz, Nyquist "
            f"{n_grid / 2 / length:g} Hz)")
    angular = np.asarray(freqs) / (2 * np.pi) * length
    angular_ok = np.all(np.rint(angular) > 0) and np.all(np.rint(angular) < n_grid / 2)
    if angular_ok and np.all(np.abs(angular - np.rint(angular)) < 0.01):
        hint = ("they look like angular frequencies (rad per unit of x); in Hz (cycles per unit of x) they are "
                f"--freqs {','.join(f'{k / length:.12g}' for k in np.rint(angular))}")
    elif too_high.any():
        hint = f"{freqs[int(np.argmax(too_high))]:g} Hz is at or above Nyquist"
    else:
        nearest = ",".join(f"{max(k, 1) / length:.12g}" for k in np.rint(bins))
        hint = f"the nearest bins are --freqs {nearest}"
    raise ConfigError(f"--freqs {','.join(f'{f:g}' for f in freqs)} cannot be tracked on {grid}: {hint}")


def detect_freqs(x_eval: np.ndarray, y_eval: np.ndarray) -> list[float]:
    """Dominant DFT peaks of y_eval on a uniform 1-D grid: local maxima of the single-sided amplitude
    (DC and Nyquist left out) of at least DETECT_FRACTION x the largest, the DETECT_MAX largest; Hz."""
    if x_eval.shape[1] != 1 or y_eval.shape[1] != 1 or len(x_eval) < 4:
        return []
    length = uniform_grid_length(x_eval[:, 0])
    if length is None:
        return []
    amplitude = np.abs(np.fft.rfft(y_eval[:, 0].astype(np.float64)))
    inner = np.arange(1, (len(y_eval) - 1) // 2 + 1)  # below Nyquist
    if len(inner) == 0 or amplitude[inner].max() <= 0:
        return []
    left, right = amplitude[inner - 1], amplitude[np.minimum(inner + 1, len(amplitude) - 1)]
    peak = (amplitude[inner] > left) & (amplitude[inner] >= right)
    strong = amplitude[inner] >= DETECT_FRACTION * amplitude[inner].max()
    bins = inner[peak & strong]
    bins = np.sort(bins[np.argsort(amplitude[bins])[::-1][:DETECT_MAX]])
    return [float(k / length) for k in bins]


def uniform_grid_length(x: np.ndarray) -> float | None:
    """G * dx of a uniform grid, rounded as analyzer.spectrum rounds it (so detected peaks fall on its
    bins); None when the grid is not uniform."""
    eps = np.finfo(x.dtype).eps if x.dtype.kind == "f" else np.finfo(np.float64).eps
    x = x.astype(np.float64)
    dx = (x[-1] - x[0]) / (len(x) - 1)
    if not dx > 0 or np.max(np.abs(np.diff(x) - dx)) > 1e-3 * dx + 8 * eps * np.max(np.abs(x)):
        return None
    digits = max(1, int(-np.log10(eps)) - 1)
    return float(f"{dx * len(x):.{digits}g}")


# ---- model spec and run metadata ----------------------------------------------------------------------
def model_spec_for(reference: str, kwargs: dict[str, Any] | None = None) -> ModelSpec:
    """The spec of `--model`: "preset:NAME" (our preset's model; kwargs override its fields) or
    "package.module:callable" (kind "import", called with kwargs)."""
    from trainer.byo import constructor

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
    """The data as the run stores it: in the parameters' dtype."""
    return {key: value.astype(dtype) for key, value in data.items()}


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
