"""A protocol fuzzer against a real engine: typed calls with edge values, mutated frames, random
msgpack and random bytes. The engine stays up and answering, its memory stays bounded, every
reply is a typed result or a typed error, and no reply is `internal`.

Seeded (hypothesis, derandomized) and bounded: FUZZ_FRAMES frames in all (5,000 by default, as
CI runs it; more with the variable). The outcome counts and the engine's memory are printed
(`pytest -s`) and written to bench/results/fuzz.json for the closing note.
"""

from __future__ import annotations

import asyncio
import json
import math
import os
import random
import socket
import struct
import threading
import time
import types
import typing
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import protocol as P
from tests.helpers.engine import ROOT, RunningEngine
from workbench.engine.client import EngineClient, EngineError

FRAMES = int(os.environ.get("FUZZ_FRAMES", "5000"))
SKIP = {P.Shutdown}  # the one call that may end the engine
NAMES = [
    "", "nope", "reuters-r8", "rotten-tomatoes", "20-newsgroups", "minilm-wordpiece",
    "glove-6b-50d", "minilm", "minilm-input", "king", "train", "test", "validation", "csv",
    "text", "x" * 300, "../../etc", "/etc/passwd", "/dev/zero", "/proc/self/mem", "é🙂\x00",
    "king - man + woman", "a b c d e f", "j1", "20261201-000000-abcdef",
]  # fmt: skip
INTS = [0, 1, -1, 2, 3, 10, 100, 2**31 - 1, 2**31, 2**63 - 1, -(2**63), 10**9]
FLOATS = [0.0, -0.0, 1e-12, 0.5, 1.0, -1.0, 1e308, -1e308, math.nan, math.inf, -math.inf]


def edgy(tp: Any) -> st.SearchStrategy[Any]:
    """Values of a protocol type that reach deep: real names, limits, NaN, empty and huge."""
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        hints = typing.get_type_hints(tp)
        fields = {
            f.name: st.deferred(lambda t=hints[f.name]: edgy(t)) for f in msgspec.structs.fields(tp)
        }
        return st.builds(tp, **fields)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*[edgy(a) for a in args])
    if origin is list:
        return st.lists(edgy(args[0]), max_size=4) | st.lists(
            edgy(args[0]), min_size=40, max_size=60
        )
    if origin is dict:
        return st.dictionaries(edgy(args[0]), edgy(args[1]), max_size=3)
    if origin is tuple:
        return st.tuples(*[edgy(a) for a in args])
    if origin is typing.Literal:
        return st.sampled_from(args)
    if tp is bool:
        return st.booleans()
    if tp is int:
        return st.sampled_from(INTS) | st.integers(-5, 200)
    if tp is float:
        return st.sampled_from(FLOATS) | st.floats(-10, 10)
    if tp is str:
        return st.sampled_from(NAMES) | st.text(max_size=12)
    if tp is bytes:
        return st.binary(max_size=64)
    if tp is type(None):
        return st.none()
    raise TypeError(f"no strategy for {tp!r}")


CALLS = [c for c in typing.get_args(P.Call) if c not in SKIP]
NO_ARGS = [c for c in CALLS if not any(f.required for f in msgspec.structs.fields(c))]
TAGS = [c.__struct_config__.tag for c in CALLS]  # never system.shutdown


