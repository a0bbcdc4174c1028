"""Every message survives a round trip; garbage never raises anything but ProtocolError."""

from __future__ import annotations

import inspect
import types
import typing
from typing import Any

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from engine import protocol as P

STRUCTS = [
    cls
    for _, cls in inspect.getmembers(P, inspect.isclass)
    if issubclass(cls, msgspec.Struct) and cls.__module__.startswith(P.__name__)
]
TAGGED = [cls for cls in STRUCTS if cls.__struct_config__.tag is not None]


def strategy_for(tp: object) -> st.SearchStrategy[Any]:
    """A strategy for a protocol type, built from annotations all the way down.

    hypothesis's own builder for nested structs can reuse msgspec's default-factory
    sentinel as a value; building every level here keeps values real.
    """
    if isinstance(tp, type) and issubclass(tp, msgspec.Struct):
        hints = typing.get_type_hints(tp)
        fields = {
            f.name: st.deferred(lambda t=hints[f.name]: strategy_for(t))
            for f in msgspec.structs.fields(tp)
        }
        return st.builds(tp, **fields)
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if origin in (typing.Union, types.UnionType):
        return st.one_of(*[strategy_for(a) for a in args])
    if origin is list:
        return st.lists(strategy_for(args[0]), max_size=3)
    if origin is dict:
        return st.dictionaries(strategy_for(args[0]), strategy_for(args[1]), max_size=3)
    if origin is tuple:
        return st.tuples(*[strategy_for(a) for a in args])
    if origin is typing.Literal:
        return st.sampled_from(args)
    if tp is int:
        return st.integers(-(2**63), 2**63 - 1)
    if tp is float:
        return st.floats(allow_nan=False, allow_infinity=False)
    return st.from_type(tp)  # type: ignore[arg-type]


@pytest.mark.parametrize("cls", TAGGED, ids=lambda c: c.__name__)
@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_round_trip(cls: type, data: st.DataObject) -> None:
    msg = data.draw(strategy_for(cls))
    if cls in P.Call.__args__:
        frame: P.Frame = P.Request(id=7, call=msg)
    elif cls in P.Result.__args__:
        frame = P.Reply(id=7, result=msg)
    elif cls in P.Event.__args__:
        frame = P.EventBatch(events=[msg])
    else:
        frame = msg
    assert P.decode_one(P.encode(frame)) == frame


@settings(max_examples=30, deadline=None)
@given(st.lists(strategy_for(P.Request), min_size=1, max_size=5), st.integers(1, 64))
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
    body = msgspec.msgpack.encode({"type": "wire.hello", "protocol_version": 1, "future_field": 3})
    wire = len(body).to_bytes(4, "big") + body
    assert P.decode_one(wire, P.ClientFrame) == P.Hello(protocol_version=1)
