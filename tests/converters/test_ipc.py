"""Frames and tables offloaded to a store on this machine travel as Arrow IPC; elsewhere as Parquet."""

from __future__ import annotations

import hashlib
import struct
from pathlib import Path

import boto3
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

import converters
from converters import Reference, _api
from converters._ipc import ArrowIpcCodec, PandasIpcCodec

from .test_pandas import awkward


def big(rows: int = 200_000) -> pd.DataFrame:
    """The awkward frame repeated: ints with NA, categoricals, tz-aware datetimes, strings, a named index."""
    df = awkward()
    return pd.concat([df] * (rows // len(df)))


def stored(tmp_path: Path, body: bytes, codec: str = "pandas-ipc") -> str:
    """A reference to `body`, stored under its sha256 in the local store at `tmp_path`."""
    sha256 = hashlib.sha256(body).hexdigest()
    uri = converters.LocalStore(tmp_path).put(sha256, body)
    return str(Reference(codec, "1", len(body), sha256, uri))


def ipc_bytes(table: pa.Table, **options: object) -> bytes:
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, table.schema, options=pa.ipc.IpcWriteOptions(**options)) as writer:
        writer.write_table(table)
    return sink.getvalue().to_pybytes()


# -- when the fast form is used ------------------------------------------------------------------


def test_a_large_frame_to_a_local_store_is_arrow_ipc_and_comes_back_whole(tmp_path: Path) -> None:
    df = big()
    ref = converters.dumps(df, store=tmp_path)
    parsed = Reference.parse(ref)
    assert (parsed.codec, parsed.version) == ("pandas-ipc", "1")
    body = (tmp_path / parsed.sha256).read_bytes()
    assert hashlib.sha256(body).hexdigest() == parsed.sha256
    assert pa.ipc.open_stream(body).read_all().num_rows == len(df)  # any Arrow reader opens it
    out = converters.loads(ref, store=tmp_path)
    pd.testing.assert_frame_equal(out, df, check_exact=True)
    assert out.index.name == "key" and isinstance(out["cat"].dtype, pd.CategoricalDtype) and out["cat"].cat.ordered


@pytest.mark.parametrize(
    "value",
    [
        pd.DataFrame({0: [1.5, 2.5, 3.5], 1: ["a", "b", "c"]}, index=pd.RangeIndex(10, 16, 2)),
        pd.DataFrame(
            np.arange(9.0).reshape(3, 3),
            index=pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)], names=["letter", "number"]),
            columns=pd.MultiIndex.from_tuples([("x", "mean"), ("x", "max"), ("y", "mean")]),
        ),
        pd.DataFrame({"a": pd.Series([], dtype="int64"), "b": pd.Series([], dtype="str")}),
        pd.DataFrame({"objects": [[1, 2], None, [3]], "bytes": [b"x", b"", None]}),
    ],
    ids=["range-index", "multiindex", "empty", "lists-and-bytes"],
)
def test_frames_keep_what_parquet_keeps(tmp_path: Path, value: pd.DataFrame) -> None:
    ipc = converters.dumps(value, store=tmp_path, threshold=0)
    parquet = converters.dumps(value, codec="pandas", store=tmp_path, threshold=0)
    assert Reference.parse(ipc).codec == "pandas-ipc" and Reference.parse(parquet).codec == "pandas"
    from_ipc, from_parquet = converters.loads(ipc, store=tmp_path), converters.loads(parquet, store=tmp_path)
    pd.testing.assert_frame_equal(from_ipc, from_parquet, check_exact=True)
    if "objects" not in value:  # lists come back as numpy arrays, through either format
        pd.testing.assert_frame_equal(from_ipc, value, check_exact=True)
    assert type(from_ipc.index) is type(value.index)


