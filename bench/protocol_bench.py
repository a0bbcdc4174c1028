"""Request round trip and event throughput through the real client and engine.

Peer: a bare asyncio Unix-socket echo of the same frame size, the floor any
Python client on this loop can reach. Both run alternately in one process.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from pathlib import Path

from bench.common import median, pct, row
from engine import protocol as P
from engine.paths import Home
from workbench.engine.client import EngineClient


async def _echo_server(path: Path) -> asyncio.AbstractServer:
    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(ConnectionError):
            while data := await reader.read(65536):
                writer.write(data)

    return await asyncio.start_unix_server(handle, path=str(path))


async def _ours(client: EngineClient, n: int) -> list[float]:
    out = []
    ping = P.Ping()
    for _ in range(n):
        t0 = time.perf_counter()
        await client.ask(ping)
        out.append(time.perf_counter() - t0)
    return out


async def _raw(path: Path, n: int) -> list[float]:
    reader, writer = await asyncio.open_unix_connection(str(path))
    frame = P.encode(P.Request(id=1, call=P.Ping()))
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        writer.write(frame)
        await reader.readexactly(len(frame))
        out.append(time.perf_counter() - t0)
    writer.close()
    return out


async def settled(client: EngineClient) -> None:
    """Wait until the engine has finished loading torch (a one-off start-up cost)."""
    for _ in range(600):
        st = await client.ask(P.Status())
        if st.device.kind != "unknown":
            return
        await asyncio.sleep(0.1)


async def round_trip(home: Home, rounds: int = 5, n: int = 2000) -> list[dict[str, str]]:
    client = EngineClient(home, name="bench")
    await client.connect(start=False)
    await settled(client)
    echo_path = home.runtime_dir / "echo.sock"
    server = await _echo_server(echo_path)
    ours: list[float] = []
    raw: list[float] = []
    await _ours(client, 200)  # warm up
    await _raw(echo_path, 200)
    for _ in range(rounds):  # alternate A and B: the machine is shared
        ours += await _ours(client, n)
        raw += await _raw(echo_path, n)
    server.close()
    await client.close()
    p50, p99 = pct(ours, 50) * 1e6, pct(ours, 99) * 1e6
    r50, r99 = pct(raw, 50) * 1e6, pct(raw, 99) * 1e6
    return [
        row(
            "request round trip p50",
            f"{p50:.0f} us",
            "< 100 us",
            f"{r50:.0f} us raw echo",
            f"{p50 / r50:.2f}x echo",
        ),
        row(
            "request round trip p99",
            f"{p99:.0f} us",
            "< 1000 us",
            f"{r99:.0f} us raw echo",
            f"{p99 / r99:.2f}x echo",
        ),
    ]


async def _one_stream(client: EngineClient, rate: int, seconds: float) -> float:
    """Events per second this client received from one streaming job."""
    got = 0
    first = last = 0.0
    done = asyncio.Event()
    job_id = ""

    def on_events(events: list[P.Event], dropped: int) -> None:
        nonlocal got, first, last
        now = time.perf_counter()
        n = sum(1 for e in events if isinstance(e, P.JobLog) and e.job_id == job_id)
        if n and not first:
            first = now
        got += n
        last = now
        if any(isinstance(e, P.JobEnded) and e.job.job_id == job_id for e in events):
            done.set()

    client.subscribe(on_events)
    started = await client.ask(P.StreamEvents(rate=rate, seconds=seconds))
    job_id = started.job_id
    await asyncio.wait_for(done.wait(), 120)
    return got / max(last - first, 1e-9)


async def event_throughput(
    home: Home, rate: int = 400_000, seconds: float = 2.0, rounds: int = 3
) -> list[dict[str, str]]:
    client = EngineClient(home, name="bench")
    await client.connect(start=False)
    rates = [await _one_stream(client, rate, seconds) for _ in range(rounds)]
    await client.close()
    return [
        row(
            "event throughput to a client",
            f"{median(rates):,.0f} events/s",
            ">= 100,000 events/s",
            f"engine asked to emit {rate:,}/s",
            "",
        )
    ]
