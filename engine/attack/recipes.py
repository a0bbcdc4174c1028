"""The recipes: named attacks with their settings, registered as the model architectures are.

A recipe is (goal, constraints, transformation, search) put together by its module: embedding
attacks in engine.attack.embedding, HotFlip, word substitution and character edits in
engine.attack.discrete. Each registers a Recipe: its settings are a dataclass whose fields carry
their help and bounds (setting(...)), checked with the reason when a call gives them, and its
attack takes a chunk of examples (one for a discrete search; many for the embedding attacks,
which batch the examples in one forward pass) and returns one Outcome each.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

from engine import protocol as P
from engine.attack.goal import GoalFunction
from engine.attack.victim import Victim
from engine.core.errors import EngineError

MODULES = ("engine.attack.embedding", "engine.attack.discrete")  # where recipes register


@dataclass(frozen=True)
class Example:
    """One example to attack: its row in the split (-1: given in the call), text and class id
    (the ground truth; or the model's own prediction when the call gave no labels)."""

    row: int
    text: str
    label: int


@dataclass
class Outcome:
    """What a recipe made of one example: the perturbed text (the original when it found
    nothing), and for embedding attacks whether the vectors reached the goal, their norm and
    the steps (when traced). The service runs the model again on the text to judge it."""

    perturbed_text: str
    note: str = ""
    embedding_flipped: bool | None = None
    perturbation_norm: float | None = None
    steps: list[P.AttackStep] = field(default_factory=list)


Attack = Callable[[Victim, list[GoalFunction], list[Example], Any, bool], list[Outcome]]


@dataclass(frozen=True)
class Recipe:
    name: str
    kind: P.RecipeKind
    title: str
    description: str
    settings: type  # a dataclass of setting(...) fields, with an optional check(self)
    attack: Attack  # (victim, goals, examples, settings, trace) -> outcomes
    needs_gradients: bool
    default_budget: int = 0  # queries per example when the call gives no budget (0: none)
    chunk: int = 1  # examples per attack call


_RECIPES: dict[str, Recipe] = {}


def setting(
    default: Any,
    help: str,
    low: float | None = None,
    high: float | None = None,
    choices: tuple[str, ...] = (),
) -> Any:
    """A settings dataclass field with its help and bounds."""
    return field(
        default=default, metadata={"help": help, "low": low, "high": high, "choices": choices}
    )


def register(recipe: Recipe) -> Recipe:
    _RECIPES[recipe.name] = recipe
    return recipe


def _load() -> None:
    for name in MODULES:
        importlib.import_module(name)


def all_recipes() -> list[Recipe]:
    _load()
    return list(_RECIPES.values())


def get(name: str) -> Recipe:
    _load()
    if name not in _RECIPES:
        raise EngineError(
            f"there is no attack recipe '{name}'",
            hint="recipes: " + ", ".join(_RECIPES),
            code="not_found",
        )
    return _RECIPES[name]


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float"
    return "str"


def info(recipe: Recipe) -> P.RecipeInfo:
    fields = []
    for f in dataclasses.fields(recipe.settings):
        meta = f.metadata
        fields.append(
            P.RecipeSetting(
                name=f.name,
                type=_type_name(f.default),  # type: ignore[arg-type]
                default=f.default,
                help=meta.get("help", ""),
                low=meta.get("low"),
                high=meta.get("high"),
                choices=list(meta.get("choices", ())),
            )
        )
    return P.RecipeInfo(
        name=recipe.name,
        kind=recipe.kind,
        title=recipe.title,
        description=recipe.description,
        settings=fields,
        needs_gradients=recipe.needs_gradients,
    )


def settings_of(recipe: Recipe, given: Mapping[str, Any]) -> Any:
    """The recipe's settings with the given ones in place, each checked: EngineError naming
    the setting, the value and what it may be."""
    known = {f.name: f for f in dataclasses.fields(recipe.settings)}
    unknown = [k for k in given if k not in known]
    if unknown:
        raise EngineError(
            f"{recipe.name} has no setting '{unknown[0]}'",
            hint=f"{recipe.name}'s settings: " + ", ".join(known),
        )
    values = {}
    for name, f in known.items():
        value = given.get(name, f.default)
        kind = _type_name(f.default)
        meta = f.metadata
        if kind == "float" and isinstance(value, int) and not isinstance(value, bool):
            value = float(value)
        if _type_name(value) != kind:
            raise EngineError(
                f"{recipe.name}'s {name} must be a {kind}, got {str(value)[:40]!r}",
                hint=meta.get("help", ""),
            )
        if kind in ("int", "float"):
            if value != value or value in (float("inf"), float("-inf")):  # NaN, infinity
                raise EngineError(f"{recipe.name}'s {name} must be a finite number, got {value}")
            low, high = meta.get("low"), meta.get("high")
            if (low is not None and value < low) or (high is not None and value > high):
                raise EngineError(
                    f"{recipe.name}'s {name} must be from {low:g} to {high:g}, got {value:g}",
                    hint=meta.get("help", ""),
                )
        choices = meta.get("choices", ())
        if choices and value not in choices:
            raise EngineError(
                f"{recipe.name}'s {name} must be one of {', '.join(choices)}, got {value!r}"
            )
        values[name] = value
    out = recipe.settings(**values)
    check = getattr(out, "check", None)
    if callable(check):
        check()
    return out


def settings_dict(settings: Any) -> dict[str, Any]:
    return dataclasses.asdict(settings)
