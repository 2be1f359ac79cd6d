"""The msgpack codec: ext-type round trips and errors."""

from __future__ import annotations

import collections
import datetime as dt
import decimal
import enum
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import msgpack
import pytest
from hypothesis import given, settings

import converters

from .strategies import same, values


def roundtrip(value: Any) -> Any:
    text = converters.dumps(value, codec="msgpack", threshold=10**9)
    assert text.startswith("msgpack/1:") and text.isascii()
    return converters.loads(text)


CASES = [
    None,
    2**64 - 1,
    -(2**63),
    2**64,
    -(2**63) - 1,
    [2**100, {2**70: (2**65,)}],
    "\ud800 lone surrogate",
    {"s": ("\udfff",)},
    (1, (2, (3,))),
    {(1, 2): {frozenset({1}): {3, 4}}},
    dt.datetime(2024, 10, 27, 2, 30, tzinfo=ZoneInfo("Europe/Paris"), fold=1),
    dt.datetime(2024, 1, 1, tzinfo=dt.timezone(dt.timedelta(hours=5, minutes=45))),
    dt.date(2024, 2, 29),
    dt.time(1, 2, 3, 4),
    dt.timedelta(seconds=-1),
    decimal.Decimal("3.14159265358979323846264338327950288"),
    uuid.uuid4(),
    b"\x00" * 100,
    {"b": bytearray(b"x") and b"x", 1: 2.5, None: True},
]


@pytest.mark.parametrize("value", CASES, ids=repr)
def test_round_trip_table(value: Any) -> None:
    assert same(roundtrip(value), value)


@settings(max_examples=150, deadline=None)
@given(values)
def test_round_trip_property(value: Any) -> None:
    assert same(roundtrip(value), value)


def test_subclasses_travel_as_their_base_type() -> None:
    Point = collections.namedtuple("Point", "x y")
    Shade = enum.Enum("Shade", {"DARK": "dark"}, type=str)
    out = roundtrip({"p": Point(1, 2), "o": collections.OrderedDict(a=1), "s": Shade.DARK, "i": enum.IntFlag("F", "A").A})
    assert out == {"p": (1, 2), "o": {"a": 1}, "s": "dark", "i": 1} and type(out["p"]) is tuple
    assert type(out["s"]) is str and type(out["i"]) is int


def test_encode_error_names_type_and_path() -> None:
    with pytest.raises(converters.EncodeError) as info:
        converters.dumps({"rows": [0, 1, 2, (0, object())]}, codec="msgpack", what="result")
    assert 'result["rows"][3][1]' in str(info.value) and "type object" in str(info.value)
    assert info.value.path == 'result["rows"][3][1]' and info.value.type_name == "object"


def test_circular_reference_is_an_encode_error() -> None:
    loop: dict[str, Any] = {}
    loop["me"] = [loop]
    with pytest.raises(converters.EncodeError, match=r'value\["me"\]\[0\].*circular reference'):
        converters.dumps(loop, codec="msgpack")


def test_unknown_ext_type_is_a_decode_error() -> None:
    from converters._b64 import b64encode

    payload = b64encode(msgpack.packb([msgpack.ExtType(99, b"?")]))
    with pytest.raises(converters.DecodeError, match=r"unknown msgpack ext type 99"):
        converters.loads(f"msgpack/1:{payload}")


def test_bad_base64_is_a_decode_error() -> None:
    with pytest.raises(converters.DecodeError, match=r"corrupt msgpack/1 payload: bad base64"):
        converters.loads("msgpack/1:not base64!")


def test_truncated_payload_is_a_decode_error() -> None:
    text = converters.dumps(list(range(100)), codec="msgpack")
    with pytest.raises(converters.DecodeError, match=r"corrupt msgpack/1 payload"):
        converters.loads(text[:-8])
