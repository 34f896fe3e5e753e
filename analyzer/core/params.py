"""Parameters of an analysis: `param(...)` declares a field once (default, help, limits, CLI flag); `validate`
checks it.

Every Params dataclass builds its fields with `param` and calls `validate(self)` in `__post_init__`; the CLI
options, their help and their defaults are generated from the same declarations (analyzer/cli/generated.py),
and a bad value raises BadInputError("<analysis>: <field> must be ..., got ...") naming the field.
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Sequence

import numpy as np

from analyzer.errors import BadInputError

META_KEY = "analyzer"  # the dataclass field metadata key holding a field's declaration


@dataclasses.dataclass(frozen=True)
class ParamSpec:
    """What `param` records about one field: its help and the values it accepts."""

    help: str
    choices: tuple | None = None
    minimum: float | None = None  # value >= minimum
    above: float | None = None  # value > above
    maximum: float | None = None  # value <= maximum
    below: float | None = None  # value < below
    odd: bool = False  # an odd integer, or 0 where `minimum` allows it (0 often means "off")
    cli: str | None = None  # the CLI flag without dashes, default the field name with hyphens

    @property
    def validated(self) -> bool:
        return any(v is not None for v in (self.choices, self.minimum, self.above, self.maximum, self.below)) \
            or self.odd


def param(default: Any, help: str, *, choices: Sequence | None = None, minimum: float | None = None,
          above: float | None = None, maximum: float | None = None, below: float | None = None,
          odd: bool = False, cli: str | None = None) -> Any:
    """A dataclass field with its documentation and limits (tuples: `default` is used as is, frozen)."""
    spec = ParamSpec(help=help, choices=None if choices is None else tuple(choices), minimum=minimum, above=above,
                     maximum=maximum, below=below, odd=odd, cli=cli)
    return dataclasses.field(default=default, metadata={META_KEY: spec})


def spec_of(field: dataclasses.Field) -> ParamSpec:
    """A field's declaration; a plain field (no `param`) has only an empty help."""
    return field.metadata.get(META_KEY) or ParamSpec(help="")


def analysis_name(params: Any) -> str:
    """The analysis a Params class belongs to, for messages: its `analysis` class attribute, else its class name."""
    cls = params if isinstance(params, type) else type(params)
    return getattr(cls, "analysis", None) or cls.__name__.removesuffix("Params").lower()


def fail(params: Any, field: str, what: str, value: Any) -> None:
    """Raise the one-line error of a bad field value."""
    raise BadInputError(f"{analysis_name(params)}: {field} must be {what}, got {value!r}")


def validate(params: Any) -> None:
    """Check every `param` field of a Params instance against its declared type, choices and limits."""
    hints = _field_types(type(params))
    for field in dataclasses.fields(params):
        spec = spec_of(field)
        value = getattr(params, field.name)
        kind = hints.get(field.name)
        if kind in (int, float):
            _check_number(params, field.name, value, kind)
        if spec.choices is not None and value not in spec.choices:
            fail(params, field.name, f"one of {', '.join(map(str, spec.choices))}", value)
        _check_limits(params, field.name, value, spec)


def _field_types(cls: type) -> dict[str, Any]:
    """int / float / str / other per field, from the (string) annotations `from __future__` leaves."""
    out = {}
    for field in dataclasses.fields(cls):
        text = field.type if isinstance(field.type, str) else getattr(field.type, "__name__", str(field.type))
        out[field.name] = {"int": int, "float": float, "str": str, "bool": bool}.get(text, text)
    return out


def _check_number(params: Any, name: str, value: Any, kind: type) -> None:
    is_int = isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))
    if kind is int and not is_int:
        fail(params, name, "an integer", value)
    if kind is float and not (is_int or isinstance(value, (float, np.floating))):
        fail(params, name, "a number", value)
    if kind is float and not math.isfinite(float(value)):
        fail(params, name, "a finite number", value)


def _check_limits(params: Any, name: str, value: Any, spec: ParamSpec) -> None:
    if spec.odd and value != 0 and value % 2 != 1:  # 0 passes here; `minimum` decides whether it is allowed
        fail(params, name, _limits_text(spec), value)
    if spec.minimum is not None and not value >= spec.minimum:
        fail(params, name, _limits_text(spec), value)
    if spec.above is not None and not value > spec.above:
        fail(params, name, _limits_text(spec), value)
    if spec.maximum is not None and not value <= spec.maximum:
        fail(params, name, _limits_text(spec), value)
    if spec.below is not None and not value < spec.below:
        fail(params, name, _limits_text(spec), value)


def _limits_text(spec: ParamSpec) -> str:
    parts = [f">= {spec.minimum:g}" if spec.minimum is not None else "", f"> {spec.above:g}" if spec.above is not None
             else "", f"<= {spec.maximum:g}" if spec.maximum is not None else "",
             f"< {spec.below:g}" if spec.below is not None else ""]
    text = " and ".join(p for p in parts if p)
    if spec.odd and spec.minimum == 0:
        return "0 or an odd number"
    return f"an odd number {text}".strip() if spec.odd else text


def bad_value(params_cls: type, field: dataclasses.Field) -> Any:
    """A value the field's declaration refuses (for the contract test), or None if it refuses nothing."""
    spec = spec_of(field)
    if spec.choices is not None:
        return "no-such-choice"
    if spec.odd:
        low = max(int(math.ceil(spec.minimum)) if spec.minimum is not None else 2, 2)
        return low if low % 2 == 0 else low + 1
    if spec.minimum is not None:
        return spec.minimum - 1
    if spec.above is not None:
        return spec.above
    if spec.maximum is not None:
        return spec.maximum + 1
    if spec.below is not None:
        return spec.below
    return None
