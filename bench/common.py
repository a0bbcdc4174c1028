"""Helpers for benchmarks: a throwaway engine started the way the product starts one, percentiles,
a results table. Nothing here needs the test extras."""

from __future__ import annotations

import asyncio
import os
import statistics
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from engine import protocol as P
from engine.paths import Home, resolve_home
from workbench.engine.client import EngineClient, EngineError
from workbench.engine.endpoint import local

ROOT = Path(__file__).resolve().parent.parent


def pct(values: list[float], q: float) -> float:
    """The q-th percentile (0-100) by nearest rank."""
    s = sorted(values)
    if not s:
        return float("nan")
    k = max(0, min(len(s) - 1, round(q / 100 * (len(s) - 1))))
    return s[k]


def median(values: list[float]) -> float:
    return statistics.median(values)


@contextmanager
def temp_home() -> Iterator[Home]:
    with tempfile.TemporaryDirectory(prefix="wb-bench-") as tmp:
        yield resolve_home(Path(tmp) / "home")


@contextmanager
def running_engine(home: Home) -> Iterator[None]:
    """A detached engine for the home, as `workbench` starts one; shut down afterwards."""

    async def start() -> None:
        client = EngineClient(local(home), name="bench")
        await client.connect(start=True)
        await client.close()

    async def stop() -> None:
        client = EngineClient(local(home), name="bench")
        try:
            await client.connect(start=False, timeout=5)
            await client.ask(P.Shutdown(), timeout=10)
        except EngineError:
            return
        finally:
            await client.close()
        for _ in range(200):  # the engine removes its socket last
            if not home.socket.exists():
                return
            await asyncio.sleep(0.05)

    asyncio.run(start())
    try:
        yield
    finally:
        asyncio.run(stop())


def load_note() -> str:
    """The machine's load: benchmarks on a shared box are only comparable side by side."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def row(name: str, value: str, aim: str = "", peer: str = "", ratio: str = "") -> dict[str, str]:
    return {"figure": name, "value": value, "aim": aim, "peer": peer, "ratio": ratio}


async def run_job(client: EngineClient, call: P.StartsJob[object], timeout: float = 600) -> JobRun:
    """Start a job, follow it to its end; its end event, wall time and progress updates."""
    seen: list[P.Event] = []  # from before the reply: a job may end before its id is read
    arrived = asyncio.Event()

    def on_events(events: list[P.Event], _dropped: int) -> None:
        seen.extend(e for e in events if isinstance(e, P.JobProgress | P.JobEnded))
        arrived.set()

    unsubscribe = client.subscribe(on_events)
    t0 = time.perf_counter()
    try:
        job_id = (await client.ask(call)).job_id

        def ended() -> P.JobEnded | None:
            return next(
                (e for e in seen if isinstance(e, P.JobEnded) and e.job.job_id == job_id), None
            )

        async with asyncio.timeout(timeout):
            while (end := ended()) is None:
                arrived.clear()
                await arrived.wait()
    finally:
        unsubscribe()
    progress = sum(1 for e in seen if isinstance(e, P.JobProgress) and e.job.job_id == job_id)
    return JobRun(end, time.perf_counter() - t0, progress)


@dataclass
class JobRun:
    end: P.JobEnded
    seconds: float
    progress_updates: int
