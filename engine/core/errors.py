"""Errors a person can act on, cancellation, and the context long data jobs report to."""

from __future__ import annotations

from typing import Protocol, runtime_checkable


class EngineError(Exception):
    """A problem with the data or the request, said so that a person can fix it.

    code is one of: not_found, bad_input, exists, offline, empty.
    """

    def __init__(self, message: str, hint: str = "", code: str = "bad_input") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.code = code

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class Cancelled(Exception):
    """The job was cancelled; whatever it was writing must be thrown away."""


@runtime_checkable
class JobContext(Protocol):
    """What a long data job reports progress to and asks whether to stop."""

    def progress(self, done: float, total: float, message: str = "") -> None:
        """Report that `done` of `total` units of work are finished."""
        ...

    def check_cancelled(self) -> None:
        """Raise Cancelled if the job should stop now."""
        ...


class NullContext:
    """A JobContext that records nothing and never cancels (tests, sync callers)."""

    def progress(self, done: float, total: float, message: str = "") -> None:
        return None

    def check_cancelled(self) -> None:
        return None
