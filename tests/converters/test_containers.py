"""Lists, tuples and dicts of frames, Series and pyarrow Tables: each its own Parquet payload nested in the container."""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import msgpack
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import converters
from converters._limits import MAX_DEPTH

from .hostile import int_bomb, msgpack_envelope, nested, string_bomb

CODECS = ["auto", "json", "msgpack"]
ENCODED = 13  # the msgpack codec's ext type for a nested payload


def frames() -> tuple[pd.DataFrame, pd.DataFrame]:
    a = pd.DataFrame({"x": np.arange(5, dtype="int64"), "when": pd.date_range("2024-01-01", periods=5, tz="UTC")})
    b = pd.DataFrame({"s": ["p", None, "r"], "c": pd.Categorical(["u", "v", "u"])}, index=pd.Index([7, 8, 9], name="k"))
    return a, b


def table() -> pa.Table:
    return pa.table({
        "i": pa.array([1, None, 3], pa.int32()),
        "s": pa.array(["a", "b", "a"]).dictionary_encode(),
        "l": pa.array([[1], [], [2, 3]]),
        "st": pa.array([{"a": 1}, {"a": 2}, None]),
        "ts": pa.array([1, 2, 3], pa.timestamp("ns", tz="Europe/Paris")),
        "ls": pa.array(["x", "y", "z"], pa.large_string()),
        "d": pa.array([1, 2, 3], pa.duration("ms")),
    }).replace_schema_metadata({"source": "test"})


def check(out: Any, value: Any) -> None:
    """Same containers, types and frames all the way down."""
    assert type(out) is type(value)
    if isinstance(value, (list, tuple)):
        assert len(out) == len(value)
        for o, v in zip(out, value, strict=True):
            check(o, v)
    elif isinstance(value, dict):
        assert out.keys() == value.keys()
        for key in value:
            check(out[key], value[key])
    elif isinstance(value, pd.DataFrame):
        pd.testing.assert_frame_equal(out, value, check_exact=True)
    elif isinstance(value, pd.Series):
        pd.testing.assert_series_equal(out, value, check_exact=True)
    elif isinstance(value, pa.Table):
        assert out.equals(value, check_metadata=True) and out.schema == value.schema
    elif isinstance(value, np.ndarray):
        assert out.dtype == value.dtype and np.array_equal(out, value)
    else:
        assert out == value


def containers() -> list[Any]:
    a, b = frames()
    return [
        [a, b],
        (a, b),
        {"a": a, "b": b},
        {"frame": a, "series": a["x"].rename("xs"), "n": 3, "total": a["x"].sum(), "name": "run", "arr": np.eye(2)},
        [[a], {"deeper": (b, table())}],
        {"table": table(), "frames": []},
    ]


@pytest.mark.parametrize("codec", CODECS)
@pytest.mark.parametrize("index", range(6))
def test_containers_of_frames_round_trip(codec: str, index: int) -> None:
    value = containers()[index]
    check(converters.loads(converters.dumps(value, codec=codec, threshold=10**9)), value)


def test_auto_puts_frames_in_msgpack_and_tables_in_the_arrow_codec() -> None:
    a, b = frames()
    assert converters.dumps([a, b], threshold=10**9).startswith("msgpack/1:")
    text = converters.dumps(table(), threshold=10**9)
    assert text.startswith("arrow/1:")
    check(converters.loads(text), table())


def test_explicit_codecs_refuse_the_wrong_value() -> None:
    with pytest.raises(converters.EncodeError, match=r"the arrow codec encodes a pyarrow Table, not list at result"):
        converters.dumps([1], codec="arrow", what="result")


def test_a_frame_that_cannot_travel_is_named_by_its_path() -> None:
    struct = pd.ArrowDtype(pa.struct([("x", pa.int64())]))
    bad = pd.DataFrame({"s": pd.Series([{"x": 1}], dtype=struct)})
    for codec in ("auto", "json"):
        with pytest.raises(converters.EncodeError) as info:
            converters.dumps({"ok": frames()[0], "bad": [bad]}, codec=codec, what="result")
        assert info.value.path == 'result["bad"][0]'
        assert "nested pyarrow dtype" in str(info.value) and "\x00" not in str(info.value)


@pytest.mark.parametrize("store_kind", ["local", "memory"])
def test_large_containers_are_offloaded_whole_and_verified(tmp_path: Path, store_kind: str) -> None:
    store: Any = converters.LocalStore(tmp_path) if store_kind == "local" else converters.MemoryStore("containers-test")
    big = pd.DataFrame({"x": np.arange(50_000, dtype="int64"), "y": np.random.default_rng(1).random(50_000)})
    value = {"parts": [big.iloc[:25_000], big.iloc[25_000:]], "total": big["x"].sum(), "arr": np.arange(10_000)}
    ref = converters.dumps(value, store=store)
    assert converters.is_reference(ref) and ref.startswith("ref/1:msgpack/1:")
    check(converters.loads(ref, store=store), value)
    if store_kind == "memory":
        store.clear()


