"""A real `python -m engine` on a temporary home, driven through the client and raw sockets."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from engine import protocol as P
from engine.paths import Home
from tests.helpers.engine import ROOT, RunningEngine, start_engine, stop_engine
from workbench.engine.client import EngineClient, EngineError, EngineGone


async def test_handshake_status_and_ping(client: EngineClient, engine: RunningEngine) -> None:
    assert client.welcome is not None
    assert client.welcome.pid == engine.pid
    assert len(client.session_id) == 32
    st = await client.ask(P.Status())
    assert st.session_id == client.session_id
    assert st.home == engine.home.root
    assert st.device.kind in ("cpu", "cuda", "mps", "unknown")
    assert st.device.memory_total > 0
    pong = await client.ask(P.Ping(payload=b"abc"))
    assert pong.payload == b"abc"


async def test_device_updates_stream_while_attached(client: EngineClient) -> None:
    seen: list[P.DeviceInfo] = []
    client.subscribe(
        lambda evs, _: seen.extend(e.device for e in evs if isinstance(e, P.DeviceUpdate))
    )
    for _ in range(60):
        if len(seen) >= 2 and seen[-1].kind != "unknown":
            break
        await asyncio.sleep(0.1)
    assert len(seen) >= 2
    assert seen[-1].kind == "cpu"  # no GPU on the test machines
    assert seen[-1].memory_total > 0


def test_socket_is_private(engine: RunningEngine) -> None:
    mode = stat.S_IMODE(os.stat(engine.home.socket).st_mode)
    assert mode == 0o600
    assert stat.S_IMODE(os.stat(engine.home.runtime_dir).st_mode) == 0o700


def test_second_engine_on_same_home_refuses(engine: RunningEngine) -> None:
    out = subprocess.run(
        [sys.executable, "-m", "engine", "--home", engine.home.root],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 3
    assert "already running" in out.stderr
    assert str(engine.pid) in out.stderr
    assert engine.alive()


def test_stale_socket_is_replaced(home: Home) -> None:
    home.ensure()
    stale = socket.socket(socket.AF_UNIX)
    stale.bind(str(home.socket))
    stale.close()  # the file stays, nobody listens: what a SIGKILLed engine leaves
    assert home.socket.exists()
    proc = start_engine(home)
    try:
        assert proc.poll() is None
    finally:
        stop_engine(proc)
    assert not home.socket.exists()  # a clean stop removes it


async def test_garbage_bytes_close_only_that_client(engine: RunningEngine) -> None:
    reader, writer = await asyncio.open_unix_connection(str(engine.home.socket))
    writer.write(b"\xff\xff\xff\xff" + os.urandom(64))
    data = await asyncio.wait_for(reader.read(), 10)  # engine says goodbye and closes
    msgs = P.FrameDecoder(P.EngineFrame).feed(data) if data else []
    assert msgs and isinstance(msgs[0], P.Goodbye)
    assert "protocol error" in msgs[0].reason
    writer.close()
    # garbage after a good handshake too
    reader, writer = await asyncio.open_unix_connection(str(engine.home.socket))
    writer.write(P.encode(P.Hello(protocol_version=P.PROTOCOL_VERSION)))
    writer.write((20).to_bytes(4, "big") + b"not msgpack at all!!")
    data = await asyncio.wait_for(reader.read(), 10)
    kinds = [type(m) for m in P.FrameDecoder(P.EngineFrame).feed(data)]
    assert kinds[-1] is P.Goodbye  # the bad frame ends this client only
    writer.close()
    fresh = EngineClient(engine.home)
    await fresh.connect(start=False)
    assert isinstance(await fresh.ask(P.Ping()), P.Pong)
    await fresh.close()
    assert engine.alive()


async def test_version_mismatch_is_a_clear_error(engine: RunningEngine) -> None:
    reader, writer = await asyncio.open_unix_connection(str(engine.home.socket))
    writer.write(P.encode(P.Hello(protocol_version=P.PROTOCOL_VERSION + 1)))
    data = await asyncio.wait_for(reader.read(), 10)
    (bye,) = P.FrameDecoder(P.EngineFrame).feed(data)
    assert isinstance(bye, P.Goodbye)
    assert "protocol mismatch" in bye.reason and "workbench engine stop" in bye.reason
    writer.close()


async def test_every_request_gets_exactly_one_reply(client: EngineClient) -> None:
    calls: list[P.Call] = []
    for i in range(30):
        calls.append(P.Ping(payload=bytes([i])))
        calls.append(P.DatasetShow(name=f"no-such-{i}"))
        calls.append(P.Cancel(job_id=f"nope{i}"))
    results = await asyncio.gather(*(client.ask(c) for c in calls), return_exceptions=True)
    for call, res in zip(calls, results, strict=True):
        if isinstance(call, P.Ping):
            assert isinstance(res, P.Pong) and res.payload == call.payload
        else:
            assert isinstance(res, EngineError) and res.code == "not_found"
            assert res.message  # a sentence a person can read


async def test_unknown_dataset_error_names_the_choices(client: EngineClient) -> None:
    with pytest.raises(EngineError) as err:
        await client.ask(P.DatasetRows(name="imbd"))
    assert "no dataset named 'imbd'" in err.value.message
    assert "rotten-tomatoes" in err.value.hint


async def test_events_are_batched_and_job_ends(client: EngineClient) -> None:
    batches: list[int] = []
    logs: list[P.JobLog] = []
    ended: list[P.JobEnded] = []

    def on_events(events: list[P.Event], dropped: int) -> None:
        batches.append(len(events))
        for e in events:
            if isinstance(e, P.JobLog):
                logs.append(e)
            elif isinstance(e, P.JobEnded):
                ended.append(e)

    client.subscribe(on_events)
    job = await client.ask(P.StreamEvents(rate=5000, seconds=0.4))
    for _ in range(200):
        if ended:
            break
        await asyncio.sleep(0.05)
    assert ended and ended[0].job.job_id == job.job_id and ended[0].job.state == "done"
    mine = [e for e in logs if e.job_id == job.job_id]
    assert len(mine) == 2000
    assert [e.seq for e in mine] == list(range(2000))  # in order, none lost
    assert len(batches) < 200  # batched, not one frame per event


async def test_cancel_a_running_job(client: EngineClient) -> None:
    ended: list[P.JobEnded] = []
    client.subscribe(lambda evs, _: ended.extend(e for e in evs if isinstance(e, P.JobEnded)))
    job = await client.ask(P.StreamEvents(rate=100, seconds=30))
    await asyncio.sleep(0.3)
    ok = await client.ask(P.Cancel(job_id=job.job_id))
    assert "cancelling" in ok.message
    for _ in range(100):
        if ended:
            break
        await asyncio.sleep(0.05)
    assert ended[0].job.state == "cancelled"
    assert ended[0].error is not None and ended[0].error.code == "cancelled"


async def test_client_leaving_mid_request_leaves_engine_well(engine: RunningEngine) -> None:
    for _ in range(3):
        _reader, writer = await asyncio.open_unix_connection(str(engine.home.socket))
        writer.write(P.encode(P.Hello(protocol_version=P.PROTOCOL_VERSION)))
        writer.write(P.encode(P.Request(id=1, call=P.DatasetOpen(name="reuters-r8"))))
        await writer.drain()
        writer.close()  # gone before the (slow) reply
    fresh = EngineClient(engine.home)
    await fresh.connect(start=False)
    res = await fresh.ask(P.DatasetOpen(name="reuters-r8"))
    assert res.dataset.rows == 5485 + 2189
    await fresh.close()


async def test_killed_engine_fails_request_in_flight(engine: RunningEngine) -> None:
    client = EngineClient(engine.home)
    await client.connect(start=False)
    lost: list[str] = []
    client.on_disconnect = lost.append
    job = await client.ask(P.StreamEvents(rate=10, seconds=30))
    pending = asyncio.ensure_future(client.ask(P.DatasetOpen(name="20-newsgroups")))
    await asyncio.sleep(0.05)
    os.kill(engine.pid, signal.SIGKILL)
    with pytest.raises(EngineGone):
        await asyncio.wait_for(pending, 10)
    assert lost
    assert job.job_id
    await client.close()


def test_sighup_is_ignored(engine: RunningEngine) -> None:
    os.kill(engine.pid, signal.SIGHUP)
    time.sleep(0.3)
    assert engine.alive()


async def test_client_starts_engine_when_none_runs(home: Home) -> None:
    client = EngineClient(home)
    welcome = await client.connect(start=True, timeout=60)
    try:
        assert client.spawned
        st = await client.ask(P.Status())
        assert st.pid == welcome.pid
        assert (home.data_dir / "engine.log").exists()
        await client.ask(P.Shutdown())
    finally:
        await client.close()
    for _ in range(100):
        if not home.socket.exists():
            break
        await asyncio.sleep(0.05)
    assert not home.socket.exists()


async def test_big_import_streams_progress_and_cancels_cleanly(
    client: EngineClient, engine: RunningEngine, tmp_path: Path
) -> None:
    big = tmp_path / "big.csv"
    line = "a fairly ordinary sentence about a film that goes on for a while,pos\n"
    block = line * 10_000 + line.replace("pos", "neg") * 10_000
    big.write_text("text,label\n" + block * 40)  # ~55 MB
    progress: list[float] = []
    ended: list[P.JobEnded] = []

    def on_events(events: list[P.Event], _: int) -> None:
        for e in events:
            if isinstance(e, P.JobProgress) and e.job.total:
                progress.append(e.job.done / e.job.total)
            elif isinstance(e, P.JobEnded):
                ended.append(e)

    client.subscribe(on_events)
    call = P.DatasetImport(source=str(big), name="big", text_column="text", label_column="label")
    job = await client.ask(call)
    for _ in range(600):
        if progress or ended:
            break
        await asyncio.sleep(0.02)
    await client.ask(P.Cancel(job_id=job.job_id))
    for _ in range(600):
        if ended:
            break
        await asyncio.sleep(0.05)
    assert ended and ended[0].job.state == "cancelled", ended
    assert progress and progress[0] < 1.0  # it was streaming, not done, when cancelled
    listed = await client.ask(P.DatasetList())
    assert "big" not in [d.name for d in listed.datasets]
    leftovers = [p.name for p in engine.home.datasets_dir.iterdir() if p.name != "rotten-tomatoes"]
    assert not [n for n in leftovers if n.startswith(".tmp") or n == "big"]
    # and the same name imports fine afterwards (nothing half-registered)
    small = tmp_path / "small.csv"
    small.write_text("text,label\nfine,pos\nbad,neg\n")
    call = P.DatasetImport(source=str(small), name="big", text_column="text", label_column="label")
    job2 = await client.ask(call)
    for _ in range(600):
        if any(e.job.job_id == job2.job_id for e in ended):
            break
        await asyncio.sleep(0.05)
    last = next(e for e in ended if e.job.job_id == job2.job_id)
    assert last.job.state == "done" and last.error is None


async def test_a_silent_client_is_closed_with_one_log_line(engine: RunningEngine) -> None:
    reader, writer = await asyncio.open_unix_connection(str(engine.home.socket))
    data = await asyncio.wait_for(reader.read(), 30)  # says nothing: the engine hangs up
    msgs = P.FrameDecoder(P.EngineFrame).feed(data)
    assert msgs and isinstance(msgs[0], P.Goodbye) and "no hello" in msgs[0].reason
    writer.close()
    log = engine.home.log.read_text()
    assert "never said hello" in log and "Traceback" not in log


def test_engine_stop_stops_an_engine_of_another_version(home: Home) -> None:
    """An engine left running across an upgrade refuses every call (protocol mismatch), so the
    stop the mismatch message recommends must still work: by the engine's pid file."""
    home.ensure()
    older = (
        "import runpy, sys; import engine.protocol as P; P.PROTOCOL_VERSION -= 1; "
        "sys.argv = ['engine', '--home', sys.argv[1]]; runpy.run_module('engine', "
        "run_name='__main__')"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", older, home.root],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not home.socket.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        cli = [sys.executable, "-m", "workbench", "--home", home.root]
        refused = subprocess.run([*cli, "datasets", "list"], cwd=ROOT, capture_output=True)
        assert b"protocol mismatch" in refused.stderr and refused.returncode == 1
        stopped = subprocess.run(
            [*cli, "engine", "stop"], cwd=ROOT, capture_output=True, text=True, timeout=60
        )
        assert stopped.returncode == 0, stopped.stderr
        assert f"engine stopped (pid {proc.pid}; it spoke another protocol version)" in (
            stopped.stdout.replace("\n", " ")
        )
        assert proc.wait(timeout=30) is not None
        again = subprocess.run([*cli, "engine", "stop"], cwd=ROOT, capture_output=True, text=True)
        assert again.returncode == 0 and "no engine is running" in again.stdout
    finally:
        if proc.poll() is None:
            proc.kill()
