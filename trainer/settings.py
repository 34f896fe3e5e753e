"""Declarations of the training settings: `setting(...)` states a config field's default, help and CLI flag once.

The config dataclasses (trainer/config.py) build their user-facing fields with `setting`; the options of
`train run`, `train sweep` and `train ensemble` and the sweep's grid axes are generated from these declarations
(trainer/cli/options.py, trainer/sweep/plan.py). A field built without `setting` (e.g. the model's input
width, which follows the target) is no option.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable, Iterable

META_KEY = "trainer"  # the dataclass field metadata key holding a field's declaration
PARTS = ("target", "model")  # the TrainConfig fields that are themselves dataclasses of settings


@dataclasses.dataclass(frozen=True)
class SettingSpec:
    """What `setting` records about one field."""

    help: str  # the `train run` help
    flag: str | None = None  # the CLI flag without dashes; default the field name with hyphens
    show_default: str | None = None  # the default the help states, where it is not the option's own
    sweep: str | None = None  # the `train sweep` help; None: not a sweep option
    grid: bool = True  # a sweep option whose comma list is a grid axis (False: one value for every run)
    sweep_default: str | None = None  # the default the sweep help states, where it differs from show_default
    ensemble: str | None = None  # the `train ensemble` help (one value for every member); None: no ensemble option


def setting(default: Any, help: str, *, flag: str | None = None, show_default: str | None = None,
            sweep: str | bool | None = None, grid: bool = True, sweep_default: str | None = None,
            ensemble: str | bool | None = None) -> Any:
    """A dataclass field with its CLI declaration; `sweep=True` (`ensemble=True`) gives `train sweep`
    (`train ensemble`) the same help as `train run`."""
    spec = SettingSpec(help=help, flag=flag, show_default=show_default,
                       sweep=help if sweep is True else (sweep or None), grid=grid,
                       sweep_default=sweep_default or show_default,
                       ensemble=help if ensemble is True else (ensemble or None))
    return dataclasses.field(default=default, metadata={META_KEY: spec})


@dataclasses.dataclass(frozen=True)
class Setting:
    """One declared field, located in the config: `part` is "run" (TrainConfig itself), "target" or "model"."""

    part: str
    attribute: str
    kind: str  # "int", "float", "str", "bool", or "floats" / "ints" for a tuple given as a comma list
    default: Any
    spec: SettingSpec

    @property
    def flag(self) -> str:
        return self.spec.flag or self.attribute.replace("_", "-")

    @property
    def python_name(self) -> str:
        return self.flag.replace("-", "_")

    @property
    def parser(self) -> Callable[[str], Any]:
        """The parser of one value (of one element, for a tuple): int, float, str, or `yes_no` for a bool."""
        return {"int": int, "ints": int, "float": float, "floats": float, "bool": yes_no}.get(self.kind, str)


YES_NO = {"yes": True, "no": False, "true": True, "false": False, "1": True, "0": False}


def yes_no(text: str) -> bool:
    """A bool grid value (`--linearize no,yes`): yes/no, true/false or 1/0; ValueError otherwise (as bool("no") is
    True, `bool` cannot parse one)."""
    try:
        return YES_NO[str(text).strip().lower()]
    except KeyError:
        raise ValueError(f"not yes or no: {text!r}") from None


def field_kind(field: dataclasses.Field) -> str:
    """int / float / str / bool, or floats / ints for tuples, from the (string) annotation; `| None` dropped."""
    text = (field.type if isinstance(field.type, str) else getattr(field.type, "__name__", str(field.type)))
    text = text.replace(" ", "").removesuffix("|None")
    return {"tuple[float,...]": "floats", "tuple[int,...]": "ints"}.get(text, text)


def declared_settings(config_cls: type) -> dict[str, Setting]:
    """Every declared field of TrainConfig and of its target and model parts, by flag, in declaration order."""
    out: dict[str, Setting] = {}
    parts = [("run", config_cls)] + [(f.name, f.default_factory) for f in dataclasses.fields(config_cls)
                                     if f.name in PARTS]
    for part, cls in parts:
        for field in dataclasses.fields(cls):
            spec = field.metadata.get(META_KEY)
            if spec is None:
                continue
            item = Setting(part, field.name, field_kind(field), field.default, spec)
            if item.flag in out:
                raise RuntimeError(f"two settings declare the flag --{item.flag}")
            out[item.flag] = item
    return out


def ordered(settings: dict[str, Setting], order: Iterable[str]) -> list[Setting]:
    """The settings in the given order of flags, any not named there after them in declaration order."""
    order = [flag for flag in order if flag in settings]
    return [settings[flag] for flag in order] + [s for flag, s in settings.items() if flag not in order]
