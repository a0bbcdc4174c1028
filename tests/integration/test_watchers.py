"""Many watchers of one run: two app clients and a CLI `train --follow --json` receive the same
events in the same order; one detaching disturbs no other; a client that stops reading never
slows training nor the engine's answers to others, is told what it missed (EventBatch.dropped),
and its plot, completed from the store as the monitor completes it, equals the store's.

The engine runs with small per-client bounds (OUTBOX_LIMIT, WRITE_BUFFER_LIMIT) so that a
run of a few hundred steps overflows a client that stops reading; the fast clients read at once
and never come near them."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec
import pytest

from engine import protocol as P
from engine.paths import Home
from screens.training.model import RunHistory
from tests.helpers.engine import ROOT, RunningEngine, stop_engine
from tests.helpers.runs import TINY
from workbench.engine.client import EngineClient

STEPS = 300
OUTBOX_LIMIT = 16  # events held for a client that does not read, then the oldest are dropped
WRITE_BUFFER_LIMIT = 32 * 1024  # bytes written but unread before the outbox holds events back
SLOW_ASKS = 100  # requests the stalled client sends, so that unread replies fill its buffers

# the engine of `python -m engine`, with smaller bounds for each client
ENGINE = (
    "import sys; import engine.core.server as s; "
    f"s.OUTBOX_LIMIT = {OUTBOX_LIMIT}; s.WRITE_BUFFER_LIMIT = {WRITE_BUFFER_LIMIT}; "
    "from engine.__main__ import main; sys.exit(main(sys.argv[1:]))"
)

Point = tuple[str, int, float]  # series, step, value


async def _answers(home: Home) -> bool:
    probe = EngineClient(home, name="probe")
    try:
        await probe.connect(start=False, timeout=1)
        return True
    except Exception:
        return False
    finally:
        await probe.close()


@pytest.fixture
def small_engine(home: Home) -> Iterator[RunningEngine]:
    home.ensure()
    proc = subprocess.Popen(
        [sys.executable, "-c", ENGINE, "--home", home.root],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not asyncio.run(_answers(home)):
            assert proc.poll() is None, proc.stderr.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "the engine did not answer within 60 s"
            time.sleep(0.05)
        yield RunningEngine(home, proc)
    finally:
        stop_engine(proc)


@dataclass
class Watcher:
    """One client's view of the run: every event it was given, in order, and the drops."""

    client: EngineClient
    events: list[P.Event] = field(default_factory=list)
    dropped: int = 0
    batches_dropped: list[int] = field(default_factory=list)

    def on_events(self, events: list[P.Event], dropped: int) -> None:
        self.events.extend(events)
        self.dropped += dropped
        if dropped:
            self.batches_dropped.append(dropped)

    def points(self, run_id: str, start: int = 0) -> list[Point]:
        return [
            (p.series, p.step, p.value)
            for ev in self.events[start:]
            if isinstance(ev, P.RunMetrics)
            for p in ev.points
            if p.run_id == run_id
        ]

    def run_events(self, run_id: str) -> list[bytes]:
        """What it heard of the run, each event as the wire carries it."""
        return [
            msgspec.msgpack.encode(ev)
            for ev in self.events
            if (isinstance(ev, P.RunUpdate) and ev.run.run_id == run_id)
            or (isinstance(ev, P.RunEval | P.RunMetrics) and _run_of(ev) == run_id)
        ]

    def run_id(self) -> str:
        return next((ev.run.run_id for ev in self.events if isinstance(ev, P.RunUpdate)), "")

    def step(self, run_id: str) -> int:
        return max((s for name, s, _ in self.points(run_id) if name == "train_loss"), default=0)

    def final(self, run_id: str) -> P.RunInfo | None:
        ends = [
            ev.run
            for ev in self.events
            if isinstance(ev, P.RunUpdate)
            and ev.run.run_id == run_id
            and ev.run.state in ("finished", "failed", "stopped", "interrupted")
        ]
        return ends[-1] if ends else None


def _run_of(ev: P.RunEval | P.RunMetrics) -> str:
    return ev.run_id if isinstance(ev, P.RunEval) else ev.points[0].run_id if ev.points else ""


async def _watcher(home: Home, name: str) -> Watcher:
    client = EngineClient(home, name=name)
    await client.connect(start=False)
    w = Watcher(client)
    client.subscribe(w.on_events)
    return w


async def _until(what: str, ok: Callable[[], bool], timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not ok():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.02)


def _state(w: Watcher, run_id: str) -> str:
    states = [
        ev.run.state for ev in w.events if isinstance(ev, P.RunUpdate) and ev.run.run_id == run_id
    ]
    return states[-1] if states else ""


def _subsequence(part: list[Any], whole: list[Any]) -> bool:
    it = iter(whole)
    return all(any(x == y for y in it) for x in part)


def _plot(hist: RunHistory, run_id: str) -> dict[str, list[tuple[int, float]]]:
    return {name: list(pts) for name, pts in hist.series.get(run_id, {}).items() if pts}


def _stored(hist: P.RunHistory) -> dict[str, list[tuple[int, float]]]:
    return {name: [(s, v) for s, v in pts] for name, pts in hist.series.items() if pts}


