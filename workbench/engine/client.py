"""Async client of the engine: connect (starting a local engine if none runs), ask, listen.

Every call gets exactly one answer: the engine's result (of the type the call declares), its
typed error raised as EngineError, or EngineGone when the link drops mid-request. Events go to
every subscribed handler. Torch-free: the app and the CLI both use it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import os
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any, TypeVar

from engine import protocol as P
from engine.paths import Home, HomeError, open_private
from workbench.engine.endpoint import Endpoint, endpoint_for

R = TypeVar("R")
EventHandler = Callable[[list[P.Event], int], None]  # (events, dropped)


class EngineError(Exception):
    """An error reply: code, a message a person can act on, and a hint."""

    def __init__(self, code: str, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.hint = hint

    @classmethod
    def of(cls, info: P.ErrorInfo) -> EngineError:
        return cls(info.code, info.message, info.hint)

    def __str__(self) -> str:
        return f"{self.message} ({self.hint})" if self.hint else self.message


class EngineGone(EngineError):
    def __init__(self, message: str) -> None:
        super().__init__(
            "engine_gone", message, "the workbench reconnects by itself; try again in a moment"
        )


def spawn_engine(home: Home) -> subprocess.Popen[bytes]:
    """Start a detached engine for this home: own session, output to its (private) log."""
    try:
        home.ensure()
    except HomeError as exc:
        raise EngineError("untrusted_home", str(exc)) from None
    cmd = [sys.executable, "-m", "engine"]
    if home.root != "default":
        cmd += ["--home", home.root]
    with os.fdopen(open_private(home.log, "a"), "ab") as log:
        return subprocess.Popen(
            cmd,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
            close_fds=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )


class EngineClient:
    """One connection to an engine (see Endpoint for where, and whether it may be started)."""

    def __init__(
        self,
        endpoint: Endpoint | Home | None = None,
        name: str = "workbench",
        on_disconnect: Callable[[str], None] | None = None,
    ) -> None:
        self.endpoint = endpoint if isinstance(endpoint, Endpoint) else endpoint_for(endpoint)
        self.name = name
        self.welcome: P.Welcome | None = None
        self._handlers: list[EventHandler] = []
        self.on_disconnect = on_disconnect
        self.lost_reason = ""  # why the last connection ended ("" while connected)
        self._lost: asyncio.Event | None = None
        self.spawned = False  # this client started the engine it talks to
        self._ids = itertools.count(1)
        self._pending: dict[int, asyncio.Future[P.Reply]] = {}
        self._writer: asyncio.StreamWriter | None = None
        self._reader_task: asyncio.Task[None] | None = None
        self._closing = False

    @property
    def connected(self) -> bool:
        return self._writer is not None and self.welcome is not None

    @property
    def session_id(self) -> str:
        return self.welcome.session_id if self.welcome else ""

    # ------------------------------------------------------------- connecting

    def subscribe(self, handler: EventHandler) -> Callable[[], None]:
        """Give handler every batch of events (with how many were dropped); returns the call
        that unsubscribes it."""
        self._handlers.append(handler)
        return lambda: self._handlers.remove(handler) if handler in self._handlers else None

    async def connect(self, start: bool = True, timeout: float = 60.0) -> P.Welcome:
        """Attach to the running engine; with start=True and a local home, start one when
        none runs. An engine at a given socket is never started here."""
        deadline = time.monotonic() + timeout
        proc: subprocess.Popen[bytes] | None = None
        home = self.endpoint.home
        while True:
            try:
                return await self._attach()
            except (FileNotFoundError, ConnectionRefusedError):
                if not start or home is None:
                    raise EngineGone(
                        f"no engine is running {self.endpoint.describe()}"
                        + ("" if home is not None else " (an engine there is never started here)")
                    ) from None
            if proc is None:
                proc = spawn_engine(home)
                self.spawned = True
            elif proc.poll() not in (None, 0, 3):  # 3: another engine won the race
                raise EngineError(
                    "engine_failed",
                    f"the engine exited with code {proc.returncode} while starting",
                    f"see its log: {home.log}",
                )
            if time.monotonic() > deadline:
                raise EngineError(
                    "engine_timeout",
                    f"the engine did not answer within {timeout:.0f} s",
                    f"see its log: {home.log}",
                )
            await asyncio.sleep(0.03)

    async def _attach(self) -> P.Welcome:
        home = self.endpoint.home
        if home is not None:
            try:  # never talk through a folder another user could have put a socket in
                home.check_socket_dir()
            except HomeError as exc:
                if not home.socket_dir.exists():
                    raise FileNotFoundError(str(home.socket_dir)) from None
                raise EngineError("untrusted_home", str(exc)) from None
        reader, writer = await asyncio.open_unix_connection(str(self.endpoint.socket))
        uid = P.peer_uid(writer.get_extra_info("socket"))
        if uid is not None and uid != os.getuid():
            writer.close()
            raise EngineError(
                "untrusted_engine",
                f"the engine at {self.endpoint.socket} runs as uid {uid}, not as you "
                f"(uid {os.getuid()}); nothing was sent to it",
                "another user's process is listening there: stop it, or use a home of your "
                "own (WORKBENCH_HOME)",
            )
        writer.write(P.encode(P.Hello(protocol_version=P.PROTOCOL_VERSION, client=self.name)))
        decoder = P.FrameDecoder(P.EngineFrame)
        msgs: list[Any] = []
        try:
            async with asyncio.timeout(10):
                while not msgs:
                    data = await reader.read(65536)
                    if not data:
                        raise ConnectionRefusedError("engine closed the connection")
                    msgs = decoder.feed(data)
        except TimeoutError:
            writer.close()
            raise EngineError(
                "engine_timeout", "the engine accepted but never answered the handshake"
            ) from None
        first = msgs[0]
        if isinstance(first, P.Goodbye):
            writer.close()
            raise EngineError("protocol", first.reason)
        if not isinstance(first, P.Welcome):
            writer.close()
            raise EngineError("protocol", f"expected Welcome, got {type(first).__name__}")
        self.welcome = first
        self._writer = writer
        self._closing = False
        self.lost_reason = ""
        self._lost = asyncio.Event()
        self._reader_task = asyncio.create_task(self._read_loop(reader, decoder, msgs[1:]))
        return first

    async def close(self) -> None:
        self._closing = True
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(Exception):
                await self._writer.wait_closed()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader_task
        self._drop("the client closed")

    # ------------------------------------------------------------- traffic

    async def _read_loop(
        self, reader: asyncio.StreamReader, decoder: P.FrameDecoder, early: list[Any]
    ) -> None:
        reason = "the engine closed the connection"
        try:
            self._dispatch(early)
            while True:
                data = await reader.read(1 << 20)
                if not data:
                    break
                gone = self._dispatch(decoder.feed(data))
                if gone:
                    reason = gone
                    break
        except P.ProtocolError as exc:
            reason = f"unreadable data from the engine: {exc}"
        except (ConnectionError, OSError) as exc:
            reason = f"lost the engine: {exc}"
        finally:
            self._drop(reason)

    def _dispatch(self, msgs: list[Any]) -> str | None:
        for msg in msgs:
            if isinstance(msg, P.Reply):
                fut = self._pending.pop(msg.id, None)
                if fut is not None and not fut.done():
                    fut.set_result(msg)
            elif isinstance(msg, P.EventBatch):
                for handler in list(self._handlers):
                    handler(msg.events, msg.dropped)
            elif isinstance(msg, P.Goodbye):
                return msg.reason
        return None

    async def wait_lost(self) -> str:
        """Wait until the connection ends; why it ended."""
        if self._lost is None:
            return self.lost_reason or "not connected to the engine"
        await self._lost.wait()
        return self.lost_reason

    def _drop(self, reason: str) -> None:
        was_connected = self._writer is not None
        if was_connected:
            self.lost_reason = reason
        if self._lost is not None:
            self._lost.set()
        if self._writer is not None:
            with contextlib.suppress(Exception):
                self._writer.close()
        self._writer = None
        pending, self._pending = self._pending, {}
        for fut in pending.values():
            if not fut.done():
                fut.set_exception(EngineGone(f"request lost: {reason}"))
        if was_connected and not self._closing and self.on_disconnect is not None:
            self.on_disconnect(reason)

    async def ask(self, call: P.Returns[R], timeout: float | None = None) -> R:
        """Send one call and wait for its one reply: the result its type declares."""
        result = await self._call(call, timeout)
        expected = P.result_type(type(call))
        if not isinstance(result, expected):
            raise EngineError(
                "protocol", f"expected {expected.__name__}, got {type(result).__name__}"
            )
        return result  # type: ignore[return-value]

    async def _call(self, call: Any, timeout: float | None) -> P.Result:
        writer = self._writer
        if writer is None:
            raise EngineGone("not connected to the engine")
        rid = next(self._ids)
        try:
            data = P.encode(P.Request(id=rid, call=call))
        except (OverflowError, TypeError, ValueError) as exc:
            raise EngineError(
                "bad_input",
                f"{type(call).__name__} could not be sent: {exc}",
                "numbers must fit in 64 bits (at most 9,223,372,036,854,775,807)",
            ) from None
        fut: asyncio.Future[P.Reply] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        writer.write(data)
        try:
            if timeout is None:
                reply = await fut
            else:
                async with asyncio.timeout(timeout):
                    reply = await fut
        except TimeoutError:
            self._pending.pop(rid, None)
            raise EngineError(
                "timeout",
                f"the engine did not answer {type(call).__name__} within {timeout:.0f} s",
            ) from None
        if reply.error is not None:
            raise EngineError.of(reply.error)
        assert reply.result is not None
        return reply.result
