"""The engine's events: published from any thread, heard at once by listeners in the engine,
and handed to the server, which sends them to clients in batches."""

from __future__ import annotations

import logging
import threading
from collections import deque
from collections.abc import Callable
from typing import Any, TypeVar

import msgspec

from engine import protocol as P

log = logging.getLogger("engine.events")
E = TypeVar("E")
_encoder = msgspec.msgpack.Encoder()
_decoder: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(P.Event)


def snapshot(event: P.Event) -> P.Event:
    """A copy of the event as it is now. Publishers may go on changing what they published (a
    run's live RunInfo moves with every step); the copy is what every client is sent, however
    late it reads. An event the wire cannot carry is kept as it is (the server drops it)."""
    try:
        return _decoder.decode(_encoder.encode(event))  # type: ignore[no-any-return]
    except (OverflowError, TypeError, ValueError, msgspec.DecodeError):
        return event


class EventBus:
    """Thread-safe: publish from the loop or a worker thread alike."""

    def __init__(self) -> None:
        self._queue: deque[P.Event] = deque()
        self._listeners: dict[type, list[Callable[[Any], None]]] = {}
        self._lock = threading.Lock()

    def listen(self, kind: type[E], listener: Callable[[E], None]) -> None:
        """Call listener with every event of this type, in the publishing thread, before the
        event reaches any client (so a cache is forgotten before a client can ask again)."""
        with self._lock:
            self._listeners.setdefault(kind, []).append(listener)

    def publish(self, event: P.Event) -> None:
        with self._lock:
            listeners = list(self._listeners.get(type(event), ()))
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                log.exception("a listener of %s failed", type(event).__name__)
        self._queue.append(snapshot(event))  # deque appends are atomic

    def drain(self) -> list[P.Event]:
        """Every event published since the last drain, in order."""
        out: list[P.Event] = []
        queue = self._queue
        while queue:
            out.append(queue.popleft())
        return out
