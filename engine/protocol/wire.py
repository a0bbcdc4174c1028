"""Frames on the socket: a 4-byte big-endian length, then a msgpack body.

Conversation:
    client -> Hello                     engine -> Welcome (or Goodbye)
    client -> Request(id, call)         engine -> Reply(id, result | error), exactly one
    engine -> EventBatch(events)        at any time after Welcome, batched
Long work is a job: its request replies JobStarted(job_id) at once; progress and the end state
arrive later as JobProgress / JobEnded events.
"""

from __future__ import annotations

import socket
import struct
import sys
from typing import Any

import msgspec

from engine.protocol import Call, Event, Result
from engine.protocol.base import Base, ErrorInfo

MAX_FRAME = 64 * 1024 * 1024  # a frame over this is garbage, not data
_HEADER = struct.Struct(">I")


class Hello(Base, tag="wire.hello"):
    protocol_version: int
    client: str = "workbench"


class Welcome(Base, tag="wire.welcome"):
    protocol_version: int
    session_id: str
    engine_version: str
    pid: int
    host: str = ""  # the engine's machine (socket.gethostname()): every path in a call means it
    device: str = ""  # cuda, mps or cpu; "" while torch is still loading in the engine
    device_name: str = ""
    # what this engine serves: its call domains (attack, datasets, ...) and its device's
    # features (bf16, cuda, nccl ...), known once torch has loaded
    capabilities: list[str] = []


class Goodbye(Base, tag="wire.goodbye"):
    """The engine closes this connection; reason says why."""

    reason: str


class Request(Base, tag="wire.request"):
    id: int
    call: Call


class Reply(Base, tag="wire.reply"):
    id: int
    result: Result | None = None
    error: ErrorInfo | None = None


class EventBatch(Base, tag="wire.events"):
    events: list[Event]
    dropped: int = 0  # events this client missed because it read too slowly


ClientFrame = Hello | Request
EngineFrame = Welcome | Goodbye | Reply | EventBatch
Frame = ClientFrame | EngineFrame


class ProtocolError(Exception):
    """A frame that cannot be read: too large, truncated, or not a known message."""


_encoder = msgspec.msgpack.Encoder()


def encode(msg: Frame) -> bytes:
    """The framed bytes of one message: length prefix and msgpack body."""
    body = _encoder.encode(msg)
    return _HEADER.pack(len(body)) + body


class FrameDecoder:
    """Incremental decoder: feed bytes as they arrive, get whole messages out."""

    def __init__(self, kind: Any = Frame, max_frame: int = MAX_FRAME) -> None:
        self._decoder: msgspec.msgpack.Decoder[Any] = msgspec.msgpack.Decoder(kind)
        self._buf = bytearray()
        self._max = max_frame

    @property
    def pending(self) -> int:
        """Bytes held for frames not yet complete."""
        return len(self._buf)

    def clear(self) -> None:
        """Drop what is held (the connection is gone)."""
        self._buf = bytearray()

    def feed(self, data: bytes) -> list[Any]:
        """Add bytes; return every complete message. Raises ProtocolError on garbage."""
        buf = self._buf
        buf += data
        out: list[Any] = []
        pos = 0
        n = len(buf)
        while n - pos >= 4:
            (size,) = _HEADER.unpack_from(buf, pos)
            if size > self._max:
                raise ProtocolError(f"frame of {size} bytes is over the {self._max}-byte limit")
            if n - pos - 4 < size:
                break
            body = bytes(buf[pos + 4 : pos + 4 + size])
            pos += 4 + size
            try:
                out.append(self._decoder.decode(body))
            except (msgspec.DecodeError, msgspec.ValidationError) as exc:
                raise ProtocolError(f"unreadable frame: {exc}") from None
        if pos:
            del buf[:pos]
        return out


_PEERCRED = struct.Struct("3i")  # struct ucred: pid, uid, gid


def peer_uid(sock: socket.socket | None) -> int | None:
    """The uid of the process at the other end of a Unix socket (SO_PEERCRED on Linux,
    getpeereid elsewhere); None when the platform cannot say."""
    if sock is None:
        return None
    if hasattr(socket, "SO_PEERCRED"):
        raw = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, _PEERCRED.size)
        return int(_PEERCRED.unpack(raw)[1])
    if sys.platform == "darwin":  # LOCAL_PEERCRED: struct xucred {version, uid, ...}
        raw = sock.getsockopt(0, 0x001, 76)
        return int(struct.unpack_from("Ii", raw)[1])
    return None


def decode_one(data: bytes, kind: Any = Frame) -> Any:
    """Decode exactly one framed message (tests and tools)."""
    msgs = FrameDecoder(kind).feed(data)
    if len(msgs) != 1:
        raise ProtocolError(f"expected one frame, found {len(msgs)}")
    return msgs[0]
