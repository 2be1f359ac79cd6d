"""Hostile input: `loads` and `dumps` raise a `ConverterError` or return, never crash, hang or over-allocate.

Issue 12, cases 2, 3, 5 and 7: deep nesting (a 250-level msgpack tuple used to kill the
interpreter), a reference's declared size (zero-filled before reading), Parquet bombs.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import io
import string
import textwrap
from pathlib import Path
from typing import Any

import msgpack
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import converters
from converters import Reference
from converters._limits import MAX_DEPTH

from .hostile import (
    PEAK_RSS,
    PEAK_VM,
    array_chain,
    int_bomb,
    json_chain,
    msgpack_envelope,
    nested,
    run_python,
    string_bomb,
    tuple_chain,
)

# -- nesting depth (cases 2 and 7) ------------------------------------------------------------


def test_a_250_level_msgpack_tuple_is_an_error_not_a_crash() -> None:
    """Today: SIGSEGV (each nested ext type starts a new C-level unpack)."""
    code = textwrap.dedent(
        """
        import converters
        from tests.converters.hostile import msgpack_envelope, nested, tuple_chain
        try:
            converters.dumps(nested(250, tuple), codec="msgpack")
        except converters.EncodeError as exc:
            print("encode:", type(exc).__name__, exc)
        try:
            converters.loads(msgpack_envelope(tuple_chain(250)))
        except converters.DecodeError as exc:
            print("decode:", type(exc).__name__, exc)
        """
    )
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    encode, decode = proc.stdout.splitlines()
    assert encode.startswith("encode: EncodeError") and "value[0][0]" in encode and "100" in encode
    assert decode.startswith("decode: DecodeError") and "100" in decode


def test_deep_ext_nesting_does_not_exhaust_a_small_thread_stack() -> None:
    """A worker thread's C stack is smaller than the main thread's; the limit must hold there too."""
    code = textwrap.dedent(
        """
        import threading, converters
        from tests.converters.hostile import msgpack_envelope, tuple_chain
        out = []
        def work():
            out.append(len(str(converters.loads(msgpack_envelope(tuple_chain(100))))))
            try:
                converters.loads(msgpack_envelope(tuple_chain(101)))
            except converters.DecodeError as exc:
                out.append(type(exc).__name__)
        threading.stack_size(1024 * 1024)
        t = threading.Thread(target=work)
        t.start(); t.join()
        print(out)
        """
    )
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.strip() == "[301, 'DecodeError']"


@pytest.mark.parametrize("kind", [list, tuple, dict, frozenset])
@pytest.mark.parametrize("codec", ["json", "msgpack"])
def test_the_limit_is_inclusive_on_encode_and_decode(codec: str, kind: type) -> None:
    value = nested(MAX_DEPTH, kind)
    assert converters.loads(converters.dumps(value, codec=codec, threshold=10**9)) == value
    with pytest.raises(converters.EncodeError) as info:
        converters.dumps([value], codec=codec, what="result")
    assert "nested deeper than 100 levels" in str(info.value)
    assert info.value.path is not None and info.value.path.startswith("result[0]")


@pytest.mark.parametrize("codec", ["json", "msgpack"])
def test_encode_error_names_the_path_of_the_first_item_too_deep(codec: str) -> None:
    value = {"rows": [1, 2, nested(MAX_DEPTH)]}  # the 0 sits inside 102 containers, the list around it inside 101
    with pytest.raises(converters.EncodeError) as info:
        converters.dumps(value, codec=codec, what="result")
    assert info.value.path == 'result["rows"][2]' + "[0]" * (MAX_DEPTH - 1)
    assert info.value.type_name == "list"
    assert f"nested deeper than {MAX_DEPTH} levels" in str(info.value)


@pytest.mark.parametrize("codec", ["json", "msgpack"])
def test_lists_dicts_tuples_and_sets_count_together(codec: str) -> None:
    value: Any = 0
    for i in range(51):  # sets hold hashable things only: tuples and frozensets inside
        value = (value,) if i % 2 else frozenset([value])
    for i in range(50):
        value = [value] if i % 2 else {"k": value}
    with pytest.raises(converters.EncodeError, match=r"nested deeper than 100 levels"):
        converters.dumps(value, codec=codec)


@pytest.mark.parametrize(
    "text",
    [
        msgpack_envelope(array_chain(MAX_DEPTH + 1)),
        msgpack_envelope(array_chain(700)),  # case 7: the signal that wedged a run
        msgpack_envelope(array_chain(5_000)),  # past msgpack's own C stack
        msgpack_envelope(tuple_chain(MAX_DEPTH + 1)),
        msgpack_envelope(b"\x81\xa1k" * (MAX_DEPTH + 1) + b"\x00"),  # maps
        msgpack_envelope(tuple_chain(60, msgpack.ExtType(1, array_chain(50)))),  # ext and arrays, 110 together
        json_chain(MAX_DEPTH + 1),
        json_chain(MAX_DEPTH + 1, '{"k":', "}"),
        json_chain(900),
        json_chain(100_000),  # past the interpreter's recursion limit
        "json/1:" + '{"!tuple":[' * (MAX_DEPTH + 1) + "0" + "]}" * (MAX_DEPTH + 1),
    ],
    ids=["msgpack-101", "msgpack-700", "msgpack-5000", "tuples-101", "maps-101", "ext+arrays", "json-101",
         "json-objects-101", "json-900", "json-100000", "json-tuples-101"],
)
def test_decoding_too_deep_is_a_decode_error(text: str) -> None:
    with pytest.raises(converters.DecodeError, match=r"deeper than 100 levels"):
        converters.loads(text)


@pytest.mark.parametrize(
    "text",
    [
        msgpack_envelope(array_chain(MAX_DEPTH)),
        msgpack_envelope(tuple_chain(MAX_DEPTH)),
        msgpack_envelope(tuple_chain(50, msgpack.ExtType(1, array_chain(49)))),
        json_chain(MAX_DEPTH),
        "json/1:" + '{"!tuple":[' * MAX_DEPTH + "0" + "]}" * MAX_DEPTH,
    ],
)
def test_decoding_at_the_limit_works(text: str) -> None:
    converters.loads(text)


@pytest.mark.parametrize("feed_up_to", [0, 10**9], ids=["read-in-pieces", "fed-whole"])
def test_the_c_parser_bounds_large_payloads(monkeypatch: pytest.MonkeyPatch, feed_up_to: int) -> None:
    from converters import _msgpack, _msgpack_depth

    monkeypatch.setattr(_msgpack, "BOUNDED_FROM", 0)  # every payload parsed bounded, as large ones are
    monkeypatch.setattr(_msgpack_depth, "_FEED_UP_TO", feed_up_to)
    monkeypatch.setattr(_msgpack_depth, "_READ_SIZE", 7)
    value = {"rows": [nested(MAX_DEPTH - 2), (1, {2: b"x" * 40})] * 3}
    assert converters.loads(converters.dumps(value, codec="msgpack")) == value
    for too_deep in (array_chain(MAX_DEPTH + 1), tuple_chain(60, msgpack.ExtType(1, array_chain(50)))):
        with pytest.raises(converters.DecodeError, match=r"deeper than 100 levels"):
            converters.loads(msgpack_envelope(too_deep))
    with pytest.raises(converters.DecodeError, match=r"extra bytes"):
        converters.loads(msgpack_envelope(array_chain(3) + b"\x00"))


def test_large_values_are_packed_with_the_packer_counting(monkeypatch: pytest.MonkeyPatch) -> None:
    from converters import _msgpack_depth

    monkeypatch.setattr(_msgpack_depth, "_WRAP_FROM", 2)  # every container packed wrapped, as large ones are
    value = {"rows": [nested(MAX_DEPTH - 2), [1, 2]], "t": (1, 2)}
    assert converters.loads(converters.dumps(value, codec="msgpack")) == value
    with pytest.raises(converters.EncodeError) as info:
        converters.dumps({"rows": [nested(MAX_DEPTH), [1, 2]]}, codec="msgpack", what="result")
    assert info.value.path == 'result["rows"][0]' + "[0]" * (MAX_DEPTH - 1)


def test_wide_values_are_not_deep() -> None:
    wide = {"rows": [{"id": i, "tags": ["a", (i, {i})]} for i in range(20_000)]}
    for codec in ("json", "msgpack"):
        assert converters.loads(converters.dumps(wide, codec=codec, threshold=10**9)) == wide


# -- decoded size (case 5) ---------------------------------------------------------------------


def test_a_parquet_bomb_is_refused_before_it_is_decoded() -> None:
    """Today: a 3 KB envelope becomes a 1,000,000 x 1,000-character frame (1.6 GB peak)."""
    bomb = string_bomb()
    text = "pandas/1:" + base64.b64encode(bomb).decode()
    assert len(text) < 4_000
    with pytest.raises(converters.DecodeError) as info:
        converters.loads(text)
    message = str(info.value)
    assert "over the limit" in message and "PIPEFLOW_MAX_DECODED_BYTES" in message


def test_the_parquet_bomb_costs_no_memory_in_a_fresh_process() -> None:
    setup = "import converters, pandas, pyarrow.parquet, numpy; from tests.converters.hostile import string_bomb"
    bomb = "import base64; text = 'pandas/1:' + base64.b64encode(string_bomb()).decode()"
    baseline = run_python(f"{setup}\n{bomb}\n{PEAK_RSS}")
    attack = run_python(
        f"{setup}\n{bomb}\ntry:\n    converters.loads(text)\nexcept converters.DecodeError:\n    print('refused')\n{PEAK_RSS}"
    )
    assert baseline.returncode == 0 and attack.returncode == 0, (baseline.stderr + attack.stderr)[-2000:]
    assert attack.stdout.splitlines()[0] == "refused"
    assert int(attack.stdout.splitlines()[-1]) < 2 * int(baseline.stdout.splitlines()[-1])


def test_a_fixed_width_bomb_is_refused_from_the_footer() -> None:
    text = "pandas/1:" + base64.b64encode(int_bomb(10_000_000, row_groups=10)).decode()
    assert len(text) < 200_000
    with pytest.raises(converters.DecodeError, match=r"would decode to at least 80,000,000 bytes"):
        converters.loads(text)


def test_the_ceiling_for_references_is_configurable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"i": np.zeros(2_000_000, dtype=np.int64)})  # 16 MB in memory, a few KB as Parquet
    ref = converters.dumps(frame, codec="pandas", store=tmp_path, threshold=0)
    assert converters.loads(ref, store=tmp_path).shape == (2_000_000, 1)
    monkeypatch.setenv("PIPEFLOW_MAX_DECODED_BYTES", "1MiB")
    with pytest.raises(converters.DecodeError, match=r"over the limit of 1,048,576 bytes\..*PIPEFLOW_MAX_DECODED_BYTES"):
        converters.loads(ref, store=tmp_path)
    monkeypatch.setenv("PIPEFLOW_MAX_DECODED_BYTES", "not a size")
    with pytest.raises(converters.ConverterError, match=r"PIPEFLOW_MAX_DECODED_BYTES='not a size'"):
        converters.loads(ref, store=tmp_path)


def test_raising_the_ceiling_does_not_raise_the_inline_bound(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PIPEFLOW_MAX_DECODED_BYTES", str(8 * 2**30))
    with pytest.raises(converters.DecodeError, match=r"over the limit .* inline"):
        converters.loads("pandas/1:" + base64.b64encode(string_bomb()).decode())


def test_a_compressible_frame_too_big_to_inline_is_offloaded(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import numpy as np
    import pandas as pd

    from converters import _limits

    monkeypatch.setattr(_limits, "INLINE_FLOOR", 1 << 20)
    frame = pd.DataFrame({"i": np.zeros(1_000_000, dtype=np.int64)})  # 8 MB in memory, a few KB as Parquet
    ref = converters.dumps(frame, store=tmp_path)
    assert converters.is_reference(ref)  # what loads would refuse inline goes to the store
    pd.testing.assert_frame_equal(converters.loads(ref, store=tmp_path), frame)
    with pytest.raises(converters.EncodeError, match=r"more than an inline value may take .*--s3-bucket"):
        converters.dumps(frame)


FOOTER_THAT_ABORTS = Path(__file__).parent / "data" / "footer_that_aborts_pyarrow.parquet.b64"


def test_a_footer_that_aborts_pyarrow_is_a_decode_error() -> None:
    """pyarrow's `RowGroupMetaData.column(i)` lets a C++ exception through here: SIGABRT, if it were asked."""
    code = textwrap.dedent(
        f"""
        import converters
        text = "pandas/1:" + open({str(FOOTER_THAT_ABORTS)!r}).read().replace("\\n", "")
        try:
            converters.loads(text)
        except converters.DecodeError as exc:
            print(type(exc).__name__, exc)
        """
    )
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.startswith("DecodeError corrupt pandas payload")


