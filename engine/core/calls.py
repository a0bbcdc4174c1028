"""The call table: each domain declares its handlers and where they run.

    calls: CallTable[DatasetService] = CallTable("datasets")

    @calls.on(P.DatasetRows, run="pool")
    def rows(datasets: DatasetService, call: P.DatasetRows) -> P.RowsPage:
        return datasets.get(call.name).rows(call)

A handler gets its own domain's service and the call, nothing else, and returns the call's
declared result. Where it runs is declared, never hand-written:
- "loop": on the event loop, inline; only for work that cannot block (a dict lookup).
- "pool": in the engine's query pool, so the loop keeps answering meanwhile.
- a job (`@calls.job`): the handler runs in the pool, checks the call (a bad name is refused
  at once, before any job exists) and returns the work; the server starts it as a job on its
  lane and replies JobStarted; the job ends with the call's declared job result.
Declaring a call twice is an error, in one table or across tables (Dispatch.mount).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Generic, Literal, TypeVar

from engine import protocol as P

if TYPE_CHECKING:
    from engine.core.jobs import Job, Lane

S = TypeVar("S")
F = TypeVar("F", bound=Callable[..., Any])
Where = Literal["loop", "pool", "job"]
JobWork = Callable[["Job"], "P.Result | None"]  # what a job handler returns: the job's body


class RegistrationError(Exception):
    """A call declared twice, or declared with the wrong kind of handler."""


@dataclass(frozen=True)
class Handler:
    """One declared handler: fn(service, call)."""

    call: type
    fn: Callable[[Any, Any], Any]
    run: Where
    domain: str
    lane: Lane = "io"
    kind: str = ""  # the job's kind (jobs only)
    title: Callable[[Any], str] | None = None  # the job's title from the call (jobs only)


class CallTable(Generic[S]):
    """The handlers of one domain, each taking that domain's service S."""

    def __init__(self, domain: str) -> None:
        self.domain = domain
        self.handlers: dict[type, Handler] = {}

    def _add(self, handler: Handler) -> None:
        if handler.call in self.handlers:
            raise RegistrationError(f"{handler.call.__name__} has two handlers in {self.domain}")
        self.handlers[handler.call] = handler

    def on(
        self, call: type[P.Returns[Any]], run: Literal["loop", "pool"] = "pool"
    ) -> Callable[[F], F]:
        """Declare fn(service, call) -> result as the handler of call."""
        if P.job_result_type(call) is not None:
            raise RegistrationError(f"{call.__name__} starts a job: declare it with calls.job")

        def declare(fn: F) -> F:
            self._add(Handler(call, fn, run, self.domain))
            return fn

        return declare

    def job(
        self,
        call: type[P.StartsJob[Any]],
        kind: str,
        title: Callable[[Any], str],
        lane: Lane = "io",
    ) -> Callable[[F], F]:
        """Declare fn(service, call) -> JobWork: fn checks the call in the pool and returns
        the job's body, which the server runs on lane as a job of this kind and title."""
        if P.job_result_type(call) is None:
            raise RegistrationError(f"{call.__name__} is not a job call: declare it with calls.on")

        def declare(fn: F) -> F:
            self._add(Handler(call, fn, "job", self.domain, lane, kind, title))
            return fn

        return declare


@dataclass(frozen=True)
class Bound:
    """A handler with the service it is given."""

    handler: Handler
    service: Any


class Dispatch:
    """Every domain's table bound to its service: what the server answers calls with."""

    def __init__(self) -> None:
        self.bound: dict[type, Bound] = {}

    def mount(self, table: CallTable[S], service: S) -> None:
        for call, handler in table.handlers.items():
            if call in self.bound:
                other = self.bound[call].handler.domain
                raise RegistrationError(
                    f"{call.__name__} has handlers in both {other} and {table.domain}"
                )
            self.bound[call] = Bound(handler, service)

    def get(self, call: type) -> Bound | None:
        return self.bound.get(call)

    def domains(self) -> list[str]:
        """The domains with a mounted call (attack, datasets, ...), sorted."""
        return sorted({b.handler.domain for b in self.bound.values()})
