"""UI lag while the engine streams events: lateness of a 10 ms timer in the real app.

The app runs headless (Textual's test driver) attached to a real engine. Peer:
the same app on the same engine with no stream, measured alternately.
"""

from __future__ import annotations

import asyncio
import time

from bench.common import pct, row
from engine import protocol as P
from engine.paths import Home
from workbench.app import WorkbenchApp


async def _measure(app: WorkbenchApp, seconds: float, stream_rate: int) -> tuple[list[float], int]:
    lateness: list[float] = []
    last = [time.perf_counter()]

    def tick() -> None:
        now = time.perf_counter()
        lateness.append(max(0.0, now - last[0] - 0.010))
        last[0] = now

    events_before = app.link.state.events
    if stream_rate:
        await app.link.ask(P.StreamEvents(rate=stream_rate, seconds=seconds + 0.5))
    await asyncio.sleep(0.3)
    last[0] = time.perf_counter()
    timer = app.set_interval(0.010, tick)
    await asyncio.sleep(seconds)
    timer.stop()
    await asyncio.sleep(0.6)
    return lateness[1:], app.link.state.events - events_before


async def ui_lag(home: Home, rounds: int = 3, seconds: float = 3.0) -> list[dict[str, str]]:
    app = WorkbenchApp(home)
    streamed: list[float] = []
    idle: list[float] = []
    received = 0
    async with app.run_test(size=(80, 24)) as pilot:
        while not app.connected:
            await pilot.pause(0.05)
        await pilot.pause(1.5)  # let the browser open its dataset
        for _ in range(rounds):
            lat, n = await _measure(app, seconds, 10_000)
            streamed += lat
            received += n
            lat, _ = await _measure(app, seconds, 0)
            idle += lat
    s99, i99 = pct(streamed, 99) * 1e3, pct(idle, 99) * 1e3
    rate = received / (rounds * (seconds + 0.5))
    return [
        row(
            "UI timer lateness p99, engine streaming 10k events/s",
            f"{s99:.1f} ms",
            "< 16 ms",
            f"{i99:.1f} ms idle",
            f"{s99 / max(i99, 0.1):.2f}x idle",
        ),
        row("events the app received while streaming", f"{rate:,.0f} events/s", "", "", ""),
    ]
