"""The server: a Unix socket that answers calls through the call table and streams events.

The asyncio loop owns the socket. Each call runs where its handler is declared (engine.core.
calls): inline on the loop, in a small query pool, or as a job. Events are queued per client
and flushed in batches a few tens of times a second. The server knows no domain: the engine
(engine.wiring) hands it a Dispatch of every domain's bound handlers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from engine import __version__
from engine import protocol as P
from engine.core.calls import Bound, Dispatch
from engine.core.errors import EngineError, from_os_error
from engine.core.events import EventBus
from engine.core.jobs import Job, JobManager
from engine.paths import Home

log = logging.getLogger("engine.server")
T = TypeVar("T")

FLUSH_INTERVAL = 0.02  # event batches at most 50 times a second per client
HANDSHAKE_TIMEOUT = 10.0
OUTBOX_LIMIT = 200_000  # events held for a slow client before the oldest are dropped
BATCH_EVENTS = 5_000  # events in one frame at most (a frame over MAX_FRAME is split too)
WRITE_BUFFER_LIMIT = 8 * 1024 * 1024
PENDING_LIMIT = 256 * 1024 * 1024  # bytes of unfinished frames held for all clients together


class Connection:
    """One attached client: its socket and the events waiting for it."""

    def __init__(self, cid: int, writer: asyncio.StreamWriter) -> None:
        self.cid = cid
        self.writer = writer
        self.decoder = P.FrameDecoder(P.ClientFrame)
        self.outbox: list[P.Event] = []
        self.dropped = 0
        self.closed = False

    def send(self, msg: P.Frame) -> None:
        if self.closed:
            return
        try:
            data = P.encode(msg)
        except (OverflowError, TypeError, ValueError) as exc:  # e.g. an int beyond 64 bits
            if isinstance(msg, P.EventBatch):
                data = P.encode(encodable_batch(msg))
            elif isinstance(msg, P.Reply):
                log.warning("reply %d could not be encoded: %s", msg.id, exc)
                data = P.encode(P.Reply(id=msg.id, error=unencodable(exc)))
            else:
                log.warning("a frame to client %d could not be encoded: %s", self.cid, exc)
                return
        if len(data) > P.MAX_FRAME and isinstance(msg, P.EventBatch):  # split: frames that fit
            half = len(msg.events) // 2
            if half == 0:
                log.warning("an event of %d bytes cannot be sent: dropped", len(data))
                self.dropped += len(msg.events) + msg.dropped
                return
            self.send(P.EventBatch(events=msg.events[:half], dropped=msg.dropped))
            self.send(P.EventBatch(events=msg.events[half:]))
            return
        if len(data) > P.MAX_FRAME and isinstance(msg, P.Reply):  # no client could read it
            log.warning("reply %d is %d bytes: refused", msg.id, len(data))
            data = P.encode(P.Reply(id=msg.id, error=too_large(len(data))))
        self.writer.write(data)

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
        events, dropped = self.outbox, self.dropped
        self.outbox, self.dropped = [], 0
        for start in range(0, len(events), BATCH_EVENTS):  # a long stall: several frames
            self.send(P.EventBatch(events=events[start : start + BATCH_EVENTS], dropped=dropped))
            dropped = 0


class Server:
    """Serves one home's socket until stop() is called."""

    def __init__(
        self,
        home: Home,
        session_id: str,
        dispatch: Dispatch,
        bus: EventBus,
        jobs: JobManager,
        pool: ThreadPoolExecutor,
    ) -> None:
        self.home = home
        self.session_id = session_id
        self.dispatch = dispatch
        self.bus = bus
        self.jobs = jobs
        self.pool = pool
        self.clients: dict[int, Connection] = {}
        self._next_cid = 0
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None
        # (device kind, its name, its features) for the Welcome; "" while torch loads
        self.describe_device: Callable[[], tuple[str, str, list[str]]] = lambda: ("", "", [])
        self._host = socket.gethostname()

    # ------------------------------------------------------------------ lifecycle

    async def serve(self, on_listening: Callable[[], None] = lambda: None) -> None:
        """Listen on the home's socket, answer until stop(), then say goodbye to everyone."""
        self._loop = asyncio.get_running_loop()
        sock = self.home.socket
        with contextlib.suppress(FileNotFoundError):
            sock.unlink()  # we hold the home lock, so any socket here is stale
        old_umask = os.umask(0o177)  # the socket is born 0600: no window for others
        try:
            server = await asyncio.start_unix_server(self._on_client, path=str(sock))
        finally:
            os.umask(old_umask)
        os.chmod(sock, 0o600)
        self.home.pidfile.write_text(f"{os.getpid()}\n")
        on_listening()
        log.info(
            "engine %s (pid %d, session %s) listening on %s",
            __version__,
            os.getpid(),
            self.session_id,
            sock,
        )
        flusher = asyncio.create_task(self._flush_loop(), name="flush")
        await self._stopping.wait()
        log.info("engine stopping")
        self.jobs.shutdown()
        flusher.cancel()
        server.close()
        for conn in list(self.clients.values()):
            conn.send(P.Goodbye(reason="engine stopped"))
            conn.writer.close()
        with contextlib.suppress(FileNotFoundError):
            sock.unlink()
        with contextlib.suppress(FileNotFoundError):
            self.home.pidfile.unlink()
        self.pool.shutdown(wait=False, cancel_futures=True)

    def stop(self) -> None:
        """Stop soon; safe from any thread."""
        loop = self._loop
        if loop is None:
            self._stopping.set()
        else:
            loop.call_soon_threadsafe(loop.call_later, 0.05, self._stopping.set)

    # ------------------------------------------------------------------ clients

    async def _on_client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._next_cid += 1
        conn = Connection(self._next_cid, writer)
        attached = False
        try:
            uid = P.peer_uid(writer.get_extra_info("socket"))
            if uid is not None and uid != os.getuid():
                log.warning(
                    "refused client %d: it runs as uid %d, not %d", conn.cid, uid, os.getuid()
                )
                conn.send(P.Goodbye(reason=f"refused: this engine serves uid {os.getuid()} only"))
                return
            if not await self._handshake(conn, reader):
                return
            attached = True
            self.clients[conn.cid] = conn
            log.info("client %d attached (%d attached)", conn.cid, len(self.clients))
            while True:
                data = await reader.read(256 * 1024)
                if not data:
                    break
                for msg in self._feed(conn, data):
                    if isinstance(msg, P.Request):
                        self._on_request(conn, msg)
                    else:
                        raise P.ProtocolError(f"unexpected {type(msg).__name__} after handshake")
        except P.ProtocolError as exc:
            log.warning("client %d sent garbage, closing it: %s", conn.cid, exc)
            conn.send(P.Goodbye(reason=f"protocol error: {exc}"))
        except TimeoutError:
            log.info("client %d never said hello within %.0f s", conn.cid, HANDSHAKE_TIMEOUT)
            conn.send(P.Goodbye(reason="no hello within the handshake timeout"))
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            conn.closed = True
            conn.decoder.clear()  # a half-sent frame is freed now, not at a later collection
            self.clients.pop(conn.cid, None)
            with contextlib.suppress(Exception):
                writer.close()
            if attached:
                log.info("client %d detached (%d attached)", conn.cid, len(self.clients))

    def _feed(self, conn: Connection, data: bytes) -> list[Any]:
        """Whole frames from a client's bytes; ProtocolError when the clients together hold
        more unfinished frames than PENDING_LIMIT."""
        msgs = conn.decoder.feed(data)
        if conn.decoder.pending > 4096:  # cheap for the common case of whole frames
            held = sum(c.decoder.pending for c in self.clients.values())
            if conn.cid not in self.clients:
                held += conn.decoder.pending
            if held > PENDING_LIMIT:
                raise P.ProtocolError(
                    f"clients hold {held:,} bytes of unfinished frames, over the "
                    f"{PENDING_LIMIT:,}-byte limit"
                )
        return msgs

    async def _handshake(self, conn: Connection, reader: asyncio.StreamReader) -> bool:
        msgs: list[Any] = []
        async with asyncio.timeout(HANDSHAKE_TIMEOUT):
            while not msgs:
                data = await reader.read(64 * 1024)
                if not data:
                    return False
                msgs = self._feed(conn, data)
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
        kind, name, features = self.describe_device()
        conn.send(
            P.Welcome(
                protocol_version=P.PROTOCOL_VERSION,
                session_id=self.session_id,
                engine_version=__version__,
                pid=os.getpid(),
                host=self._host,
                device=kind,
                device_name=name,
                capabilities=self.dispatch.domains() + features,
            )
        )
        for msg in msgs[1:]:  # a client may pipeline requests after its Hello
            if isinstance(msg, P.Request):
                self._on_request(conn, msg)
        return True

    # ------------------------------------------------------------------ calls

    def _on_request(self, conn: Connection, req: P.Request) -> None:
        bound = self.dispatch.get(type(req.call))
        if bound is not None and bound.handler.run == "loop":  # quick: answer inline, no task
            conn.send(self._answer_now(req, bound))
            return
        task = asyncio.create_task(self._answer(conn, req, bound))
        self._tasks.add(task)  # keep a reference until it is done
        task.add_done_callback(self._tasks.discard)

    def _answer_now(self, req: P.Request, bound: Bound) -> P.Reply:
        try:
            result = bound.handler.fn(bound.service, req.call)
            return P.Reply(id=req.id, result=self._checked(req.call, result))
        except Exception as exc:
            return self._error_reply(req, exc)

    async def _answer(self, conn: Connection, req: P.Request, bound: Bound | None) -> None:
        try:
            if bound is None:
                raise EngineError(f"unknown call {type(req.call).__name__}", code="unsupported")
            reply = P.Reply(id=req.id, result=await self._run(bound, req.call))
        except Exception as exc:
            reply = self._error_reply(req, exc)
        if conn.closed:
            log.info("client %d left before its reply to request %d", conn.cid, req.id)
            return
        conn.send(reply)

    async def _run(self, bound: Bound, call: Any) -> P.Result:
        handler = bound.handler
        loop = asyncio.get_running_loop()
        outcome = await loop.run_in_executor(self.pool, handler.fn, bound.service, call)
        if handler.run == "job":
            assert handler.title is not None
            job = self.jobs.submit(handler.kind, handler.title(call), outcome, lane=handler.lane)
            outcome = P.JobStarted(job_id=job.id)
        return self._checked(call, outcome)

    @staticmethod
    def _checked(call: Any, result: Any) -> P.Result:
        expected = P.result_type(type(call))
        if not isinstance(result, expected):
            raise TypeError(
                f"the handler of {type(call).__name__} returned {type(result).__name__}, "
                f"not {expected.__name__}"
            )
        return result  # type: ignore[no-any-return]

    def _error_reply(self, req: P.Request, exc: Exception) -> P.Reply:
        if isinstance(exc, OSError):
            exc = from_os_error(exc, self.home.data_dir) or exc
        if isinstance(exc, EngineError):
            return P.Reply(id=req.id, error=P.error(exc.code, exc.message, exc.hint))
        log.error("request %s failed", type(req.call).__name__, exc_info=exc)
        return P.Reply(
            id=req.id,
            error=P.error(
                "internal",
                f"{type(exc).__name__}: {exc}",
                "the engine log has the details: workbench engine logs",
            ),
        )

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
        events.extend(self.bus.drain())
        for conn in list(self.clients.values()):
            if events:
                conn.queue(events)
            conn.flush()


