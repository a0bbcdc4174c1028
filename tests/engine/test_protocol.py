"""Every message survives a round trip; garbage never raises anything but ProtocolError."""

from __future__ import annotations

import inspect
import typing

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import protocol as P

st.register_type_strategy(int, st.integers(-(2**63), 2**63 - 1))
st.register_type_strategy(float, st.floats(allow_nan=False, allow_infinity=False))

STRUCTS = [
    cls
    for _, cls in inspect.getmembers(P, inspect.isclass)
    if issubclass(cls, msgspec.Struct) and cls.__module__ == P.__name__
]
TAGGED = [cls for cls in STRUCTS if cls.__struct_config__.tag is not None]


def _struct_strategy(cls: type) -> st.SearchStrategy[object]:
    """Every field drawn from its annotation (hypothesis's own guess reuses default factories)."""
    hints = typing.get_type_hints(cls)
    fields = {
        f.name: st.deferred(lambda t=hints[f.name]: st.from_type(t))
        for f in msgspec.structs.fields(cls)
    }
    return st.builds(cls, **fields)


for _cls in STRUCTS:
    st.register_type_strategy(_cls, _struct_strategy(_cls))


def test_every_tagged_message_is_in_a_union() -> None:
    unions = [P.Call, P.Result, P.Event, P.Frame]
    members = {t for u in unions for t in u.__args__}
    missing = [cls.__name__ for cls in TAGGED if cls not in members]
    assert not missing, f"messages not reachable from any union: {missing}"


@pytest.mark.parametrize("cls", TAGGED, ids=lambda c: c.__name__)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip(cls: type, data: st.DataObject) -> None:
    msg = data.draw(st.from_type(cls))
    if cls in P.Call.__args__:
        frame: P.Frame = P.Request(id=7, call=msg)
    elif cls in P.Result.__args__:
        frame = P.Reply(id=7, result=msg)
    elif cls in P.Event.__args__:
        frame = P.EventBatch(events=[msg])
    else:
        frame = msg
    wire = P.encode(frame)
    back = P.decode_one(wire)
    assert type(back) is type(frame)
    # compare on the wire: hypothesis may leave msgspec's default-factory sentinel in
    # nested fields, which the encoder omits exactly as it omits a default
    assert P.encode(back) == wire
    assert P.decode_one(P.encode(back)) == back


@settings(max_examples=30, deadline=None)
@given(st.lists(st.from_type(P.Request), min_size=1, max_size=5), st.integers(1, 64))
def test_frames_split_anywhere_decode_the_same(msgs: list[P.Request], chunk: int) -> None:
    wire = b"".join(P.encode(m) for m in msgs)
    dec = P.FrameDecoder(P.ClientFrame)
    out: list[object] = []
    for i in range(0, len(wire), chunk):
        out.extend(dec.feed(wire[i : i + chunk]))
    assert out == msgs


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=512))
def test_garbage_raises_only_protocol_error(data: bytes) -> None:
    dec = P.FrameDecoder(P.ClientFrame)
    try:
        dec.feed(data)
    except P.ProtocolError:
        pass


def test_oversized_frame_is_refused_before_reading_it() -> None:
    dec = P.FrameDecoder(max_frame=1024)
    with pytest.raises(P.ProtocolError, match="over the 1024-byte limit"):
        dec.feed((10**6).to_bytes(4, "big") + b"x")


def test_wrong_message_for_direction_is_refused() -> None:
    wire = P.encode(P.Welcome(protocol_version=1, session_id="s", engine_version="0", pid=1))
    with pytest.raises(P.ProtocolError):
        P.FrameDecoder(P.ClientFrame).feed(wire)


def test_unknown_fields_are_ignored_for_compatibility() -> None:
    body = msgspec.msgpack.encode({"type": "hello", "protocol_version": 1, "future_field": 3})
    wire = len(body).to_bytes(4, "big") + body
    assert P.decode_one(wire, P.ClientFrame) == P.Hello(protocol_version=1)