def test_the_footer_is_read_as_pyarrow_reads_it() -> None:
    import numpy as np
    import pandas as pd
    import pyarrow as pa
    import pyarrow.parquet as pq

    from converters._parquet import read_footer

    frame = pd.DataFrame({"i": np.arange(10), "s": list("abcabcabca"), "l": [[1, 2]] * 10, "d": [{"k": "v"}] * 10,
                          "c": pd.Categorical(list("xyxyxyxyxy")), "b": [b"\x00" * 3] * 10})
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(frame), sink, row_group_size=4)
    meta = pq.ParquetFile(pa.BufferReader(sink.getvalue())).metadata
    footer = read_footer(sink.getvalue())
    assert footer.num_leaves == meta.num_columns
    expected = [
        (c, meta.row_group(g).column(c)) for g in range(meta.num_row_groups) for c in range(meta.num_columns)
    ]
    assert [
        (chunk.leaf, chunk.physical_type, chunk.codec, chunk.num_values, chunk.total_uncompressed_size, chunk.has_dictionary)
        for chunk in footer.chunks
    ] == [
        (c, m.physical_type, m.compression, m.num_values, m.total_uncompressed_size, m.has_dictionary_page)
        for c, m in expected
    ]


def _mutated(payload: bytes) -> st.SearchStrategy[bytes]:
    """`payload` with a few bytes changed, or cut and glued back to its tail (footers live at the end)."""

    def mutate(changes: list[tuple[int, int]], cut: int | None) -> bytes:
        data = bytearray(payload)
        for at, byte in changes:
            data[at % len(data)] = byte
        if cut is not None:
            data = data[: cut % len(data)] + data[-(cut % 200 + 1) :]
        return bytes(data)

    return st.builds(mutate, st.lists(st.tuples(st.integers(0, 10**6), st.integers(0, 255)), min_size=1, max_size=8),
                     st.none() | st.integers(0, 10**6))


