"""Settings dataclasses (a model's config, the training config) as values and as form fields.

`coerce` reads a value from TOML or JSON as a field's declared type, or says what was
expected; `specs` describes each field for a form (its kind, default, choices and one line of
help). Torch-free.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Iterable, Mapping
from typing import Any, Literal

from engine import protocol as P
from engine.core.errors import EngineError

Kind = Literal["int", "float", "bool", "str", "ints", "choice"]


def coerce(name: str, value: Any, hint: Any) -> Any:
    """value as the field's declared type, or EngineError saying what was expected. A whole
    float (2.0) is read as an int; an int as a float; a list as a tuple."""
    origin = typing.get_origin(hint)
    if origin is Literal:
        choices = typing.get_args(hint)
        if value not in choices:
            raise EngineError(
                f"{name} must be one of {', '.join(map(str, choices))}; got {value!r}"
            )
        return value
    if origin in (typing.Union, types.UnionType):
        errors = []
        for option in typing.get_args(hint):
            if option is type(None) and value is None:
                return None
            try:
                return coerce(name, value, option)
            except EngineError as e:
                errors.append(e)
        raise errors[0]
    if origin is tuple:
        item = typing.get_args(hint)[0]
        if not isinstance(value, list | tuple):
            raise EngineError(f"{name} must be a list, got {value!r}")
        return tuple(coerce(f"each of {name}", v, item) for v in value)
    if hint is bool:
        if not isinstance(value, bool):
            raise EngineError(f"{name} must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, bool) or not isinstance(value, int):
            raise EngineError(f"{name} must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise EngineError(f"{name} must be a number, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise EngineError(f"{name} must be text, got {value!r}")
        return value
    raise EngineError(f"{name} has a type the workbench cannot read: {hint!r}")


def coerce_all(config_class: type[Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """Every value coerced to its field's type (the keys must be fields of config_class)."""
    hints = typing.get_type_hints(config_class)
    return {key: coerce(key, value, hints[key]) for key, value in values.items()}


def type_problems(config: Any) -> list[str]:
    """What is wrong with the types of a config's current values (one message each)."""
    hints = typing.get_type_hints(type(config))
    out = []
    for f in dataclasses.fields(config):
        try:
            coerce(f.name, getattr(config, f.name), hints[f.name])
        except EngineError as exc:
            out.append(exc.message)
    return out


def specs(
    config_class: type[Any],
    help: Mapping[str, str],
    choices: Mapping[str, Iterable[str]] | None = None,
    skip: Iterable[str] = (),
) -> list[P.SettingSpec]:
    """A SettingSpec for each field of a config dataclass, from its type hints and defaults;
    choices names the str fields that take one of a list of values."""
    choices = choices or {}
    skip = set(skip)
    hints = typing.get_type_hints(config_class)
    defaults = config_class()
    out = []
    for f in dataclasses.fields(config_class):
        if f.name in skip:
            continue
        hint = hints[f.name]
        optional = False
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(hint) if a is not type(None)]
            optional = len(args) < len(typing.get_args(hint))
            hint = args[0]
        options: list[str] = []
        kind: Kind
        if typing.get_origin(hint) is Literal:
            kind, options = "choice", [str(c) for c in typing.get_args(hint)]
        elif f.name in choices:
            kind, options = "choice", list(choices[f.name])
        elif typing.get_origin(hint) is tuple:
            kind = "ints"
        elif hint is bool:
            kind = "bool"
        elif hint is int:
            kind = "int"
        elif hint is float:
            kind = "float"
        else:
            kind = "str"
        default = getattr(defaults, f.name)
        if isinstance(default, tuple):
            default = list(default)
        out.append(
            P.SettingSpec(
                name=f.name,
                kind=kind,
                default=default,
                choices=options,
                optional=optional,
                help=help.get(f.name, ""),
            )
        )
    return out
