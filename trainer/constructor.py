"""Models that are not ours: resolve "package.module:callable" and call it with JSON keyword arguments.

Importing the named module runs its code: that is what the user asked for when they named it (on
`train import --model`, or by writing a run with `RunWriter.for_model`); checkpoints themselves are
only ever read as data. Every failure is a `ConfigError` with a one-line reason, so the CLI and the
analyzer can refuse cleanly.
"""

from __future__ import annotations

import importlib
import json
from typing import Any, Callable

from trainer.errors import ConfigError


def parse_reference(reference: str) -> tuple[str, str]:
    """("package.module", "attr.path") from "package.module:attr.path"."""
    module, sep, attr = reference.partition(":")
    if not sep or not module or not attr or any(not part.isidentifier() for part in attr.split(".")):
        raise ConfigError(f"model constructor {reference!r} is not of the form package.module:callable")
    return module, attr


def resolve(reference: str) -> Callable[..., Any]:
    """The callable named by "package.module:callable" (a class or a function), imported."""
    module_name, attr = parse_reference(reference)
    try:
        target: Any = _import_module(module_name)
    except Exception as err:  # ImportError, or whatever the module raises while it is imported
        raise ConfigError(f"cannot import {module_name!r} for model constructor {reference!r}: "
                          f"{type(err).__name__}: {err}{_path_hint(module_name, err)}") from None
    for part in attr.split("."):
        if not hasattr(target, part):
            raise ConfigError(f"module {module_name!r} has no attribute {attr!r} (model constructor {reference!r})")
        target = getattr(target, part)
    if not callable(target):
        raise ConfigError(f"model constructor {reference!r} is not callable")
    return target


def _import_module(module_name: str):
    """Import a module by name; one in the current folder is found too, as `python -m` would (the `train` and
    `analyze` console scripts do not put the current folder on Python's path themselves)."""
    import sys
    from pathlib import Path

    try:
        return importlib.import_module(module_name)
    except ModuleNotFoundError as err:
        top = module_name.split(".")[0]
        here = Path.cwd()
        local = (here / f"{top}.py").is_file() or (here / top / "__init__.py").is_file()
        if err.name != top or not local or str(here) in sys.path:
            raise
        sys.path.append(str(here))
        return importlib.import_module(module_name)


def _path_hint(module_name: str, err: Exception) -> str:
    """Where the module is missing from Python's path: how to put its folder there (found near here, if it is)."""
    top = module_name.split(".")[0]
    if not isinstance(err, ModuleNotFoundError) or err.name not in (top, module_name):
        return ""
    from pathlib import Path

    here = Path.cwd()
    found = next((p for pattern in (f"{top}.py", f"*/{top}.py", f"*/*/{top}.py", f"{top}/__init__.py",
                                    f"*/{top}/__init__.py") for p in sorted(here.glob(pattern))), None)
    if found is not None:
        folder = (found.parent if found.name != "__init__.py" else found.parent.parent).resolve()
        return (f"; Python imports it from the folders on its path: found {found}, so run from {folder} or set "
                f"PYTHONPATH={folder}")
    return (f"; Python imports it from the folders on its path: run from the folder that holds {top}.py (or the "
            f"package {top}/), or set PYTHONPATH=DIR to that folder")


def call(reference: str, kwargs: dict[str, Any] | None):
    """Build the model: `resolve(reference)(**kwargs)`, which must return an `nn.Module` with parameters."""
    from torch import nn

    build = resolve(reference)
    try:
        model = build(**(kwargs or {}))
    except Exception as err:
        raise ConfigError(f"model constructor {reference}(**{json.dumps(kwargs or {})}) failed: "
                          f"{type(err).__name__}: {err}") from None
    if not isinstance(model, nn.Module):
        raise ConfigError(f"model constructor {reference!r} returned {type(model).__name__}, not a torch nn.Module")
    if not any(True for _ in model.parameters()):
        raise ConfigError(f"model built by {reference!r} has no parameters")
    return model


def parse_kwargs(text: str | None) -> dict[str, Any]:
    """Keyword arguments from a JSON object (the `--model-kwargs` option); stored as given in the run file."""
    if text is None or text.strip() == "":
        return {}
    try:
        value = json.loads(text)
    except json.JSONDecodeError as err:
        raise ConfigError(f"--model-kwargs is not valid JSON ({err.msg} at character {err.pos})") from None
    if not isinstance(value, dict):
        raise ConfigError(f"--model-kwargs must be a JSON object like '{{\"width\": 64}}', got {text!r}")
    return value


def reference_of(model) -> str:
    """"module:QualifiedName" of a model's class, refused where no later process could import it."""
    cls = type(model)
    if cls.__module__ == "__main__" or "<locals>" in cls.__qualname__:
        raise ConfigError(f"the model class {cls.__qualname__} is defined in a script or function, so the analyzer "
                          f"cannot import it; define it in an importable module, or pass constructor='module:callable'")
    return f"{cls.__module__}:{cls.__qualname__}"
