"""The json codec: tagged round trips, its fast path, and its errors."""

from __future__ import annotations

import collections
import datetime as dt
import decimal
import enum
import uuid
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings

import converters
from converters._json import JsonCodec, _is_plain, _tagged, _Walker

from .strategies import plain_json, same, values

codec = JsonCodec()


def roundtrip(value: Any) -> Any:
    return converters.loads(converters.dumps(value, codec="json", threshold=10**9))


class Color(enum.IntEnum):
    RED = 1


class Shade(str, enum.Enum):
    DARK = "dark"


CASES = [
    None,
    True,
    0,
    -(2**200),
    1.5,
    float("inf"),
    "héllo \ud800 \x00",
    [],
    {},
    (1, "a", None),
    (),
    [(1, 2), [3, (4,)]],
    {1: "int key", 2.5: "float", None: "none", True: "bool", (1, 2): "tuple", frozenset({3}): "frozenset"},
    {"nested": {"k": {1: [dt.date(2024, 2, 29)]}}},
    dt.datetime(2024, 1, 2, 3, 4, 5, 6),
    dt.datetime(2024, 1, 2, 3, 4, 5, tzinfo=dt.timezone(dt.timedelta(hours=-3, minutes=-30))),
    dt.datetime(2024, 10, 27, 2, 30, tzinfo=ZoneInfo("Europe/Paris"), fold=1),
    dt.date(1, 1, 1),
    dt.time(23, 59, 59, 999999),
    dt.timedelta(days=-3, microseconds=7),
    decimal.Decimal("1.10"),
    decimal.Decimal("-0E-30"),
    uuid.UUID(int=12345),
    b"\x00\xffbytes",
    {1, 2, 3},
    frozenset({"a", (1, 2)}),
    {"!tuple": [1, 2]},
    {"!": 1},
    {"!a": 1, "b": [{"!set": []}]},
    ["{\"!tuple\": [1]}"],
]


@pytest.mark.parametrize("value", CASES, ids=repr)
def test_round_trip_table(value: Any) -> None:
    assert same(roundtrip(value), value)


@settings(max_examples=150, deadline=None)
@given(values)
def test_round_trip_property(value: Any) -> None:
    assert same(roundtrip(value), value)


@settings(max_examples=150, deadline=None)
@given(plain_json)
def test_fast_path_matches_the_tagged_walk(value: Any) -> None:
    """Plain JSON takes the C-speed path, whose text is what the careful walk would write."""
    assert codec.encode(value) == _tagged(_Walker(False).walk(value))


def test_plain_json_is_readable() -> None:
    assert converters.dumps({"a": [1, 2.5, None, True, "x"]}, codec="json") == 'json/1:{"a":[1,2.5,null,true,"x"]}'


@pytest.mark.parametrize(
    "value, plain",
    [
        ({"a": [1, {"b": [2, "c"]}]}, True),
        ({"a": [1, {"b": [2, (3,)]}]}, False),
        ({"a": [{"b": {5: 1}}]}, False),
        ([{"x": 1}, {"y": 2}, {2: 3}], False),
        ({"k": collections.OrderedDict(a=1)}, False),
        ([[[[[[Color.RED]]]]]], False),
        ({"d": {"e": {"f": {"g": dt.date.today()}}}}, False),
    ],
)
def test_detection_of_values_that_need_tags(value: Any, plain: bool) -> None:
    assert _is_plain(value) is plain


def test_subclasses_travel_as_their_base_type() -> None:
    value = {"c": Color.RED, "o": collections.OrderedDict(b=2, a=1), "d": collections.defaultdict(list, x=[1]), "s": (Shade.DARK,)}
    out = roundtrip(value)
    assert out == {"c": 1, "o": {"b": 2, "a": 1}, "d": {"x": [1]}, "s": ("dark",)}
    assert type(out["c"]) is int and type(out["o"]) is dict


def test_zoneinfo_is_kept() -> None:
    value = dt.datetime(2024, 3, 10, 12, tzinfo=ZoneInfo("America/New_York"))
    out = roundtrip(value)
    assert out == value and out.tzinfo == ZoneInfo("America/New_York")


def test_user_dicts_that_look_like_tags_are_escaped() -> None:
    text = converters.dumps({"!tuple": [1, 2]}, codec="json")
    assert text == 'json/1:{"!dict":[["!tuple",[1,2]]]}'
    assert converters.loads(text) == {"!tuple": [1, 2]}


@pytest.mark.parametrize(
    "value, path, type_name",
    [
        ({"rows": [0, 1, 2, object()]}, 'result["rows"][3]', "object"),
        ({"rows": (0, {"x": {1, 2, 3j}})}, 'result["rows"][1]["x"][<item of a set>]', "complex"),
        ({5: [bytearray(b"x")]}, "result[5][0]", "bytearray"),
        ([{object(): 1}], "result[0][<key", "object"),
    ],
)
def test_encode_error_names_type_and_path(value: Any, path: str, type_name: str) -> None:
    with pytest.raises(converters.EncodeError) as info:
        converters.dumps(value, codec="json", what="result")
    assert path in str(info.value) and f"type {type_name} " in str(info.value)
    assert info.value.type_name == type_name
    assert info.value.path is not None and info.value.path.startswith(path)


def test_circular_reference_is_an_encode_error() -> None:
    loop: list[Any] = [1]
    loop.append({"again": loop})
    with pytest.raises(converters.EncodeError, match=r"circular reference"):
        converters.dumps(loop, codec="json")


def test_unknown_tag_is_a_decode_error() -> None:
    with pytest.raises(converters.DecodeError, match=r"unknown json tag '!matrix'"):
        converters.loads('json/1:[{"!matrix":[1]}]')


def test_corrupt_json_is_a_decode_error() -> None:
    with pytest.raises(converters.DecodeError, match=r"corrupt json/1 payload"):
        converters.loads('json/1:{"a":')
    with pytest.raises(converters.DecodeError, match=r"corrupt json/1 payload"):
        converters.loads('json/1:{"!date":"not a date"}')