@functools.cache
def _sample_parquet() -> bytes:
    import numpy as np
    import pandas as pd

    frame = pd.DataFrame({"a": np.arange(50), "s": [f"x{i % 7}" for i in range(50)], "f": np.linspace(0, 1, 50),
                          "l": [[i, i + 1] for i in range(50)], "c": pd.Categorical(["p", "q"] * 25)})
    return base64.b64decode(converters.dumps(frame, threshold=10**9).split(":", 1)[1])


_SAMPLE_MSGPACK = msgpack.packb({"rows": [[1, "a", b"b"]] * 5, "t": msgpack.ExtType(1, msgpack.packb([1, 2]))})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
@given(st.data())
def test_any_damage_to_a_valid_payload_is_a_converter_error(data: st.DataObject) -> None:
    codec, payload = data.draw(st.sampled_from([("pandas/1", None), ("msgpack/1", _SAMPLE_MSGPACK)]))
    damaged = data.draw(_mutated(payload if payload is not None else _sample_parquet()))
    try:
        converters.loads(f"{codec}:{base64.b64encode(damaged).decode()}")
    except converters.ConverterError:
        pass


def test_a_msgpack_header_claiming_billions_of_items_is_refused_without_allocating() -> None:
    for header in (b"\xdd\x7f\xff\xff\xff", b"\xdf\x7f\xff\xff\xff", b"\xc6\x7f\xff\xff\xff", b"\xdb\x7f\xff\xff\xff"):
        with pytest.raises(converters.DecodeError):
            converters.loads(msgpack_envelope(header + b"\x00"))


