"""Checkpoint folders written by other training loops: find the files, parse their steps, read them as data.

A `.pt` / `.pth` file is read with `torch.load(weights_only=True, mmap=True)`: tensors and plain
containers only, so a pickle that would run code is refused, and the tensors stay memory-mapped
until copied. A `.safetensors` file is read with `safetensors.safe_open`. One file at a time, so
the memory needed does not grow with the folder.
"""

from __future__ import annotations

import pickle
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from trainer.errors import ConfigError

SUFFIXES = (".pt", ".pth", ".safetensors")
DEFAULT_STEP_REGEX = r"(\d+)\D*$"  # the last number in the file name
NESTED_KEYS = ("state_dict", "model_state_dict", "model")  # {"model": state_dict, "optimizer": ...} layouts


@dataclass(frozen=True)
class CheckpointFile:
    step: int
    path: Path


def list_checkpoints(folder: Path | str, step_regex: str | None = None) -> list[CheckpointFile]:
    """The folder's checkpoint files in step order; a file without a step, or two with one step, is refused."""
    folder = Path(folder)
    if not folder.is_dir():
        raise ConfigError(f"{folder} is not a folder")
    try:
        pattern = re.compile(step_regex or DEFAULT_STEP_REGEX)
    except re.error as err:
        raise ConfigError(f"--step-regex {step_regex!r} is not a regular expression ({err})") from None
    files = sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES and p.is_file())
    if not files:
        raise ConfigError(f"{folder} holds no checkpoints (files ending in {', '.join(SUFFIXES)})")
    by_step: dict[int, Path] = {}
    for path in files:
        step = _step_of(path, pattern, step_regex)
        if step in by_step:
            raise ConfigError(f"{by_step[step].name} and {path.name} both hold step {step}")
        by_step[step] = path
    return [CheckpointFile(step, by_step[step]) for step in sorted(by_step)]


def _step_of(path: Path, pattern: re.Pattern, step_regex: str | None) -> int:
    match = pattern.search(path.name)
    text = None
    if match:
        text = match.group("step") if "step" in pattern.groupindex else match.group(1 if pattern.groups else 0)
    if text is None or not text.isdigit():
        how = f"--step-regex {step_regex!r}" if step_regex else "the last number in the file name"
        raise ConfigError(f"{path.name}: no step found ({how}); name files like ckpt_001000.pt or pass --step-regex "
                          f"with one group around the step, e.g. 'step=(\\d+)'")
    return int(text)


def read_state(path: Path) -> dict[str, torch.Tensor]:
    """The state dict stored in one checkpoint file, read as data."""
    if path.suffix == ".safetensors":
        return _read_safetensors(path)
    return _state_dict_of(_read_torch(path), path)


def _read_torch(path: Path):
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError as err:
        raise ConfigError(f"{path.name}: refused by torch.load(weights_only=True), which loads tensors and plain "
                          f"containers only and never runs code from a checkpoint ({_refusal_reason(err)})") from None
    except RuntimeError as err:
        if "mmap" in str(err):  # saved in the legacy (non-zip) format, which cannot be memory-mapped
            try:
                return torch.load(path, map_location="cpu", weights_only=True)
            except Exception as again:
                err = again
        raise ConfigError(f"{path.name}: not a readable PyTorch checkpoint ({_first_line(err)})") from None
    except Exception as err:  # EOFError, OSError, ValueError, zipfile errors: a damaged file
        raise ConfigError(f"{path.name}: not a readable PyTorch checkpoint ({_first_line(err)})") from None


def _read_safetensors(path: Path) -> dict[str, torch.Tensor]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            return {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as err:  # SafetensorError, OSError: a damaged or foreign file
        raise ConfigError(f"{path.name}: not a readable safetensors file ({_first_line(err)})") from None


def _state_dict_of(loaded, path: Path) -> dict[str, torch.Tensor]:
    if _is_state_dict(loaded):
        return loaded
    if isinstance(loaded, dict):
        nested = [key for key in NESTED_KEYS if _is_state_dict(loaded.get(key))]
        if len(nested) == 1:
            return loaded[nested[0]]
    raise ConfigError(f"{path.name} holds a {type(loaded).__name__}, not a state dict (a dict of tensors, or "
                      f"one under {' / '.join(repr(k) for k in NESTED_KEYS)})")


def _is_state_dict(value) -> bool:
    return (isinstance(value, dict) and len(value) > 0
            and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items()))


