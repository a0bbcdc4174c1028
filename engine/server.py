"""The engine: a Unix socket server that answers requests and streams job events.

The asyncio loop owns the socket and answers cheap calls at once; data work
runs in a small query pool; long work runs as jobs (engine.jobs). Events are
queued per client and flushed in batches a few tens of times a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from engine import __version__
from engine import protocol as P
from engine.data.errors import DataError
from engine.datasets import DatasetService
from engine.device import DeviceMonitor
from engine.embed.service import EmbeddingService
from engine.handlers import datasets as datasets_calls
from engine.handlers import embeddings as embedding_calls
from engine.handlers import runs as run_calls
from engine.handlers import tokenizers as tokenizer_calls
from engine.jobs import Job, JobManager
from engine.paths import Home
from engine.plan import Planner
from engine.runs import RunManager
from engine.store import Store
from engine.tokenize.registry import TokenizerService
from engine.train_job import TrainingJobs

log = logging.getLogger("engine.server")
T = TypeVar("T")
Handler = Callable[[Any], Awaitable[P.Result]]
EngineHandler = Callable[["Engine", Any], Awaitable[P.Result]]  # a domain module's handler

FLUSH_INTERVAL = 0.02  # event batches at most 50 times a second per client
DEVICE_INTERVAL = 0.5  # device report refresh while a client is attached
HANDSHAKE_TIMEOUT = 10.0
OUTBOX_LIMIT = 200_000  # events held for a slow client before the oldest are dropped
WRITE_BUFFER_LIMIT = 8 * 1024 * 1024


class Connection:
    """One attached client: its socket and the events waiting for it."""

    def __init__(self, cid: int, writer: asyncio.StreamWriter) -> None:
        self.cid = cid
        self.writer = writer
        self.outbox: list[P.Event] = []
        self.dropped = 0
        self.closed = False

    def send(self, msg: P.Frame) -> None:
        if not self.closed:
            self.writer.write(P.encode(msg))

    def queue(self, events: list[P.Event]) -> None:
        self.outbox.extend(events)
        spill = len(self.outbox) - OUTBOX_LIMIT
        if spill > 0:
            del self.outbox[:spill]
            self.dropped += spill

    def flush(self) -> None:
        if self.closed or not self.outbox:
            return
        if self.writer.transport.get_write_buffer_size() > WRITE_BUFFER_LIMIT:
            return  # the client is behind: keep (and bound) the outbox
        batch = P.EventBatch(events=self.outbox, dropped=self.dropped)
        self.outbox, self.dropped = [], 0
        self.send(batch)


class Engine:
    def __init__(self, home: Home) -> None:
        self.home = home
        self.session_id = uuid.uuid4().hex
        self.started = time.time()
        self.store = Store(home.db)
        self.datasets = DatasetService(home, self.store)
        self.tokenizers = TokenizerService(home, self.store, self.datasets.texts)
        self.embeddings = EmbeddingService(home)
        self._training = TrainingJobs(self.datasets, self.tokenizers, self.embeddings.table)
        self.planner = Planner(self._training)
        self.runs: RunManager  # set in serve(): jobs need the loop
        self.device = DeviceMonitor()
        self.clients: dict[int, Connection] = {}
        self._next_cid = 0
        self._pending: list[P.Event] = []
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._query_pool = ThreadPoolExecutor(2, thread_name_prefix="query")
        self._server: asyncio.AbstractServer | None = None
        self.jobs: JobManager  # set in serve(), needs the loop
        self._loop: asyncio.AbstractEventLoop
        self._handlers: dict[type, Handler] = {
            P.Status: self._status,
            P.Shutdown: self._shutdown,
            P.Cancel: self._cancel,
            P.Jobs: self._jobs,
            P.StreamEvents: self._stream_events,
        }
        for module in (datasets_calls, tokenizer_calls, embedding_calls, run_calls):
            for call_type, fn in module.handlers().items():
                self._handlers[call_type] = functools.partial(fn, self)

    # ------------------------------------------------------------------ lifecycle

    async def serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.jobs = JobManager(self._loop, self._job_ended)
        self.runs = RunManager(
            self.home,
            self.store,
            self.jobs.submit,
            lambda event: self.call_soon(self.broadcast, event),
            self._training,
        )
        self._training.manager = self.runs
        sock = self.home.socket
        with contextlib.suppress(FileNotFoundError):
            sock.unlink()  # we hold the home lock, so any socket here is stale
        old_umask = os.umask(0o177)  # the socket is born 0600: no window for others
        try:
            self._server = await asyncio.start_unix_server(self._on_client, path=str(sock))
        finally:
            os.umask(old_umask)
        os.chmod(sock, 0o600)
        self.home.pidfile.write_text(f"{os.getpid()}\n")
        self.device.detect_in_background()
        log.info(
            "engine %s (pid %d, session %s) listening on %s",
            __version__,
            os.getpid(),
            self.session_id,
            sock,
        )
        tasks = [
            asyncio.create_task(self._flush_loop(), name="flush"),
            asyncio.create_task(self._device_loop(), name="device"),
        ]
        await self._stopping.wait()
        log.info("engine stopping")
        self.jobs.shutdown()
        for task in tasks:
            task.cancel()
        self._server.close()
        for conn in list(self.clients.values()):
            conn.send(P.Goodbye(reason="engine stopped"))
            conn.writer.close()
        with contextlib.suppress(FileNotFoundError):
            sock.unlink()
        with contextlib.suppress(FileNotFoundError):
            self.home.pidfile.unlink()
        self._query_pool.shutdown(wait=False, cancel_futures=True)
        self.store.close()
        log.info("engine stopped")

    def stop(self) -> None:
        self._stopping.set()

    # ------------------------------------------------------------------ clients

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._next_cid += 1
        conn = Connection(self._next_cid, writer)
        decoder = P.FrameDecoder(P.ClientFrame)
        try:
            if not await self._handshake(conn, reader, decoder):
                return
            self.clients[conn.cid] = conn
            log.info("client %d attached (%d attached)", conn.cid, len(self.clients))
            while True:
                data = await reader.read(256 * 1024)
                if not data:
                    break
                for msg in decoder.feed(data):
                    if isinstance(msg, P.Request):
                        self._on_request(conn, msg)
                    else:
                        raise P.ProtocolError(f"unexpected {type(msg).__name__} after handshake")
        except P.ProtocolError as exc:
            log.warning("client %d sent garbage, closing it: %s", conn.cid, exc)
            conn.send(P.Goodbye(reason=f"protocol error: {exc}"))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            conn.closed = True
            self.clients.pop(conn.cid, None)
            with contextlib.suppress(Exception):
                writer.close()
            log.info("client %d detached (%d attached)", conn.cid, len(self.clients))

    async def _handshake(
        self, conn: Connection, reader: asyncio.StreamReader, decoder: P.FrameDecoder
    ) -> bool:
        msgs: list[Any] = []
        async with asyncio.timeout(HANDSHAKE_TIMEOUT):
            while not msgs:
                data = await reader.read(64 * 1024)
                if not data:
                    return False
                msgs = decoder.feed(data)
        hello = msgs[0]
        if not isinstance(hello, P.Hello):
            raise P.ProtocolError(f"expected Hello, got {type(hello).__name__}")
        if hello.protocol_version != P.PROTOCOL_VERSION:
            conn.send(
                P.Goodbye(
                    reason=f"protocol mismatch: engine speaks {P.PROTOCOL_VERSION}, "
                    f"client speaks {hello.protocol_version}; stop the old engine with "
                    "`workbench engine stop` and start again"
                )
            )
            return False
        conn.send(
            P.Welcome(
                protocol_version=P.PROTOCOL_VERSION,
                session_id=self.session_id,
                engine_version=__version__,
                pid=os.getpid(),
            )
        )
        for msg in msgs[1:]:  # a client may pipeline requests after its Hello
            if isinstance(msg, P.Request):
                self._on_request(conn, msg)
        return True

    def _on_request(self, conn: Connection, req: P.Request) -> None:
        call = req.call
        if isinstance(call, P.Ping):  # the hot path: answer inline, no task
            conn.send(P.Reply(id=req.id, result=P.Pong(payload=call.payload)))
            return
        task = asyncio.create_task(self._answer(conn, req))
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)

    async def _answer(self, conn: Connection, req: P.Request) -> None:
        handler = self._handlers.get(type(req.call))
        try:
            if handler is None:
                raise DataError(f"unknown call {type(req.call).__name__}", code="unsupported")
            reply = P.Reply(id=req.id, result=await handler(req.call))
        except DataError as exc:
            reply = P.Reply(id=req.id, error=P.error(exc.code, exc.message, exc.hint))
        except Exception as exc:
            log.exception("request %s failed", type(req.call).__name__)
            reply = P.Reply(
                id=req.id,
                error=P.error(
                    "internal",
                    f"{type(exc).__name__}: {exc}",
                    "the engine log has the details: workbench engine logs",
                ),
            )
        if conn.closed:
            log.info("client %d left before its reply to request %d", conn.cid, req.id)
            return
        conn.send(reply)

    def broadcast(self, event: P.Event) -> None:
        self._pending.append(event)

    # ------------------------------------------------------------------ event flow

    async def _flush_loop(self) -> None:
        while True:
            await asyncio.sleep(FLUSH_INTERVAL)
            try:
                self._flush()
            except Exception:
                log.exception("event flush failed")

    def _flush(self) -> None:
        events: list[P.Event] = []
        for job in list(self.jobs.jobs.values()):
            logs = job.take_logs()
            if logs:
                events.extend(logs)
            if job.dirty and job.state in ("queued", "running"):
                job.dirty = False
                events.append(P.JobProgress(job=job.info()))
        if self._pending:
            events.extend(self._pending)
            self._pending = []
        for conn in list(self.clients.values()):
            if events:
                conn.queue(events)
            conn.flush()

    def _job_ended(self, job: Job) -> None:
        for log_event in job.take_logs():
            self._pending.append(log_event)
        self._pending.append(P.JobEnded(job=job.info(), error=job.error, result=job.result))

    async def _device_loop(self) -> None:
        while True:
            await asyncio.sleep(DEVICE_INTERVAL)
            if self.clients:
                running = sum(1 for j in self.jobs.active() if j.state == "running")
                self.broadcast(P.DeviceUpdate(device=self.device.sample(), jobs_running=running))

    # ------------------------------------------------------------------ helpers

    async def in_pool(self, fn: Callable[..., T], *args: Any) -> T:
        """Run blocking work in the query pool, off the loop."""
        return await asyncio.get_running_loop().run_in_executor(self._query_pool, fn, *args)

    # ------------------------------------------------------------------ handlers

    async def _status(self, _: P.Status) -> P.Result:
        return P.StatusResult(
            session_id=self.session_id,
            pid=os.getpid(),
            version=__version__,
            started=self.started,
            home=self.home.root,
            data_dir=str(self.home.data_dir),
            socket=str(self.home.socket),
            log_path=str(self.home.log),
            device=self.device.sample(),
            jobs=self.jobs.infos(),
            clients=len(self.clients),
        )

    async def _shutdown(self, _: P.Shutdown) -> P.Result:
        asyncio.get_running_loop().call_later(0.05, self.stop)
        return P.Ok(message=f"engine {os.getpid()} stopping")

    async def _cancel(self, call: P.Cancel) -> P.Result:
        job = self.jobs.cancel(call.job_id)
        if job is None:
            raise DataError(
                f"no job '{call.job_id}'", "list jobs with: workbench jobs", "not_found"
            )
        if job.state not in ("queued", "running"):
            return P.Ok(message=f"job {job.id} already {job.state}")
        return P.Ok(message=f"cancelling job {job.id}")

    async def _jobs(self, _: P.Jobs) -> P.Result:
        return P.JobList(jobs=self.jobs.infos())

    async def _stream_events(self, call: P.StreamEvents) -> P.Result:
        if call.rate <= 0 or call.seconds <= 0:
            raise DataError("rate and seconds must be positive")

        def run(job: Job) -> P.Result | None:
            total = int(call.rate * call.seconds)
            t0 = time.perf_counter()
            for i in range(total):
                due = t0 + i / call.rate
                if (i & 255) == 0:
                    job.check_cancelled()
                    wait = due - time.perf_counter()
                    if wait > 0:
                        time.sleep(wait)
                job.log(f"event {i}")
                if not call.batch:
                    job.progress(i + 1, total)
            return P.Ok(message=f"{total} events")

        job = self.jobs.submit("diagnostic", f"stream {call.rate}/s", run, lane="io")
        return P.JobStarted(job_id=job.id)

    def call_soon(self, fn: Callable[..., Any], *args: Any) -> None:
        """Run fn on the loop, from any thread."""
        self._loop.call_soon_threadsafe(fn, *args)
