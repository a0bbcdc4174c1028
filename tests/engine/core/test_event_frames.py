"""A slow client's events after a long stall leave in frames a client can read: at most
BATCH_EVENTS a frame, a frame over MAX_FRAME split in halves, an event too large for any
frame dropped and counted, never a frame the client would refuse."""

from __future__ import annotations

from typing import Any

import pytest

from engine import protocol as P
from engine.core import server


class Transport:
    def get_write_buffer_size(self) -> int:
        return 0


class Writer:
    """What Connection writes, kept."""

    def __init__(self) -> None:
        self.transport = Transport()
        self.frames: list[bytes] = []

    def write(self, data: bytes) -> None:
        self.frames.append(data)


def _batches(writer: Writer) -> list[P.EventBatch]:
    decoder = P.FrameDecoder(P.EngineFrame)
    out: list[Any] = []
    for frame in writer.frames:
        out += decoder.feed(frame)
    assert all(isinstance(m, P.EventBatch) for m in out)
    return out


def _log(i: int, size: int = 10) -> P.JobLog:
    return P.JobLog(job_id="j1", seq=i, text="x" * size)


def test_a_long_stall_leaves_in_frames_of_at_most_batch_events() -> None:
    writer = Writer()
    conn = server.Connection(1, writer)  # type: ignore[arg-type]
    conn.queue([_log(i) for i in range(server.BATCH_EVENTS * 2 + 7)])
    conn.dropped = 3
    conn.flush()
    batches = _batches(writer)
    assert [len(b.events) for b in batches] == [server.BATCH_EVENTS] * 2 + [7]
    assert [b.dropped for b in batches] == [3, 0, 0]  # told once
    seqs = [e.seq for b in batches for e in b.events]
    assert seqs == list(range(server.BATCH_EVENTS * 2 + 7))  # in order


def test_a_frame_too_large_is_split_and_an_event_too_large_dropped(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(P, "MAX_FRAME", 4096)
    writer = Writer()
    conn = server.Connection(1, writer)  # type: ignore[arg-type]
    conn.queue([_log(i, 300) for i in range(40)] + [_log(99, 10_000)])
    conn.flush()
    batches = _batches(writer)
    assert all(len(f) <= 4096 + 4 for f in writer.frames)
    assert [e.seq for b in batches for e in b.events] == list(range(40))
    assert conn.dropped == 1  # the one that fits no frame, told with the next batch
    conn.queue([_log(100)])
    conn.flush()
    assert _batches(writer)[-1].dropped == 1
