"""Helpers for benchmarks: a throwaway engine, percentiles, a results table."""

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
from tests.conftest import start_engine, stop_engine
from workbench.client import EngineClient


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
    proc = start_engine(home)
    try:
        yield
    finally:
        stop_engine(proc)


def load_note() -> str:
    """The machine's load: benchmarks on a shared box are only comparable side by side."""
    one, five, _ = os.getloadavg()
    return f"load average {one:.2f} (1 min), {five:.2f} (5 min) on {os.cpu_count()} cores"


def row(name: str, value: str, aim: str = "", peer: str = "", ratio: str = "") -> dict[str, str]:
    return {"figure": name, "value": value, "aim": aim, "peer": peer, "ratio": ratio}


async def run_job(client: EngineClient, call: P.Call, timeout: float = 600) -> JobRun:
    """Start a job, follow it to its end; its end event, wall time and progress updates."""
    done = asyncio.Event()
    state: dict[str, object] = {"progress": 0, "end": None, "job_id": ""}

    def on_events(events: list[P.Event], _dropped: int) -> None:
        for e in events:
            if isinstance(e, P.JobProgress) and e.job.job_id == state["job_id"]:
                state["progress"] = int(state["progress"]) + 1  # type: ignore[call-overload]
            elif isinstance(e, P.JobEnded) and e.job.job_id == state["job_id"]:
                state["end"] = e
                done.set()

    client.on_events = on_events
    t0 = time.perf_counter()
    started = await client.request(call, P.JobStarted)
    state["job_id"] = started.job_id
    await asyncio.wait_for(done.wait(), timeout)
    end = state["end"]
    assert isinstance(end, P.JobEnded)
    return JobRun(end, time.perf_counter() - t0, int(state["progress"]))  # type: ignore[call-overload]


@dataclass
class JobRun:
    end: P.JobEnded
    seconds: float
    progress_updates: int