# -- references: declared size (case 3) -------------------------------------------------------


def _ref(size: int, sha: str, uri: str, codec: str = "json/1") -> str:
    return f"ref/1:{codec}:{size}:{sha}:{uri}"


@pytest.mark.parametrize("size", [3 * 2**30, 10**15, 10**19])
def test_a_declared_size_is_checked_against_the_object_before_allocating(tmp_path: Path, size: int) -> None:
    store = converters.LocalStore(tmp_path)
    body = b'"seven"'
    sha = hashlib.sha256(body).hexdigest()
    uri = store.put(sha, body)
    with pytest.raises(converters.IntegrityError, match=rf"is 7 bytes, not the {size:,} bytes its reference gives"):
        converters.loads(_ref(size, sha, uri), store=store)
    assert converters.loads(_ref(7, sha, uri), store=store) == "seven"


def test_a_declared_3_gb_costs_no_memory_in_a_fresh_process(tmp_path: Path) -> None:
    setup = textwrap.dedent(
        f"""
        import hashlib, converters
        store = converters.LocalStore({str(tmp_path)!r})
        body = b'"seven"'
        sha = hashlib.sha256(body).hexdigest()
        uri = store.put(sha, body)
        """
    )
    attack = textwrap.dedent(
        """
        try:
            converters.loads(f'ref/1:json/1:{3 * 2**30}:{sha}:{uri}', store=store)
        except converters.IntegrityError:
            print('refused')
        """
    )
    baseline = run_python(f"{setup}\n{PEAK_RSS}\n{PEAK_VM}")
    proc = run_python(f"{setup}\n{attack}\n{PEAK_RSS}\n{PEAK_VM}")
    assert baseline.returncode == 0 and proc.returncode == 0, (baseline.stderr + proc.stderr)[-2000:]
    refused, rss, vm = proc.stdout.split()
    base_rss, base_vm = baseline.stdout.split()
    assert refused == "refused"
    assert int(rss) < 2 * int(base_rss)
    assert int(vm) < int(base_vm) + 256 * 1024  # not even reserved: today's zero-filled buffer shows here