@pytest.mark.parametrize("name", ["prices", None, 3])
def test_series_keep_name_dtype_and_index(tmp_path: Path, name: object) -> None:
    series = pd.Series(pd.array([1, None, 3], dtype="Int64"), index=pd.date_range("2024-01-01", periods=3, tz="UTC"), name=name)
    ref = converters.dumps(series, store=tmp_path, threshold=0)
    assert Reference.parse(ref).codec == "pandas-ipc"
    out = converters.loads(ref, store=tmp_path)
    assert isinstance(out, pd.Series)
    pd.testing.assert_series_equal(out, series, check_freq=False)  # as with Parquet: no index freq


def test_tables_to_a_local_store_are_arrow_ipc_with_their_schema(tmp_path: Path) -> None:
    table = pa.table(
        {"n": pa.array([1, None, 3], pa.int8()), "l": [[1], [], None], "s": pa.array(["a", "b", "a"]).dictionary_encode()},
        metadata={b"source": b"test"},
    )
    ref = converters.dumps(table, store=tmp_path, threshold=0)
    assert Reference.parse(ref).codec == "arrow-ipc"
    out = converters.loads(ref, store=tmp_path)
    assert out.equals(table) and out.schema.metadata == {b"source": b"test"}


def test_small_frames_stay_inline_parquet_and_mid_sized_ones_go_as_ipc(tmp_path: Path) -> None:
    assert converters.dumps(awkward(), store=tmp_path).startswith("pandas/1:")
    noise = pd.DataFrame({"x": np.random.default_rng(1).random(20_000)})  # 160 KB: Parquet cannot fit inline either
    ref = converters.dumps(noise, store=tmp_path)
    assert Reference.parse(ref).codec == "pandas-ipc"
    pd.testing.assert_frame_equal(converters.loads(ref, store=tmp_path), noise)


def test_compressible_frames_under_the_ipc_size_still_go_inline(tmp_path: Path) -> None:
    zeros = pd.DataFrame({"z": np.zeros(50_000)})  # 400 KB of IPC, a few hundred bytes of Parquet
    assert converters.dumps(zeros, store=tmp_path).startswith("pandas/1:")


def test_an_explicit_codec_and_other_stores_keep_parquet(tmp_path: Path) -> None:
    df = big(20_000)
    assert Reference.parse(converters.dumps(df, codec="pandas", store=tmp_path, threshold=0)).codec == "pandas"
    memory = converters.MemoryStore()
    ref = converters.dumps(df, store=memory, threshold=0)
    assert Reference.parse(ref).codec == "pandas"
    assert next(iter(memory.objects().values())).startswith(b"PAR1")


@pytest.mark.slow
def test_a_frame_offloaded_to_s3_is_still_parquet(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_url)
    client = boto3.client("s3", endpoint_url=moto_url)
    client.create_bucket(Bucket="frames")
    df = big()
    ref = converters.dumps(df, store="s3://frames/p")
    parsed = Reference.parse(ref)
    assert (parsed.codec, parsed.version) == ("pandas", "1")
    body = client.get_object(Bucket="frames", Key=f"p/{parsed.sha256}")["Body"].read()
    assert body[:4] == body[-4:] == b"PAR1"
    pd.testing.assert_frame_equal(converters.loads(ref, store="s3://frames/p"), df, check_exact=True)


def test_a_user_codec_for_frames_is_not_bypassed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    class Mine(converters.PandasCodec):
        pass

    monkeypatch.setitem(converters._codec._codecs, "pandas", Mine())
    assert Reference.parse(converters.dumps(big(20_000), store=tmp_path, threshold=0)).codec == "pandas"


# -- hostile objects -----------------------------------------------------------------------------


