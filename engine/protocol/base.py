"""What every message shares: the msgspec base, calls that name their result, errors, Ok.

Every call derives from `Returns[R]`: R is the one result type its reply carries, so a front
writes `await link.ask(P.DatasetRows(...))` and gets a `RowsPage` back, typed. A call that starts
long work derives from `StartsJob[J]`: its reply is `JobStarted`, and the job ends (a `JobEnded`
event) with a J. `result_type` and `job_result_type` read those declarations at run time; the
contract tests check every handler's reply against them. (`Call`, `Result` and `Event` are the
unions of every call, result and event, written out once in engine.protocol.)
"""

from __future__ import annotations

import functools
import typing
from typing import Any, Generic, TypeVar

import msgspec

R = TypeVar("R")
J = TypeVar("J")


class Base(msgspec.Struct, forbid_unknown_fields=False, omit_defaults=True):
    """Common base: unknown fields are ignored so minor additions stay compatible."""


class Returns(Base, Generic[R]):
    """A call to the engine whose one reply carries an R."""


class ErrorInfo(Base):
    """An error a person can act on: what went wrong and what to do about it."""

    code: str  # machine-readable: not_found, bad_input, exists, cancelled, internal, ...
    message: str
    hint: str = ""


def error(code: str, message: str, hint: str = "") -> ErrorInfo:
    return ErrorInfo(code=code, message=message, hint=hint)


class Ok(Base, tag="system.ok"):
    """Done; message says what was done."""

    message: str = ""


class JobStarted(Base, tag="jobs.started"):
    """The reply to a StartsJob call: the id its progress and end events carry."""

    job_id: str


class StartsJob(Returns[JobStarted], Generic[J]):
    """A call that starts a job: replies JobStarted at once; the job ends with a J."""


def _declared(cls: type, origin: type) -> type | None:
    """The type argument cls (or a class it derives from) gives origin: Returns[RowsPage]."""
    for klass in cls.__mro__:
        for base in klass.__dict__.get("__orig_bases__", ()):
            if typing.get_origin(base) is origin:
                arg = typing.get_args(base)[0]
                if isinstance(arg, type):
                    return arg
    return None


@functools.cache
def result_type(call: type[Returns[Any]]) -> type:
    """The result type a call's reply carries (JobStarted for a StartsJob)."""
    found = _declared(call, Returns)
    if found is None:
        raise TypeError(f"{call.__name__} does not declare its result: derive from Returns[R]")
    return found


@functools.cache
def job_result_type(call: type[Returns[Any]]) -> type | None:
    """The result a StartsJob call's job ends with; None for a call that is not a job."""
    return _declared(call, StartsJob)


class HistogramInfo(Base):
    """Counts of values in bins (text lengths in words, characters or tokens)."""

    edges: list[float]
    counts: list[int]
    unit: str  # "words", "characters" or "tokens"
    mean: float = 0.0
    median: float = 0.0
    max: float = 0.0