def test_a_reference_over_the_ceiling_is_refused_before_it_is_read(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    ref = converters.dumps("x" * 100_000, store=tmp_path)
    monkeypatch.setenv("PIPEFLOW_MAX_DECODED_BYTES", "50000")
    with pytest.raises(converters.DecodeError, match=r"100,002 bytes, over the limit of 50,000 bytes"):
        converters.loads(ref, store=tmp_path)


@pytest.mark.parametrize(
    "text",
    [
        _ref(int("9" * 30), "0" * 64, "memory://m/x"),
        "ref/1:json/1:" + "1" * 5_000 + ":" + "0" * 64 + ":memory://m/x",  # past int()'s digit limit
        "ref/1:json/1:\u0661\u0662:" + "0" * 64 + ":memory://m/x",  # Arabic-Indic digits pass str.isdigit()
        "ref/1:json/1:\u00b2:" + "0" * 64 + ":memory://m/x",
        "ref/1:json/1:-5:" + "0" * 64 + ":memory://m/x",
    ],
)
def test_malformed_sizes_are_decode_errors(text: str) -> None:
    with pytest.raises(converters.DecodeError, match=r"malformed reference"):
        converters.loads(text, store="memory://m")


# -- anything at all: only our errors ----------------------------------------------------------

_CODECS = st.sampled_from(["json/1", "msgpack/1", "pandas/1", "ref/1", "json/2", "nope/1", ""])


def _raw_msgpack() -> st.SearchStrategy[bytes]:
    """Valid msgpack with ext types of every code we use, nested at random, often cut short."""
    leaves = st.one_of(st.integers(-(2**63), 2**64 - 1), st.text(max_size=5), st.binary(max_size=5), st.none())
    ext = st.builds(lambda code, data: msgpack.ExtType(code, data), st.integers(0, 12), st.binary(max_size=12))

    def deeper(inner: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
        packed_ext = st.builds(lambda code, v: msgpack.ExtType(code, msgpack.packb(v)), st.integers(1, 11), inner)
        return st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=2), inner, max_size=3) | packed_ext

    values = st.recursive(leaves | ext, deeper, max_leaves=30)
    return st.builds(lambda v, cut: msgpack.packb(v)[: cut or None], values, st.integers(0, 40))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.one_of(
        st.builds(lambda c, t: f"{c}:{t}", _CODECS, st.text(max_size=60)),
        st.builds(lambda c, b: f"{c}:{base64.b64encode(b).decode()}", _CODECS, st.binary(max_size=200)),
        st.builds(lambda b: msgpack_envelope(b), _raw_msgpack()),
        st.builds(lambda b, g: msgpack_envelope(b + g), _raw_msgpack(), st.binary(min_size=1, max_size=20)),
        st.builds(lambda n, o: json_chain(n, *o), st.integers(0, 3_000),
                  st.sampled_from([("[", "]"), ('{"!tuple":[', "]}"), ('{"!set":[', "]}")])),
        st.builds(lambda n: msgpack_envelope(array_chain(n)), st.integers(0, 3_000)),
        st.builds(lambda n: msgpack_envelope(tuple_chain(n)), st.integers(0, 300)),
        st.builds(lambda t: "json/1:" + t, st.text(alphabet='[]{}"!:,0123456789abcdefgilnprstuxyz ', max_size=80)),
    )
)
def test_any_envelope_decodes_or_raises_a_converter_error(text: str) -> None:
    try:
        converters.loads(text)
    except converters.ConverterError:
        pass


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    size=st.one_of(st.integers(0, 64), st.integers(0, 10**30), st.text(string.digits + "-x", max_size=25)),
    sha=st.one_of(st.just("0" * 64), st.text("0123456789abcdef", min_size=60, max_size=66)),
    tail=st.sampled_from(["obj", "../obj", "/etc/passwd", "a/../../obj", "%2e%2e/obj", "obj%00", "a//obj", "", "link"]),
    codec=st.sampled_from(["json/1", "msgpack/1", "pandas/1", "zip/1"]),
    given_store=st.booleans(),
)
def test_any_reference_decodes_or_raises_a_converter_error(
    tmp_path: Path, size: Any, sha: str, tail: str, codec: str, given_store: bool
) -> None:
    store = converters.LocalStore(tmp_path / "store")
    store.put("obj", b'"x"')
    link = tmp_path / "store" / "link"
    if not link.is_symlink():
        link.symlink_to(tmp_path / "store" / "obj")
    text = f"ref/1:{codec}:{size}:{sha}:{store.uri}/{tail}"
    try:
        converters.loads(text, store=store if given_store else None)
    except converters.ConverterError:
        pass


@settings(max_examples=100, deadline=None)
@given(
    st.recursive(
        st.integers() | st.text(max_size=3),
        lambda c: st.lists(c, max_size=2) | st.tuples(c) | st.dictionaries(st.text(max_size=2), c, max_size=2),
        max_leaves=200,
    )
)
def test_any_nesting_round_trips_or_is_an_encode_error(value: Any) -> None:
    for codec in ("json", "msgpack"):
        try:
            text = converters.dumps(value, codec=codec, threshold=10**9)
        except converters.EncodeError:
            continue
        assert converters.loads(text) == value


def test_reference_shaped_text_keeps_the_declared_size_out_of_the_real_one() -> None:
    ref = Reference.parse(_ref(12, "0" * 64, "memory://m/x"))
    assert converters.payload_size(str(ref)) == 12  # declared, no I/O
