"""One checkpoint file read as data: torch.load(weights_only=True) or safetensors, and the state dict found in it.

A `.pt` / `.pth` / `.bin` / `.ckpt` file is read with `torch.load(weights_only=True, mmap=True)`: tensors and
plain containers only, so a pickle that would run code is refused, and the tensors stay memory-mapped until
copied. Checkpoints of training frameworks often hold, beside the weights, objects of other classes (PyTorch
Lightning's hyper-parameters and callback states, an `argparse.Namespace` of the run's options). weights_only
refuses those; such a file is read again with each of those classes replaced by `NotLoaded`, which makes an
empty placeholder and never imports, constructs or calls the class (the modules torch always blocks, os and
sys, stay refused). The weights are used only when the state dict contains no placeholder.
"""

from __future__ import annotations

import pickle
from collections import OrderedDict
from dataclasses import dataclass
from pathlib import Path

import torch

from trainer.errors import ConfigError

NESTED_KEYS = ("state_dict", "model_state_dict", "model")  # {"state_dict": ..., "optimizer_states": ...} layouts
LIGHTNING_MARK = "pytorch-lightning_version"  # a key every Lightning checkpoint holds


class NotLoaded:
    """Stands in for a class weights_only refuses: 'constructing' it gives an empty OrderedDict (which the
    weights-only unpickler lets items and attributes be set on), and nothing of the real class runs."""

    def __new__(cls, *args, **kwargs):
        return OrderedDict()


@dataclass(frozen=True)
class LoadedState:
    """A checkpoint's state dict and how it was found."""

    state: dict[str, torch.Tensor]
    nested_key: str | None = None  # the key the weights were under ("state_dict" in Lightning), None: top level
    global_step: int | None = None  # a `global_step` stored beside them (Lightning)
    lightning: bool = False
    not_loaded: tuple[str, ...] = ()  # classes left as placeholders (outside the weights)


def read_state(path: Path, name: str | None = None) -> dict[str, torch.Tensor]:
    """The state dict stored in one checkpoint file, read as data."""
    return load_state(path, name).state


def load_state(path: Path, name: str | None = None) -> LoadedState:
    """The state dict of one checkpoint file with how it was found; `name` is the file as messages show it."""
    name = name or path.name
    if path.suffix == ".safetensors":
        return LoadedState(_read_safetensors(path, name))
    loaded, not_loaded, refusal = _read_torch(path, name)
    found = _state_dict_of(loaded, name, refusal)
    return LoadedState(found[1], found[0], _global_step(loaded), isinstance(loaded, dict) and LIGHTNING_MARK in loaded,
                       not_loaded)


def _read_torch(path: Path, name: str):
    """(loaded object, classes left as placeholders, the weights_only refusal that made them needed or None)."""
    try:
        return _torch_load(path, name), (), None
    except pickle.UnpicklingError as err:
        refusal = f"{name}: refused by torch.load(weights_only=True), which loads tensors and plain containers " \
                  f"only and never runs code from a checkpoint ({_refusal_reason(err)})"
    classes = _refused_classes(path)
    if not classes:
        raise ConfigError(refusal) from None
    try:
        with torch.serialization.safe_globals([(NotLoaded, full_name) for full_name in classes]):
            return _torch_load(path, name), tuple(classes), refusal
    except (pickle.UnpicklingError, ConfigError):
        raise ConfigError(refusal) from None


def _torch_load(path: Path, name: str):
    try:
        return torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except pickle.UnpicklingError:
        raise
    except RuntimeError as err:
        if "mmap" in str(err):  # saved in the legacy (non-zip) format, which cannot be memory-mapped
            try:
                return torch.load(path, map_location="cpu", weights_only=True)
            except pickle.UnpicklingError:
                raise
            except Exception as again:
                err = again
        raise ConfigError(f"{name}: not a readable PyTorch checkpoint ({_first_line(err)})") from None
    except Exception as err:  # EOFError, OSError, ValueError, zipfile errors: a damaged file
        raise ConfigError(f"{name}: not a readable PyTorch checkpoint ({_first_line(err)})") from None


def _refused_classes(path: Path) -> list[str]:
    """The globals of a zip checkpoint's pickle that weights_only refuses, listed without unpickling anything."""
    try:
        return sorted(torch.serialization.get_unsafe_globals_in_checkpoint(str(path)))
    except Exception:  # a legacy (non-zip) file or a damaged one: no placeholders, the refusal stands
        return []


def _read_safetensors(path: Path, name: str) -> dict[str, torch.Tensor]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt", device="cpu") as handle:
            return {key: handle.get_tensor(key) for key in handle.keys()}
    except Exception as err:  # SafetensorError, OSError: a damaged or foreign file
        raise ConfigError(f"{name}: not a readable safetensors file ({_first_line(err)})") from None


def _state_dict_of(loaded, name: str, refusal: str | None) -> tuple[str | None, dict[str, torch.Tensor]]:
    """(the key the weights were under or None, the state dict); a placeholder among the weights is refused."""
    if is_state_dict(loaded):
        return None, loaded
    if isinstance(loaded, dict):
        nested = [key for key in NESTED_KEYS if is_state_dict(loaded.get(key))]
        if len(nested) == 1:
            return nested[0], loaded[nested[0]]
    if refusal is not None:  # the placeholders took the weights' place: the refusal is the reason
        raise ConfigError(refusal)
    raise ConfigError(f"{name} holds a {type(loaded).__name__}, not a state dict (a dict of tensors, or "
                      f"one under {' / '.join(repr(k) for k in NESTED_KEYS)})")


def is_state_dict(value) -> bool:
    return (isinstance(value, dict) and len(value) > 0
            and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items()))


def _global_step(loaded) -> int | None:
    step = loaded.get("global_step") if isinstance(loaded, dict) else None
    if isinstance(step, torch.Tensor) and step.numel() == 1:
        step = step.item()
    return int(step) if isinstance(step, int) and not isinstance(step, bool) and step >= 0 else None


def _refusal_reason(err: BaseException) -> str:
    """The line of torch's weights-only refusal that names what was refused (e.g. "Unsupported global: ...")."""
    for line in str(err).splitlines():
        if "WeightsUnpickler error:" in line:
            return line.split("WeightsUnpickler error:", 1)[1].strip().split(". ")[0]
    return _first_line(err)


def _first_line(err: BaseException) -> str:
    text = str(err).strip()
    return f"{type(err).__name__}: {text.splitlines()[0]}" if text else type(err).__name__