def test_a_tampered_ipc_object_is_an_integrity_error(tmp_path: Path) -> None:
    ref = converters.dumps(big(20_000), store=tmp_path, threshold=0)
    path = tmp_path / Reference.parse(ref).sha256
    body = bytearray(path.read_bytes())
    body[len(body) // 2] ^= 0xFF
    path.write_bytes(bytes(body))
    with pytest.raises(converters.IntegrityError, match="does not match its reference"):
        converters.loads(ref, store=tmp_path)
    path.write_bytes(bytes(body[:-8]))
    with pytest.raises(converters.IntegrityError, match="not the .* bytes its reference gives"):
        converters.loads(ref, store=tmp_path)


def test_a_truncated_stream_is_refused(tmp_path: Path) -> None:
    body = ipc_bytes(pa.Table.from_pandas(big(20_000)))
    for cut in (3, 100, len(body) // 2, len(body) - 9):
        with pytest.raises(converters.DecodeError, match="corrupt pandas-ipc/1 payload"):
            converters.loads(stored(tmp_path, body[:cut]), store=tmp_path)


def test_a_metadata_size_past_the_end_is_refused(tmp_path: Path) -> None:
    body = bytearray(ipc_bytes(pa.table({"x": range(1000)})))
    assert body[:4] == b"\xff\xff\xff\xff"  # continuation marker, then the schema message's metadata size
    for size in (2**31 - 1, len(body) + 8):
        body[4:8] = struct.pack("<i", size)
        with pytest.raises(converters.DecodeError, match="corrupt pandas-ipc/1 payload"):
            converters.loads(stored(tmp_path, bytes(body)), store=tmp_path)


def _batch_with_buffer(old: tuple[int, int], new: tuple[int, int]) -> bytes:
    """An int64 and an int32 column of 1,000 values, one Buffer struct of the batch changed from `old` to `new`."""
    body = ipc_bytes(pa.table({"a": np.arange(1000), "b": np.arange(1000, dtype=np.int32)}))
    pattern = struct.pack("<qq", *old)
    assert body.count(pattern) == 1
    return body.replace(pattern, struct.pack("<qq", *new))


@pytest.mark.parametrize(
    ("new", "why"),
    [((0, 4000), "overlap"), ((8000, 80_000), "outside its body"), ((-8, 4000), "outside its body")],
    ids=["aliased", "past-the-body", "negative"],
)
def test_buffers_that_overlap_or_leave_the_body_are_refused(tmp_path: Path, new: tuple[int, int], why: str) -> None:
    body = _batch_with_buffer((8000, 4000), new)
    with pytest.raises(converters.DecodeError, match=why):
        converters.loads(stored(tmp_path, body, "arrow-ipc"), store=tmp_path)


@pytest.mark.parametrize("compression", ["lz4", "zstd"])
def test_compressed_bodies_are_refused_before_anything_is_inflated(tmp_path: Path, compression: str) -> None:
    body = ipc_bytes(pa.table({"z": np.zeros(100_000)}), compression=compression)
    with pytest.raises(converters.DecodeError, match="compressed"):
        converters.loads(stored(tmp_path, body, "arrow-ipc"), store=tmp_path)


def test_a_huge_dictionary_is_measured_against_the_ceiling() -> None:
    words = pa.array([f"word-{i:09d}" for i in range(200_000)])
    table = pa.table({"c": pa.DictionaryArray.from_arrays(pa.array(np.arange(200_000) % 200_000, pa.int32()), words)})
    body = ipc_bytes(table)
    assert ArrowIpcCodec().decode_within(body, 10 * len(body)).equals(table)
    with pytest.raises(converters.DecodeError, match=r"would decode to at least .* over the limit of 1,000,000 bytes"):
        ArrowIpcCodec().decode_within(body, 1_000_000)


def test_a_delta_dictionary_is_refused_before_it_is_concatenated() -> None:
    schema = pa.schema([("c", pa.dictionary(pa.int32(), pa.string()))])
    sink = pa.BufferOutputStream()
    with pa.ipc.new_stream(sink, schema, options=pa.ipc.IpcWriteOptions(emit_dictionary_deltas=True)) as writer:
        for start in range(0, 40, 10):
            words = pa.array([f"w{i}" for i in range(start + 10)])
            writer.write_batch(pa.record_batch([pa.DictionaryArray.from_arrays(pa.array([start], pa.int32()), words)], schema))
    body = sink.getvalue().to_pybytes()
    assert pa.ipc.open_stream(body).read_all().column("c").to_pylist() == ["w0", "w10", "w20", "w30"]
    with pytest.raises(converters.DecodeError, match="delta dictionary"):
        ArrowIpcCodec().decode(body)


def test_chunks_with_their_own_dictionaries_round_trip(tmp_path: Path) -> None:
    chunks = [pa.array([f"{k}{i}" for i in range(5)]).dictionary_encode() for k in "ab"]
    table = pa.table({"c": pa.chunked_array(chunks)})
    out = converters.loads(converters.dumps(table, store=tmp_path, threshold=0), store=tmp_path)
    assert out.column("c").to_pylist() == table.column("c").to_pylist()


@pytest.mark.parametrize(
    "body",
    [b"", b"\x00" * 64, b"PAR1" + b"\x00" * 60 + b"PAR1", b"\xff\xff\xff\xff" + b"\x10\x00\x00\x00" + b"\x07" * 16],
    ids=["empty", "zeros", "parquet-magic", "garbage-metadata"],
)
def test_garbage_is_a_decode_error(tmp_path: Path, body: bytes) -> None:
    with pytest.raises(converters.DecodeError, match="corrupt pandas-ipc/1 payload"):
        converters.loads(stored(tmp_path, body), store=tmp_path)


def test_a_parquet_object_labelled_ipc_is_refused(tmp_path: Path) -> None:
    parquet = converters.PandasCodec().encode(big(1_000))
    with pytest.raises(converters.DecodeError, match="corrupt pandas-ipc/1 payload"):
        converters.loads(stored(tmp_path, bytes(parquet)), store=tmp_path)


def test_a_second_schema_message_is_refused() -> None:
    one = ipc_bytes(pa.table({"x": [1]}))
    with pytest.raises(converters.DecodeError, match="unexpected schema message"):
        PandasIpcCodec().decode(one[:-8] + one)  # the first stream without its end marker, then another


def test_invalid_utf8_is_caught_by_full_validation() -> None:
    body = ipc_bytes(pa.table({"s": ["abcdef"] * 10}))
    with pytest.raises(converters.DecodeError, match="corrupt arrow-ipc/1 payload"):
        ArrowIpcCodec().decode(body.replace(b"abcdef", b"ab\xff\xfeef", 1))


def test_an_inline_ipc_envelope_is_held_to_the_inline_bound() -> None:
    text = converters.dumps(pa.table({"x": [1, 2, 3]}), codec="arrow-ipc")
    assert text.startswith("arrow-ipc/1:")
    assert converters.loads(text).column("x").to_pylist() == [1, 2, 3]
    assert _api.IPC_FROM == 1 << 20


def test_a_table_of_many_chunks_is_written_as_one_batch(tmp_path: Path) -> None:
    table = pa.concat_tables([pa.table({"x": [i], "c": pa.array([str(i)]).dictionary_encode()}) for i in range(3000)])
    out = converters.loads(converters.dumps(table, store=tmp_path, threshold=0), store=tmp_path)
    assert out.column("x").to_pylist() == list(range(3000)) and out.column("c").to_pylist() == [str(i) for i in range(3000)]


def test_frames_are_written_in_batches_of_parquets_row_groups(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("converters._pandas.ROW_GROUP", 1000)
    df = big(10_000)
    ref = converters.dumps(df, store=tmp_path, threshold=0)
    body = (tmp_path / Reference.parse(ref).sha256).read_bytes()
    assert pa.ipc.open_stream(body).read_next_batch().num_rows == 1000
    pd.testing.assert_frame_equal(converters.loads(ref, store=tmp_path), df, check_exact=True)
