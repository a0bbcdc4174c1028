"""The model builder's form as plain values: parse what is typed, write and read the run TOML.

A form value lives under a key "section.setting" ("data.dataset", "model.embed_dim",
"train.lr") or "name". The TOML written here is the file `workbench train` takes.
"""

from __future__ import annotations

import re
import tomllib
from typing import Any

import tomli_w

from engine import protocol as P

DATA_KEYS = ("dataset", "tokenizer", "train_split", "validation_split", "max_length")
VECTOR_KEYS = ("vectors", "freeze_vectors")
NO_SPLIT = "(none)"


class FormError(ValueError):
    """What is wrong with a typed value, in words for the person typing."""


def parse_value(kind: str, text: str, optional: bool = False) -> Any:
    """The typed text as a setting of this kind; FormError saying what was expected."""
    text = text.strip()
    if not text:
        if optional:
            return None
        raise FormError("needs a value")
    if kind == "int":
        try:
            return int(text.replace("_", ""))
        except ValueError:
            try:
                number = float(text)
            except ValueError:
                number = float("nan")
            if number.is_integer():
                return int(number)
            raise FormError(f"'{text}' is not a whole number") from None
    if kind == "float":
        try:
            return float(text)
        except ValueError:
            raise FormError(f"'{text}' is not a number (e.g. 0.001 or 2e-3)") from None
    if kind == "ints":
        parts = [p for p in re.split(r"[,\s]+", text.strip("[]() ")) if p]
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise FormError("give whole numbers separated by commas, e.g. 3, 4, 5") from None
        if not values:
            raise FormError("give at least one number")
        return values
    return text


def format_value(value: Any) -> str:
    """A value as the form shows it in a text box."""
    if value is None:
        return ""
    if isinstance(value, list | tuple):
        return ", ".join(str(v) for v in value)
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def config_dict(
    values: dict[str, Any], arch: P.ArchitectureInfo, train: list[P.SettingSpec]
) -> dict[str, Any]:
    """The run configuration the form describes, as TOML-ready tables (empty values left out)."""
    data = {k: values.get(f"data.{k}") for k in DATA_KEYS}
    data["validation_split"] = data["validation_split"] or ""  # "": no validation
    model: dict[str, Any] = {"arch": arch.name}
    for s in arch.settings:
        value = values.get(f"model.{s.name}")
        if value is not None:
            model[s.name] = value
    if arch.takes_vectors and values.get("model.vectors"):
        model["vectors"] = values["model.vectors"]
        model["freeze_vectors"] = bool(values.get("model.freeze_vectors"))
    out: dict[str, Any] = {
        "name": values.get("name") or f"{arch.name}-{data['dataset']}",
        "data": {k: v for k, v in data.items() if v is not None},
        "model": model,
    }
    if arch.trained_by != "fit":
        out["train"] = {
            s.name: values[f"train.{s.name}"]
            for s in train
            if values.get(f"train.{s.name}") is not None
        }
    return out


def to_toml(config: dict[str, Any]) -> str:
    head = f"# {config['name']}. Run it: workbench train FILE.toml --follow\n"
    return head + tomli_w.dumps(config)


def read_toml(text: str) -> dict[str, Any]:
    """The tables of a run TOML; FormError saying where it is broken."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FormError(f"not valid TOML: {exc}") from None
    for section in ("data", "model", "train"):
        if not isinstance(data.get(section, {}), dict):
            raise FormError(f"[{section}] must be a table")
    return data


def values_from_config(
    data: dict[str, Any], schema: P.RunSchemaResult
) -> tuple[dict[str, Any], list[str]]:
    """Form values from a parsed run TOML, and the keys the form has no field for."""
    values: dict[str, Any] = {}
    ignored: list[str] = []
    if "name" in data:
        values["name"] = str(data["name"])
    for key, value in data.get("data", {}).items():
        if key in DATA_KEYS:
            values[f"data.{key}"] = value
        else:
            ignored.append(f"data.{key}")
    if "validation_split" in data.get("data", {}) and not data["data"]["validation_split"]:
        values["data.validation_split"] = None
    model = dict(data.get("model", {}))
    arch_name = str(model.pop("arch", ""))
    arch = next((a for a in schema.architectures if a.name == arch_name), None)
    if arch is None:
        raise FormError(
            f"unknown architecture {arch_name!r}" if arch_name else "the file has no model.arch",
        )
    values["model.arch"] = arch.name
    names = {s.name for s in arch.settings} | set(VECTOR_KEYS)
    for key, value in model.items():
        if key in names:
            values[f"model.{key}"] = value
        else:
            ignored.append(f"model.{key}")
    train_names = {s.name for s in schema.train}
    for key, value in data.get("train", {}).items():
        if key in train_names:
            values[f"train.{key}"] = value
        else:
            ignored.append(f"train.{key}")
    ignored += [k for k in data if k not in ("name", "data", "model", "train")]
    return values, ignored