async def test_many_watchers_of_one_run(small_engine: RunningEngine, tmp_path: Path) -> None:
    home = small_engine.home
    a = await _watcher(home, "app-a")
    b = await _watcher(home, "app-b")
    slow = await _watcher(home, "app-slow")
    writer = slow.client._writer
    assert writer is not None
    transport: asyncio.Transport = writer.transport  # type: ignore[assignment]
    transport.pause_reading()  # a frozen app (ctrl+z): it reads nothing from here

    config = tmp_path / "watched.toml"
    config.write_text(TINY.format(steps=STEPS, every=100).replace("epochs = 1", "epochs = 3"))
    cli = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "workbench",
        "--home",
        home.root,
        "train",
        str(config),
        "--follow",
        "--json",
        cwd=ROOT,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    cli_output = asyncio.create_task(cli.communicate())  # read as it comes: never a slow pipe
    slow_asks: list[asyncio.Task[P.RunHistory]] = []
    try:
        await _until("the run to start training", lambda: a.step(a.run_id()) >= 5)
        run_id = a.run_id()

        # one app detaches mid-run: the run is held paused meanwhile, so that however slowly
        # this process is scheduled, the others have steps left to hear after it has gone
        await a.client.ask(P.RunControl(run_id=run_id, action="pause"), timeout=15)
        await _until("the pause", lambda: _state(a, run_id) == "paused")
        paused_at = a.step(run_id)
        assert 0 < paused_at < STEPS
        await b.client.close()
        b_points = b.points(run_id)
        b_events = b.run_events(run_id)
        assert b_points, "the app that left had seen no points"
        await a.client.ask(P.RunControl(run_id=run_id, action="resume"), timeout=15)
        await _until("step 40", lambda: a.step(run_id) >= 40)

        # the stalled client asks for the run's history again and again and reads no answer
        slow_asks = [
            asyncio.create_task(slow.client.ask(P.RunShow(run_id=run_id))) for _ in range(SLOW_ASKS)
        ]
        await asyncio.sleep(0.5)
        began = time.monotonic()
        listed = await a.client.ask(P.RunList(), timeout=15)  # others are answered meanwhile
        assert run_id in [r.run_id for r in listed.runs]
        assert time.monotonic() - began < 15

        await _until("step 100", lambda: a.step(run_id) >= 100)
        shown = await a.client.ask(P.RunShow(run_id=run_id, max_points=1), timeout=15)
        assert shown.run.state == "running"

        await _until("step 200", lambda: a.step(run_id) >= 200 or a.final(run_id) is not None)
        transport.resume_reading()  # the app wakes up
        await _until("the stalled client to hear what it missed", lambda: slow.dropped > 0, 60)
        answered = await asyncio.wait_for(asyncio.gather(*slow_asks), 60)
        assert all(h.run.run_id == run_id for h in answered)

        # as the monitor does on a drop: fetch the whole history, then go on with live points
        plot = RunHistory()
        fetched_at = len(slow.events)
        plot.load(run_id, await slow.client.ask(P.RunShow(run_id=run_id), timeout=30))
        await _until("the run to end", lambda: a.final(run_id) is not None)
        await _until("the stalled client to hear the end", lambda: slow.final(run_id) is not None)
        for ev in slow.events[fetched_at:]:  # those after the fetch asked, again: the plot
            if isinstance(ev, P.RunMetrics):  # keeps one point per step
                plot.append(ev.points)

        stdout, stderr = await asyncio.wait_for(cli_output, 120)
        assert cli.returncode == 0, stdout[-2000:].decode() + stderr[-2000:].decode()
    finally:
        for task in slow_asks:
            task.cancel()
        if cli.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                cli.kill()
            await cli.wait()
        cli_output.cancel()

    final = a.final(run_id)
    assert final is not None and final.state == "finished" and final.step == STEPS
    store = await a.client.ask(P.RunShow(run_id=run_id), timeout=30)
    assert store.run.state == "finished" and store.run.step == STEPS

    # the fast app heard everything, the CLI the same events in the same order
    assert a.dropped == 0
    lines = [json.loads(x) for x in stdout.decode().splitlines() if x.strip()]
    cli_points = [
        (x["series"], x["step"], x["value"]) for x in lines if x.get("type") == "training.metric"
    ]
    a_points = a.points(run_id)
    assert cli_points == a_points
    a_evals = [
        (ev.report.step, ev.report.split)
        for ev in a.events
        if isinstance(ev, P.RunEval) and ev.run_id == run_id
    ]
    cli_evals = [
        (x["report"]["step"], x["report"]["split"])
        for x in lines
        if x.get("type") == "training.eval"
    ]
    assert cli_evals == a_evals and a_evals
    a_updates = [
        (ev.run.state, ev.run.step)
        for ev in a.events
        if isinstance(ev, P.RunUpdate) and ev.run.run_id == run_id
    ]
    cli_updates = [
        (x["run"]["state"], x["run"]["step"]) for x in lines if x.get("type") == "training.update"
    ]
    assert cli_updates and _subsequence(cli_updates, a_updates)
    assert cli_updates[-1] == a_updates[-1] == ("finished", STEPS)

    # the app that left had heard the same points up to then; the others went on without it
    assert b.dropped == 0
    assert b_points == a_points[: len(b_points)]
    assert b_events == a.run_events(run_id)[: len(b_events)]  # each event the same, to the byte
    assert len(a_points) > len(b_points) and a_points[-1][1] == STEPS

    # a plot of the fast app's events alone is the store's, point for point
    live = RunHistory(series={run_id: {}})
    for ev in a.events:
        if isinstance(ev, P.RunMetrics):
            live.append(ev.points)
    assert _plot(live, run_id) == _stored(store)

    # the stalled client missed events, and was told; what it did get came in order, and its
    # plot, completed from the store, is the store's
    assert slow.dropped > 0 and slow.batches_dropped
    assert _subsequence(slow.points(run_id), a_points)
    assert _subsequence(slow.run_events(run_id), a.run_events(run_id))
    assert _plot(plot, run_id) == _stored(store)

    await a.client.close()
    await slow.client.close()
