"""The app's link to its engine: connect, watch, reconnect, and hold what it says.

Events update plain state in place (jobs, device, counters); the status bar reads that state on
a timer, so a flood of events never causes a redraw. Every event type may have any number of
subscribers (`subscribe(P.RunMetrics, fn)`); each gets the events of its type as they arrive.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

from engine import protocol as P
from workbench.engine.client import EngineClient, EngineError
from workbench.engine.endpoint import Endpoint

R = TypeVar("R")
E = TypeVar("E")
LinkStatus = Literal["starting", "connected", "reconnecting", "failed", "stopped"]
STOPPED = "engine stopped"  # the goodbye of an engine stopped on purpose (workbench engine stop)


def on_other_machine(welcome: P.Welcome, here: str | None = None) -> bool:
    """Whether the engine that sent welcome runs on another machine than here (this machine's
    host name): then the paths of its calls mean that machine, not this one."""
    here = socket.gethostname() if here is None else here
    return bool(welcome.host) and welcome.host != here


@dataclass
class LinkState:
    status: LinkStatus = "starting"
    message: str = "starting engine"
    session_id: str = ""
    engine_pid: int = 0
    restarts: int = 0  # times the engine came back with a new session
    restarted_at: float = 0.0
    device: P.DeviceInfo | None = None
    host: str = ""  # the engine's machine, as its Welcome names it
    remote: bool = False  # that machine is not this one
    capabilities: list[str] = field(default_factory=list)
    jobs: dict[str, P.JobInfo] = field(default_factory=dict)
    events: int = 0
    dropped: int = 0


class EngineLink:
    """Keeps one EngineClient connected for the app's whole life."""

    def __init__(
        self,
        endpoint: Endpoint,
        on_ready: Callable[[bool], None],
        on_lost: Callable[[str], None],
        on_stopped: Callable[[], None] = lambda: None,
    ) -> None:
        self.endpoint = endpoint
        self.state = LinkState()
        self.client = EngineClient(endpoint, name="tui", on_disconnect=self._on_disconnect)
        self.client.subscribe(self._on_events)
        self._on_ready = on_ready
        self._on_lost = on_lost
        self._on_stopped = on_stopped
        self._lost = asyncio.Event()
        self._start = asyncio.Event()  # the user asked to start a stopped engine
        self._subscribers: dict[type, list[Callable[[Any], None]]] = {}

    def subscribe(self, kind: type[E], callback: Callable[[E], None]) -> Callable[[], None]:
        """Call callback with every event of this type; returns the call that unsubscribes."""
        found = self._subscribers.setdefault(kind, [])
        found.append(callback)
        return lambda: found.remove(callback) if callback in found else None

    def start_engine(self) -> None:
        """Start the engine again after it was stopped on purpose."""
        self._start.set()

    async def _while_stopped(self) -> None:
        """An engine stopped on purpose is not started behind the user's back: wait until
        they ask (start_engine) or another client starts one (checked each second)."""
        self.state.status = "stopped"
        self.state.message = "the engine was stopped"
        self._start.clear()
        self._on_stopped()
        while not self._start.is_set():
            try:
                await asyncio.wait_for(self._start.wait(), timeout=1.0)
            except TimeoutError:
                try:
                    await self.client.connect(start=False, timeout=2)
                    return
                except EngineError:
                    continue
        self.state.status = "starting"
        self.state.message = "starting engine"

    async def run(self) -> None:
        """Connect, and reconnect (starting a new local engine) whenever the link drops,
        unless the engine was stopped on purpose (then the user decides)."""
        delay = 0.1
        while True:
            try:
                if not self.client.connected:
                    await self.client.connect(start=True, timeout=60)
                welcome = self.client.welcome
                assert welcome is not None
            except EngineError as exc:
                # an engine reached through a forward (ssh) comes back when the link does:
                # after a first connection that is a reconnect, not a failure
                away = bool(self.state.session_id) and not self.endpoint.spawns
                self.state.status = "reconnecting" if away else "failed"
                self.state.message = str(exc)
                await asyncio.sleep(min(delay, 5.0))
                delay *= 2
                continue
            delay = 0.1
            restarted = bool(self.state.session_id) and welcome.session_id != self.state.session_id
            if restarted:
                self.state.restarts += 1
                self.state.restarted_at = time.time()
                self.state.jobs.clear()
            self.state.session_id = welcome.session_id
            self.state.engine_pid = welcome.pid
            self.state.host = welcome.host
            self.state.remote = on_other_machine(welcome)
            self.state.capabilities = list(welcome.capabilities)
            self.state.status = "connected"
            self.state.message = "engine restarted" if restarted else "connected"
            self._lost.clear()
            try:  # jobs that were running before we attached
                jobs = await self.client.ask(P.Jobs(), timeout=10)
                for job in jobs.jobs:
                    self.state.jobs[job.job_id] = job
            except EngineError:
                pass
            self._on_ready(restarted)
            await self._lost.wait()
            if self.state.message == STOPPED:
                await self._while_stopped()
                continue
            self.state.status = "reconnecting"
            await asyncio.sleep(0.2)

    def _on_disconnect(self, reason: str) -> None:
        self.state.status = "reconnecting"
        self.state.message = reason
        self._lost.set()
        self._on_lost(reason)

    def _on_events(self, events: list[P.Event], dropped: int) -> None:
        state = self.state
        state.events += len(events)
        state.dropped += dropped
        subscribers = self._subscribers
        for ev in events:
            if isinstance(ev, P.JobProgress | P.JobEnded):
                state.jobs[ev.job.job_id] = ev.job
            elif isinstance(ev, P.DeviceUpdate):
                state.device = ev.device
            for callback in subscribers.get(type(ev), ()):
                callback(ev)

    async def ask(self, call: P.Returns[R], timeout: float | None = 120.0) -> R:
        """The call's one result (EngineError when the engine refuses it)."""
        return await self.client.ask(call, timeout)

    def active_jobs(self) -> list[P.JobInfo]:
        return [j for j in self.state.jobs.values() if j.state in ("queued", "running")]