def test_a_tampered_offloaded_container_is_an_integrity_error(tmp_path: Path) -> None:
    value = [frames()[0]] * 200
    ref = converters.dumps(value, store=tmp_path, threshold=1000)
    sha = converters.Reference.parse(ref).sha256
    (stored,) = [p for p in tmp_path.rglob("*") if p.is_file() and sha in p.name]
    data = bytearray(stored.read_bytes())
    data[-1] ^= 1
    stored.chmod(0o600)
    stored.write_bytes(bytes(data))
    with pytest.raises(converters.IntegrityError):
        converters.loads(ref, store=tmp_path)


def test_frames_count_as_leaves_for_the_depth_limit() -> None:
    a = frames()[0]
    inside = nested(MAX_DEPTH - 1, list)
    innermost = inside
    for _ in range(MAX_DEPTH - 2):
        innermost = innermost[0]
    innermost[0] = [a]  # the frame sits inside exactly MAX_DEPTH lists
    for codec in ("json", "msgpack"):
        out = converters.loads(converters.dumps(inside, codec=codec, threshold=10**9))
        for _ in range(MAX_DEPTH):
            out = out[0]
        pd.testing.assert_frame_equal(out, a)
        with pytest.raises(converters.EncodeError, match=r"nested deeper than 100 levels"):
            converters.dumps([inside], codec=codec)


def test_a_frame_inside_too_many_levels_is_a_decode_error() -> None:
    body = msgpack.packb(["pandas", 1, converters.PandasCodec().encode(frames()[0])], use_bin_type=True)
    packed = b"\x91" * (MAX_DEPTH + 1) + msgpack.packb(msgpack.ExtType(ENCODED, body))
    with pytest.raises(converters.DecodeError, match=r"deeper than 100"):
        converters.loads(msgpack_envelope(packed))


def encoded(name: Any, version: Any, payload: Any) -> bytes:
    packed: bytes = msgpack.packb(msgpack.ExtType(ENCODED, msgpack.packb([name, version, payload], use_bin_type=True)))
    return packed


@pytest.mark.parametrize(("name", "version", "payload", "says"), [
    ("json", 1, b"[1]", "not a codec whose values nest"),
    ("msgpack", 1, b"\x91\x00", "not a codec whose values nest"),
    ("pickle", 1, b"x", "not a codec whose values nest"),
    ("pandas", 2, b"PAR1", "unsupported version 2 of codec 'pandas'"),
    ("pandas", "1", b"PAR1", "not a codec whose values nest"),
    ("pandas", 1, "PAR1", "must be bytes"),
    ("pandas", 1, b"PAR1garbagePAR1", "corrupt pandas payload"),
    ("arrow", 1, b"not parquet", "corrupt (arrow|pandas) payload"),
])
def test_tampered_nested_payloads_are_decode_errors(name: Any, version: Any, payload: Any, says: str) -> None:
    with pytest.raises(converters.DecodeError, match=says):
        converters.loads(msgpack_envelope(encoded(name, version, payload)))


def test_a_parquet_bomb_inside_a_container_is_refused() -> None:
    bomb = string_bomb()  # ~3 KB that expands to 1 GB
    with pytest.raises(converters.DecodeError, match=r"would decode to at least"):
        converters.loads(msgpack_envelope(msgpack.packb([1, msgpack.ExtType(ENCODED, msgpack.packb(
            ["pandas", 1, bomb], use_bin_type=True))])))


def test_many_small_bombs_share_one_budget(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each frame fits the ceiling; together they do not."""
    monkeypatch.setenv("PIPEFLOW_MAX_DECODED_BYTES", "20MiB")
    bomb = int_bomb(1_000_000)  # a few KB, 8 MB decoded
    one = msgpack.ExtType(ENCODED, msgpack.packb(["pandas", 1, bomb], use_bin_type=True))
    assert len(converters.loads(msgpack_envelope(msgpack.packb([one, one])))) == 2
    with pytest.raises(converters.DecodeError, match=r"would decode to at least"):
        converters.loads(msgpack_envelope(msgpack.packb([one, one, one])))


def test_compressible_frames_are_offloaded_rather_than_inlined(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """What `loads` would refuse inline (leaves past the inline bound) goes to the store, or is refused."""
    monkeypatch.setenv("PIPEFLOW_MAX_DECODED_BYTES", "10MiB")
    zeros = pd.DataFrame({"z": np.zeros(1_000_000, dtype="int64")})  # a few KB of Parquet, 8 MB in memory
    with pytest.raises(converters.EncodeError, match=r"more than an inline value may take"):
        converters.dumps([zeros, zeros])
    ref = converters.dumps([zeros, zeros], store=tmp_path)
    assert converters.is_reference(ref)
    monkeypatch.setenv("PIPEFLOW_MAX_DECODED_BYTES", "20MiB")
    assert len(converters.loads(ref, store=tmp_path)) == 2


def test_the_nested_payload_is_the_pandas_codecs_own() -> None:
    a = frames()[0]
    text = converters.dumps([a], codec="msgpack", threshold=10**9)
    inner = converters.PandasCodec().encode(a)
    assert hashlib.sha256(inner).hexdigest() == hashlib.sha256(
        msgpack.unpackb(msgpack.unpackb(converters.loads.__globals__["b64decode"](text[10:]))[0].data)[2]).hexdigest()
