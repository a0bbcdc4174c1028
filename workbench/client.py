"""Async client of the engine: connect (starting an engine if none runs), call, listen.

Every call gets exactly one answer: the engine's result, its typed error
raised as EngineError, or EngineGone when the link drops mid-request.
Torch-free: the app and the CLI both use it.
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
from engine.paths import Home, resolve_home

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
    """Start a detached engine for this home: own session, output to its log."""
    home.ensure()
    cmd = [sys.executable, "-m", "engine"]
    if home.root != "default":
        cmd += ["--home", home.root]
    with open(home.log, "ab") as log:
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
    """One connection to the engine of a home."""

    def __init__(self, home: Home | None = None, name: str = "workbench") -> None:
        self.home = home or resolve_home()
        self.name = name
        self.welcome: P.Welcome | None = None
        self.on_events: EventHandler | None = None
        self.on_disconnect: Callable[[str], None] | None = None
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

    async def connect(self, start: bool = True, timeout: float = 60.0) -> P.Welcome:
        """Attach to the running engine; with start=True, start one when none runs."""
        deadline = time.monotonic() + timeout
        proc: subprocess.Popen[bytes] | None = None
        while True:
            try:
                return await self._attach()
            except (FileNotFoundError, ConnectionRefusedError):
                if not start:
                    raise EngineGone(f"no engine is running for home {self.home.root}") from None
            if proc is None:
                proc = spawn_engine(self.home)
                self.spawned = True
            elif proc.poll() not in (None, 0, 3):  # 3: another engine won the race
                raise EngineError(
                    "engine_failed",
                    f"the engine exited with code {proc.returncode} while starting",
                    f"see its log: {self.home.log}",
                )
            if time.monotonic() > deadline:
                raise EngineError(
                    "engine_timeout",
                    f"the engine did not answer within {timeout:.0f} s",
                    f"see its log: {self.home.log}",
                )
            await asyncio.sleep(0.03)

    async def _attach(self) -> P.Welcome:
        reader, writer = await asyncio.open_unix_connection(str(self.home.socket))
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
                if self.on_events is not None:
                    self.on_events(msg.events, msg.dropped)
            elif isinstance(msg, P.Goodbye):
                return msg.reason
        return None

    def _drop(self, reason: str) -> None:
        was_connected = self._writer is not None
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

    async def call(self, call: P.Call, timeout: float | None = None) -> P.Result:
        """Send one request and wait for its one reply."""
        writer = self._writer
        if writer is None:
            raise EngineGone("not connected to the engine")
        rid = next(self._ids)
        fut: asyncio.Future[P.Reply] = asyncio.get_running_loop().create_future()
        self._pending[rid] = fut
        writer.write(P.encode(P.Request(id=rid, call=call)))
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

    async def request(self, call: P.Call, expect: type[R], timeout: float | None = None) -> R:
        """call(), checking the result's type (a typed helper for callers)."""
        result = await self.call(call, timeout)
        if not isinstance(result, expect):
            raise EngineError(
                "protocol", f"expected {expect.__name__}, got {type(result).__name__}"
            )
        return result