def encodable_batch(batch: P.EventBatch) -> P.EventBatch:
    """The batch without the events the wire cannot carry; a job's end that cannot be sent
    as it is still ends the job, with the reason as its error."""
    kept: list[P.Event] = []
    dropped = batch.dropped
    for event in batch.events:
        try:
            P.encode(P.EventBatch(events=[event]))
        except (OverflowError, TypeError, ValueError) as exc:
            log.warning("an event could not be encoded: %s", exc)
            if isinstance(event, P.JobEnded):
                kept.append(P.JobEnded(job=event.job, error=unencodable(exc)))
            else:
                dropped += 1
            continue
        kept.append(event)
    return P.EventBatch(events=kept, dropped=dropped)


def unencodable(exc: Exception) -> P.ErrorInfo:
    """The answer held a value the wire cannot carry (msgpack ints are 64 bits at most)."""
    return P.error(
        "bad_input",
        f"the answer could not be sent: {exc}; a number in the request is probably too large",
        "numbers must fit in 64 bits; check the values you gave",
    )


def too_large(size: int) -> P.ErrorInfo:
    return P.error(
        "too_large",
        f"the answer would be {size:,} bytes, over the {P.MAX_FRAME:,}-byte limit of a frame",
        "ask for less: fewer rows, words or points at a time",
    )


def job_ended(job: Job) -> P.Event:
    """The event that says a job ended (logs it left are drained first by the caller)."""
    return P.JobEnded(job=job.info(), error=job.error, result=job.result)
