"""Bounds on what a request may ask for, so that no answer (and no work) grows without end:
each refused with the numbers and what to ask instead."""

from __future__ import annotations

from engine.core.errors import EngineError


def within(
    name: str, value: int | float, low: int | float, high: int | float, hint: str = ""
) -> None:
    """EngineError unless low <= value <= high."""
    if not low <= value <= high:
        raise EngineError(
            f"{name} must be from {low:,} to {high:,} (it is {value:,})",
            hint=hint or f"ask for {name} within those bounds",
            code="too_large" if value > high else "bad_input",
        )


def product(what: str, factors: dict[str, int], limit: int, hint: str) -> None:
    """EngineError when the product of factors (e.g. words x k) is over limit."""
    total = 1
    for value in factors.values():
        total *= max(int(value), 0)
    if total > limit:
        shown = " x ".join(f"{value:,} {name}" for name, value in factors.items())
        raise EngineError(
            f"{shown} would give {total:,} {what}; at most {limit:,} at a time",
            hint=hint,
            code="too_large",
        )