def _refusal_reason(err: BaseException) -> str:
    """The line of torch's weights-only refusal that names what was refused (e.g. "Unsupported global: ...")."""
    for line in str(err).splitlines():
        if "WeightsUnpickler error:" in line:
            return line.split("WeightsUnpickler error:", 1)[1].strip().split(". ")[0]
    return _first_line(err)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__


class StateChecker:
    """Turns state dicts into flat parameter vectors of one model, refusing any that does not fit it.

    Parameters are taken in `named_parameters()` order (the run file's layout); buffers must equal the
    constructed model's, because a run file stores parameters only.
    """

    def __init__(self, model: torch.nn.Module, description: str):
        self.description = description
        self.params = dict(model.named_parameters())
        self.expected = model.state_dict()  # parameters, persistent buffers, and aliases of tied weights
        pointers = {p.data_ptr() for p in self.params.values()}
        self.buffers = {k: v for k, v in self.expected.items() if k not in self.params and v.data_ptr() not in pointers}
        self.dtype: torch.dtype | None = None
        self.first: Path | None = None

    def flat(self, state: dict[str, torch.Tensor], path: Path) -> np.ndarray:
        problem = self._mismatch(state)
        if problem:
            if self.first is None:
                raise ConfigError(f"{path.name} does not fit the model {self.description}: {problem}")
            raise ConfigError(f"{path.name}: architecture differs from the earlier checkpoints "
                              f"(first {self.first.name}, which fits {self.description}): {problem}")
        dtypes = {state[name].dtype for name in self.params}
        if len(dtypes) != 1 or not dtypes <= {torch.float32, torch.float64}:
            raise ConfigError(f"{path.name}: parameters are {sorted(str(d) for d in dtypes)}; import reads "
                              f"float32 or float64 checkpoints")
        dtype = dtypes.pop()
        if self.dtype is None:
            self.dtype, self.first = dtype, path
        elif dtype != self.dtype:
            raise ConfigError(f"{path.name}: parameters are {dtype}, those of {self.first.name} {self.dtype}")
        self._check_buffers(state, path)
        return torch.cat([state[name].detach().reshape(-1) for name in self.params]).numpy()

    def _mismatch(self, state: dict[str, torch.Tensor]) -> str | None:
        missing = [k for k in self.expected if k not in state]
        unexpected = [k for k in state if k not in self.expected]
        if missing or unexpected:
            parts = [f"missing keys {_names(missing)}" if missing else "",
                     f"unexpected keys {_names(unexpected)}" if unexpected else ""]
            return "; ".join(p for p in parts if p)
        for key, ref in self.expected.items():
            if tuple(state[key].shape) != tuple(ref.shape):
                return f"{key} has shape {tuple(state[key].shape)}, the model's is {tuple(ref.shape)}"
        return None

    def _check_buffers(self, state: dict[str, torch.Tensor], path: Path) -> None:
        """Buffers as the constructor makes them (to float32 rounding: it may compute them in float32 and
        the model then be cast), since the analyzer rebuilds them that way."""
        for key, ref in self.buffers.items():
            value = state[key]
            same = (torch.allclose(value.to(ref.dtype), ref, rtol=1e-6, atol=0.0) if ref.is_floating_point()
                    else torch.equal(value, ref))
            if not same:
                raise ConfigError(f"{path.name}: buffer {key} differs from the one {self.description} builds; a run "
                                  f"file stores parameters only, so the analyzer could not rebuild this model")


def _names(keys: list[str]) -> str:
    return ", ".join(keys[:5]) + (f" (+{len(keys) - 5} more)" if len(keys) > 5 else "")