def vm(pid: int, key: str) -> int:
    """A /proc/PID/status figure (VmRSS, VmHWM) in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1]) * 1024
    return 0


def raw_frame(sock_path: Path, payload: bytes, seen: Counter[str], rng: random.Random) -> None:
    """Send a Hello and then payload on a fresh connection; read what the engine says back."""
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(2)
    s.connect(str(sock_path))
    try:
        s.sendall(P.encode(P.Hello(protocol_version=P.PROTOCOL_VERSION)) + payload)
        s.shutdown(socket.SHUT_WR)  # all is sent: the engine sees the end after it
        decoder = P.FrameDecoder(P.EngineFrame)
        got: list[Any] = []
        deadline = time.monotonic() + 2
        while time.monotonic() < deadline:
            try:
                chunk = s.recv(1 << 16)
            except (TimeoutError, ConnectionResetError):
                break
            if not chunk:
                break
            got += decoder.feed(chunk)
            if any(isinstance(m, P.Goodbye | P.Reply) for m in got):
                break
        kinds = [m for m in got if not isinstance(m, P.Welcome | P.EventBatch)]
        if not kinds:
            seen["closed (a partial frame, dropped at the end)"] += 1
        for m in kinds:
            if isinstance(m, P.Goodbye):
                seen["goodbye"] += 1
            elif isinstance(m, P.Reply) and m.error is not None:
                assert m.error.code != "internal", m.error
                seen[f"typed error {m.error.code}"] += 1
            else:
                seen["result"] += 1
    finally:
        s.close()


def mutate(frame: bytes, rng: random.Random) -> bytes:
    data = bytearray(frame)
    how = rng.randrange(5)
    if how == 0 and len(data) > 5:  # flip a few bytes of the body
        for _ in range(rng.randint(1, 4)):
            data[rng.randrange(4, len(data))] = rng.randrange(256)
    elif how == 1:  # truncate
        data = data[: rng.randrange(1, len(data))]
    elif how == 2:  # a lying length prefix
        data[:4] = struct.pack(">I", rng.choice([0, 1, len(data), 2**24, P.MAX_FRAME + 1]))
    elif how == 3:  # trailing garbage
        data += bytes(rng.randrange(256) for _ in range(rng.randint(1, 32)))
    else:  # two frames glued, the second cut
        data += data[: rng.randrange(1, len(data))]
    return bytes(data)


def random_msgpack(rng: random.Random) -> bytes:
    def value(depth: int) -> Any:
        kind = rng.randrange(7 if depth < 3 else 4)
        if kind == 0:
            return rng.choice(INTS)
        if kind == 1:
            return rng.choice(NAMES)
        if kind == 2:
            return rng.choice(FLOATS)
        if kind == 3:
            return rng.choice([None, True, b"\x00\xff"])
        if kind == 4:
            return [value(depth + 1) for _ in range(rng.randrange(4))]
        tags = rng.choice(TAGS + ["wire.request", "nope", ""])
        return {"type": tags, **{rng.choice(NAMES)[:8]: value(depth + 1) for _ in range(3)}}

    body = msgspec.msgpack.encode(
        {"type": "wire.request", "id": rng.choice(INTS), "call": value(0)}
        if rng.random() < 0.7
        else value(0)
    )
    return struct.pack(">I", len(body)) + body


class LoopThread:
    """An event loop in a thread, so that hypothesis (which is synchronous) can drive one
    lasting client."""

    def __init__(self) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()

    def run(self, coro: Any, timeout: float = 180) -> Any:
        return asyncio.run_coroutine_threadsafe(coro, self.loop).result(timeout)

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)


@pytest.mark.timeout(1800)
def test_the_engine_survives_the_fuzz(engine: RunningEngine) -> None:
    seen: Counter[str] = Counter()
    rss_before = vm(engine.pid, "VmRSS")
    typed = FRAMES // 8
    runner = LoopThread()
    client = EngineClient(engine.home, name="fuzz")
    runner.run(client.connect(start=False))

    slowest: list[tuple[float, str]] = []

    async def one(call: Any) -> None:
        t0 = time.perf_counter()
        try:
            result = await client.ask(call, timeout=120)
        except EngineError as exc:
            slowest.append((time.perf_counter() - t0, repr(call)[:160]))
            assert exc.code != "internal", f"{call!r}: {exc}"
            seen[f"typed error {exc.code}"] += 1
            return
        slowest.append((time.perf_counter() - t0, repr(call)[:160]))
        assert isinstance(result, P.result_type(type(call)))
        seen["result"] += 1

    @settings(
        max_examples=typed,
        derandomize=True,  # seeded: the same calls every run
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(call=st.sampled_from(CALLS).flatmap(edgy))
    def typed_call(call: Any) -> None:
        runner.run(one(call))

    try:
        typed_call()
        for job in runner.run(client.ask(P.Jobs())).jobs:  # what the fuzz started stops here
            if job.state in ("queued", "running"):
                runner.run(client.ask(P.Cancel(job_id=job.job_id)))
    finally:
        runner.run(client.close())
        runner.close()
    frames = typed
    rng = random.Random(13)
    valid = [P.encode(P.Request(id=i, call=cls())) for i, cls in enumerate(NO_ARGS)] + [
        P.encode(P.Request(id=99, call=P.DatasetRows(name="reuters-r8", limit=3)))
    ]
    for i in range(FRAMES - typed):
        r = i % 3
        if r == 0:
            payload = mutate(rng.choice(valid), rng)
        elif r == 1:
            payload = random_msgpack(rng)
        else:
            payload = bytes(rng.randrange(256) for _ in range(rng.randint(1, 80)))
        raw_frame(engine.home.socket, payload, seen, rng)
        frames += 1
    assert engine.alive(), "the engine died under the fuzz"

    async def still_answers() -> float:
        after = EngineClient(engine.home, name="after")
        await after.connect(start=False)
        try:
            t0 = time.perf_counter()
            await after.ask(P.Ping(), timeout=10)
            await after.ask(P.DatasetList(), timeout=30)
            return time.perf_counter() - t0
        finally:
            await after.close()

    answer = asyncio.run(still_answers())
    peak, rss_after = vm(engine.pid, "VmHWM"), vm(engine.pid, "VmRSS")
    report = {
        "frames": frames,
        "typed_calls": typed,
        "outcomes": dict(seen.most_common()),
        "engine_rss_before_mb": round(rss_before / 2**20),
        "engine_rss_after_mb": round(rss_after / 2**20),
        "engine_peak_rss_mb": round(peak / 2**20),
        "answer_after_s": round(answer, 4),
        "slowest_calls": [f"{t:.2f} s {c}" for t, c in sorted(slowest, reverse=True)[:8]],
    }
    print(json.dumps(report, indent=2))
    out = ROOT / "bench" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "fuzz.json").write_text(json.dumps(report, indent=2))
    assert frames >= FRAMES
    assert peak < 6 * 2**30, f"the engine's peak memory was {peak / 2**30:.1f} GiB"
