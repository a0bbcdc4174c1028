"""The app's link to its engine: connect, watch, reconnect, and hold what it says.

Events update plain state in place (jobs, device, counters); the status bar
reads that state on a timer, so a flood of events never causes a redraw.
Only rare events (a job ending, a dataset changing) are passed on, through
signals that screens subscribe to.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Literal, TypeVar

from engine import protocol as P
from engine.paths import Home
from workbench.client import EngineClient, EngineError

R = TypeVar("R")
LinkStatus = Literal["starting", "connected", "reconnecting", "failed"]


@dataclass
class LinkState:
    status: LinkStatus = "starting"
    message: str = "starting engine"
    session_id: str = ""
    engine_pid: int = 0
    restarts: int = 0  # times the engine came back with a new session
    restarted_at: float = 0.0
    device: P.DeviceInfo | None = None
    jobs: dict[str, P.JobInfo] = field(default_factory=dict)
    events: int = 0
    dropped: int = 0


class EngineLink:
    """Keeps one EngineClient connected for the app's whole life."""

    def __init__(
        self,
        home: Home,
        on_ready: Callable[[bool], None],
        on_event: Callable[[P.Event], None],
        on_lost: Callable[[str], None],
    ) -> None:
        self.home = home
        self.state = LinkState()
        self.client = EngineClient(home, name="tui")
        self.client.on_events = self._on_events
        self.client.on_disconnect = self._on_disconnect
        self._on_ready = on_ready
        self._on_event = on_event
        self._on_lost = on_lost
        self._lost = asyncio.Event()
        # live metric points go to one handler in batches (the monitor), never per point
        self.on_run_metrics: Callable[[list[P.MetricPoint]], None] | None = None

    async def run(self) -> None:
        """Connect, and reconnect (starting a new engine) whenever the link drops."""
        delay = 0.1
        while True:
            try:
                welcome = await self.client.connect(start=True, timeout=60)
            except EngineError as exc:
                self.state.status = "failed"
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
            self.state.status = "connected"
            self.state.message = "engine restarted" if restarted else "connected"
            self._lost.clear()
            try:  # jobs that were running before we attached
                jobs = await self.client.request(P.Jobs(), P.JobList, timeout=10)
                for job in jobs.jobs:
                    self.state.jobs[job.job_id] = job
            except EngineError:
                pass
            self._on_ready(restarted)
            await self._lost.wait()
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
        for ev in events:
            if isinstance(ev, P.JobLog):
                continue
            if isinstance(ev, P.RunMetrics):
                if self.on_run_metrics is not None:
                    self.on_run_metrics(ev.points)
                continue
            if isinstance(ev, P.JobProgress):
                state.jobs[ev.job.job_id] = ev.job
            elif isinstance(ev, P.DeviceUpdate):
                state.device = ev.device
            elif isinstance(ev, P.JobEnded):
                state.jobs[ev.job.job_id] = ev.job
                self._on_event(ev)
            else:
                self._on_event(ev)

    async def call(self, call: P.Call, timeout: float | None = 120.0) -> P.Result:
        return await self.client.call(call, timeout)

    async def request(self, call: P.Call, expect: type[R], timeout: float | None = 120.0) -> R:
        return await self.client.request(call, expect, timeout)

    def active_jobs(self) -> list[P.JobInfo]:
        return [j for j in self.state.jobs.values() if j.state in ("queued", "running")]
