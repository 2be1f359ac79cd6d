"""numpy scalars and arrays: dtype, shape, byte order and values kept; object arrays refused; no pickle."""

from __future__ import annotations

from typing import Any

import msgpack
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

import converters
from converters._b64 import b64encode

from .hostile import msgpack_envelope

CODECS = ["auto", "json", "msgpack"]
NDARRAY, NUMPY = 12, 11  # the msgpack codec's ext types


def roundtrip(value: Any, codec: str = "auto") -> Any:
    return converters.loads(converters.dumps(value, codec=codec, threshold=10**9))


def same_array(a: Any, b: Any) -> bool:
    """Same type, dtype (byte order included), shape and bytes (so NaNs and NaTs compare too)."""
    return (type(a) is type(b) and a.dtype == b.dtype and a.dtype.str == b.dtype.str and a.shape == b.shape
            and a.tobytes() == b.tobytes())


SCALARS = [
    np.int64(3), np.int8(-128), np.uint64(2**64 - 1), np.int32(7), np.float64(1.5), np.float32(0.1), np.float16(2.5),
    np.float64("nan"), np.float64("-inf"), np.float64(-0.0), np.bool_(True), np.bool_(False), np.complex64(1 + 2j),
    np.complex128(complex("nan+1j")), np.longdouble("0.1"), np.datetime64("2024-03-30T01:02:03.123456789", "ns"),
    np.datetime64("NaT", "s"), np.timedelta64(5, "D"), np.datetime64("2024-01-01"),
]


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("value", SCALARS, ids=lambda v: f"{v.dtype.str}:{v}")
def test_scalars_keep_their_type(codec: str, value: Any) -> None:
    assert same_array(roundtrip(value, codec), value)


def test_auto_writes_scalars_as_readable_json() -> None:
    assert converters.dumps(np.int64(3)) == 'json/1:{"!numpy":["<i8",3]}'
    assert converters.dumps({"n": np.float32(0.5)}) == 'json/1:{"n":{"!numpy":["<f4",0.5]}}'
    assert converters.dumps(np.arange(3)).startswith("msgpack/1:")  # arrays are bytes: msgpack


def test_numpy_strings_travel_as_str_and_bytes() -> None:
    out = roundtrip([np.str_("a"), np.bytes_(b"b")])
    assert out == ["a", b"b"] and type(out[0]) is str and type(out[1]) is bytes


ARRAY_DTYPES = hnp.boolean_dtypes() | hnp.integer_dtypes(endianness="=") | hnp.unsigned_integer_dtypes(endianness="?") \
    | hnp.floating_dtypes(endianness="?") | hnp.complex_number_dtypes() | hnp.datetime64_dtypes(endianness="?") \
    | hnp.timedelta64_dtypes()


@settings(max_examples=60, deadline=None)
@given(hnp.arrays(ARRAY_DTYPES, hnp.array_shapes(min_dims=0, max_dims=4, min_side=0, max_side=5)),
       st.sampled_from(CODECS), st.booleans())
def test_arrays_round_trip(array: Any, codec: str, fortran: bool) -> None:
    if fortran:
        array = np.asfortranarray(array)
    out = roundtrip(array, codec)
    assert same_array(out, array)
    assert out.flags.writeable and out.flags.f_contiguous == array.flags.f_contiguous


@given(st.lists(st.one_of(st.integers(-(2**63), 2**63 - 1).map(np.int64), st.floats().map(np.float64),
                          st.booleans().map(np.bool_)), max_size=5), st.sampled_from(CODECS))
def test_scalars_in_containers(values: list[Any], codec: str) -> None:
    out = roundtrip({"values": values, "pair": tuple(values[:2])}, codec)
    # A NaN's sign and payload bits do not survive a JSON number; it stays a NaN of its dtype.
    assert all(same_array(a, b) or (type(a) is type(b) and np.isnan(a) and np.isnan(b))
               for a, b in zip(out["values"], values, strict=True))
    assert type(out["pair"]) is tuple


def test_views_and_non_contiguous_arrays() -> None:
    base = np.arange(60, dtype="<f8").reshape(3, 4, 5)
    for view in (base[:, ::2, 1:], base.transpose(2, 0, 1), base[1], base[..., 0]):
        out = roundtrip(view)
        assert np.array_equal(out, view) and out.dtype == view.dtype and out.shape == view.shape


def test_a_memmap_travels_as_its_array(tmp_path: Any) -> None:
    mm = np.memmap(tmp_path / "m", dtype="int16", mode="w+", shape=(4,))
    mm[:] = [1, 2, 3, 4]
    out = roundtrip(mm)
    assert type(out) is np.ndarray and out.tolist() == [1, 2, 3, 4]


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize(("value", "says"), [
    (np.array([object(), 1], dtype=object), "object-dtype array holds Python objects, which only pickle could carry"),
    (np.array(["a", "b"]), "is not a plain numeric one"),
    (np.zeros(2, dtype=[("a", "i4"), ("b", "f8")]), "is not a plain numeric one"),
    (np.ma.masked_array([1, 2], mask=[False, True]), "ndarray subclass (MaskedArray)"),
    (np.void(b"ab"), "is not a plain numeric one"),
])
def test_what_would_need_pickle_is_refused_with_the_path_and_the_fix(codec: str, value: Any, says: str) -> None:
    with pytest.raises(converters.EncodeError) as info:
        converters.dumps({"rows": [value]}, codec=codec, what="result")
    assert says in str(info.value) and info.value.path == 'result["rows"][0]'


