"""The training options of `train run`, `train sweep` and `train ensemble`, generated from the settings declared in
trainer/config.py.

`train run` gets one option per declared setting (a value overrides the preset's); `train sweep` one per setting
declared with a sweep help (text: a comma list is a grid axis, trainer/sweep/plan.py parses it); `train ensemble`
one per setting declared with an ensemble help (one value for every member, as `train run` takes it). The order
of the options in the help is kept here; a new setting needs no line here (it comes after the listed ones).
"""

from __future__ import annotations

import inspect
from typing import Annotated, Callable, Optional

import typer

from trainer.config import TrainConfig
from trainer.settings import Setting, declared_settings, ordered

RUN_ORDER = ("seed", "epochs", "lr", "width", "depth", "activation", "init", "optimizer", "target", "input-dim",
             "degrees", "target-seed", "freqs", "amps", "phases", "n-train", "n-eval", "dtype", "device",
             "ckpt-every", "pred-every", "model", "features", "feature-decay", "init-scale", "perturb",
             "perturb-seed", "freeze-hidden", "linearize")
SWEEP_ORDER = ("lr", "epochs", "optimizer", "width", "depth", "activation", "init", "dtype", "n-train", "ckpt-every",
               "pred-every", "perturb", "linearize", "target", "input-dim", "degrees", "target-seed", "amps", "freqs")
ENSEMBLE_ORDER = ("epochs", "n-train", "dtype", "device", "linearize")
KEYWORD = inspect.Parameter.KEYWORD_ONLY


def run_settings() -> list[Setting]:
    return ordered(declared_settings(TrainConfig), RUN_ORDER)


def sweep_settings() -> list[Setting]:
    return [s for s in ordered(declared_settings(TrainConfig), SWEEP_ORDER) if s.spec.sweep is not None]


def ensemble_settings() -> list[Setting]:
    return [s for s in ordered(declared_settings(TrainConfig), ENSEMBLE_ORDER) if s.spec.ensemble is not None]


def run_option(item: Setting, help: str | None = None) -> inspect.Parameter:
    """The `train run` option of a setting (with another help: `train ensemble`'s): default None (the preset's
    value); a bool is an on-flag."""
    extra = {} if item.spec.show_default is None else {"show_default": item.spec.show_default}
    text = item.spec.help if help is None else help
    if item.kind == "bool":
        annotation = Annotated[bool, typer.Option(f"--{item.flag}", help=text, **extra)]
        return inspect.Parameter(item.python_name, KEYWORD, default=False, annotation=annotation)
    python_type = {"int": int, "float": float}.get(item.kind, str)  # tuples: comma-separated text
    annotation = Annotated[Optional[python_type], typer.Option(f"--{item.flag}", help=text, **extra)]
    return inspect.Parameter(item.python_name, KEYWORD, default=None, annotation=annotation)


def ensemble_option(item: Setting) -> inspect.Parameter:
    """The `train ensemble` option of a setting: `train run`'s, with the ensemble help."""
    return run_option(item, help=item.spec.ensemble)


def sweep_option(item: Setting) -> inspect.Parameter:
    """The `train sweep` option of a setting: text for a grid axis, else one value of the setting's type."""
    extra = {} if item.spec.sweep_default is None else {"show_default": item.spec.sweep_default}
    python_type = str if item.spec.grid else {"int": int, "float": float}.get(item.kind, str)
    annotation = Annotated[Optional[python_type], typer.Option(f"--{item.flag}", help=item.spec.sweep, **extra)]
    return inspect.Parameter(item.python_name, KEYWORD, default=None, annotation=annotation)


def sweep_option_annotation(flag: str):
    """The annotation of one sweep option (for commands that take it beside hand-written ones: `train ensemble`)."""
    return sweep_option(declared_settings(TrainConfig)[flag]).annotation


def with_options(fn: Callable, options: list[inspect.Parameter], trailing: tuple[str, ...] = ()) -> Callable:
    """`fn(**values)` presented to typer as a function of its own keyword parameters, then the generated
    options, then its parameters named in `trailing`."""
    own = [p for p in inspect.signature(fn, eval_str=True).parameters.values()
           if p.kind is not inspect.Parameter.VAR_KEYWORD]
    fn.__signature__ = inspect.Signature([p for p in own if p.name not in trailing] + options
                                         + [p for p in own if p.name in trailing])
    fn.__annotations__ = {}  # typer would resolve the string annotations again otherwise
    return fn