def test_object_arrays_name_the_fix() -> None:
    with pytest.raises(converters.EncodeError, match=r"convert it with \.tolist\(\) or \.astype"):
        converters.dumps(np.array([None]))


# -- hostile arrays: refused before anything is allocated ---------------------------------------


def ndarray_envelope(dtype: Any, shape: Any, order: Any, data: Any) -> str:
    body = msgpack.packb([dtype, shape, order, data], use_bin_type=True)
    return msgpack_envelope(msgpack.packb(msgpack.ExtType(NDARRAY, body)))


def json_ndarray(dtype: Any, shape: Any, data: bytes) -> str:
    import json

    return "json/1:" + json.dumps({"!ndarray": [dtype, shape, "C", b64encode(data)]})


HUGE = [2**20, 2**20, 2**20]


@pytest.mark.parametrize(("dtype", "shape", "data"), [
    ("<i8", HUGE, b"\x00" * 8),  # a tampered shape: 8 EiB claimed
    ("<i8", [2**64 - 1], b""),
    ("<i8", [0, 2**62, 2**62], b""),  # empty, yet past what numpy can describe
    ("<i8", [-1], b""),
    ("<i8", [True], b"\x00" * 8),
    ("<i8", [1] * 33, b"\x00" * 8),
    ("<i8", "3", b"\x00" * 24),
    ("<i8", [3], b"\x00" * 23),
    ("|O", [1], b"\x00" * 8),
    ("O", [1], b"\x00" * 8),
    ("<U2", [1], b"\x00" * 8),
    ("|V8", [1], b"\x00" * 8),
    ("i4,i4", [1], b"\x00" * 8),
    ("(2,)<i4", [1], b"\x00" * 8),
    ("=i8", [1], b"\x00" * 8),  # numpy writes "<i8"
    ("<i8 ", [1], b"\x00" * 8),
    ("<M8[ns]x", [1], b"\x00" * 8),
    (3, [1], b"\x00" * 8),
    ("<f" + "8" * 10_000, [1], b"\x00" * 8),
])
def test_tampered_arrays_are_decode_errors(dtype: Any, shape: Any, data: bytes) -> None:
    with pytest.raises(converters.DecodeError, match=r"corrupt (msgpack|json)/1 payload"):
        converters.loads(ndarray_envelope(dtype, shape, "C", data))
    with pytest.raises(converters.DecodeError, match=r"corrupt json/1 payload"):
        converters.loads(json_ndarray(dtype, shape, data))


@pytest.mark.parametrize("body", [
    msgpack.packb(["<i8", [1], "C"]),
    msgpack.packb(["<i8", [1], "X", b"\x00" * 8]),
    msgpack.packb({"dtype": "<i8"}),
    msgpack.packb(["<i8", [1], "C", "text, not bytes"]) + b"",
    b"\xc1",
])
def test_malformed_ext_bodies_are_decode_errors(body: bytes) -> None:
    with pytest.raises(converters.DecodeError):
        converters.loads(msgpack_envelope(msgpack.packb(msgpack.ExtType(NDARRAY, body))))


@pytest.mark.parametrize(("dtype", "item"), [
    ("<i8", 1.5), ("|i1", 300), ("<u8", -1), ("|b1", 1), ("<f8", "1e5"), ("<f8", True), ("<c16", [1.0]),
    ("<M8[ns]", 2**63), ("|O", 1), ("<f16", "not base64!"), ("<f16", b64encode(b"\x00" * 3)),
])
def test_tampered_json_scalars_are_decode_errors(dtype: str, item: Any) -> None:
    import json

    with pytest.raises(converters.DecodeError):
        converters.loads("json/1:" + json.dumps({"!numpy": [dtype, item]}))


def test_a_scalar_of_the_wrong_size_is_a_decode_error() -> None:
    body = msgpack.packb(["<i8", b"\x00" * 4], use_bin_type=True)
    with pytest.raises(converters.DecodeError, match=r"takes 8 bytes, not 4"):
        converters.loads(msgpack_envelope(msgpack.packb(msgpack.ExtType(NUMPY, body))))


def test_arrays_share_the_decoded_bytes_ceiling(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each array fits; together they pass the ceiling the payload is held to."""
    one = np.zeros(4_000, dtype="<f8")  # 32,000 bytes
    three, four = (converters.dumps([one] * n, threshold=10**9) for n in (3, 4))  # written where the limit is larger
    monkeypatch.setenv("PIPEFLOW_MAX_DECODED_BYTES", "100000")
    assert len(converters.loads(three)) == 3
    with pytest.raises(converters.DecodeError, match=r"would decode to more than its limit"):
        converters.loads(four)
    with pytest.raises(converters.EncodeError, match=r"would expand from .* characters to more than an inline value"):
        converters.dumps([one] * 4, threshold=10**9)  # what loads would refuse inline is not written inline
