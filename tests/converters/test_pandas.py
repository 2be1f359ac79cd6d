"""The pandas codec: DataFrames and Series with awkward dtypes survive as Parquet."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import converters
from converters import _pandas


def roundtrip(value: object) -> object:
    return converters.loads(converters.dumps(value, threshold=10**9))


def awkward() -> pd.DataFrame:
    n = 7
    return pd.DataFrame(
        {
            "cat": pd.Categorical(list("abcabca"), categories=["c", "b", "a"], ordered=True),
            "when": pd.date_range("2024-03-30", periods=n, freq="7h", tz="Europe/Paris"),
            "naive": pd.date_range("2024-01-01", periods=n, freq="D"),
            "nullable": pd.array([1, None, 3, None, 5, 6, 7], dtype="Int64"),
            "flag": pd.array([True, None, False, True, True, False, None], dtype="boolean"),
            "text": ["x", None, "z", "é", "", "long" * 10, "7"],
            "f32": np.arange(n, dtype="float32"),
            "u8": np.arange(n, dtype="uint8"),
            "delta": pd.to_timedelta(range(n), unit="s"),
        },
        index=pd.Index([f"row{i}" for i in range(n)], name="key"),
    )


@pytest.mark.parametrize("columnwise", [0, 10**9])
def test_awkward_dtypes_and_index(monkeypatch: pytest.MonkeyPatch, columnwise: int) -> None:
    monkeypatch.setattr(_pandas, "COLUMNWISE_FROM", columnwise)
    df = awkward()
    text = converters.dumps(df, threshold=10**9)
    assert text.startswith("pandas/1:")
    out = converters.loads(text)
    pd.testing.assert_frame_equal(out, df, check_exact=True)


def test_range_index_with_step_and_int_column_names() -> None:
    df = pd.DataFrame({0: [1.5, 2.5, 3.5], 1: ["a", "b", "c"]}, index=pd.RangeIndex(10, 16, 2))
    out = roundtrip(df)
    pd.testing.assert_frame_equal(out, df)
    assert isinstance(out.index, pd.RangeIndex)


def test_multiindex_rows_and_columns() -> None:
    rows = pd.MultiIndex.from_tuples([("a", 1), ("a", 2), ("b", 1)], names=["letter", "number"])
    cols = pd.MultiIndex.from_tuples([("x", "mean"), ("x", "max"), ("y", "mean")])
    df = pd.DataFrame(np.arange(9.0).reshape(3, 3), index=rows, columns=cols)
    pd.testing.assert_frame_equal(roundtrip(df), df)


@pytest.mark.parametrize("name", ["prices", None, 3])
def test_series_keeps_name_dtype_and_index(name: object) -> None:
    series = pd.Series(pd.array([1, None, 3], dtype="Int64"), index=pd.date_range("2024-01-01", periods=3, tz="UTC"), name=name)
    out = roundtrip(series)
    assert isinstance(out, pd.Series)
    pd.testing.assert_series_equal(out, series, check_freq=False)  # Parquet has no index freq


def test_empty_frame() -> None:
    df = pd.DataFrame({"a": pd.Series([], dtype="int64"), "b": pd.Series([], dtype="str")})
    pd.testing.assert_frame_equal(roundtrip(df), df)


@pytest.mark.parametrize("index", [None, "strings"])
@pytest.mark.parametrize("columnwise", [0, 10**9])
def test_frames_in_several_row_groups_read_either_way(
    monkeypatch: pytest.MonkeyPatch, index: str | None, columnwise: int
) -> None:
    monkeypatch.setattr(_pandas, "ROW_GROUP", 4)
    monkeypatch.setattr(_pandas, "COLUMNWISE_FROM", columnwise)
    df = awkward().reset_index(drop=index is None)
    df = pd.concat([df, df, df], ignore_index=index is None)
    pd.testing.assert_frame_equal(roundtrip(df), df)


def test_auto_picks_pandas_and_explicit_codec_refuses_other_values() -> None:
    assert converters.dumps(pd.Series([1]), threshold=10**9).startswith("pandas/1:")
    with pytest.raises(converters.EncodeError, match=r"the pandas codec encodes a DataFrame or Series, not list at result"):
        converters.dumps([1], codec="pandas", what="result")


def test_unencodable_column_is_an_encode_error() -> None:
    df = pd.DataFrame({"obj": [object(), object()]})
    with pytest.raises(converters.EncodeError, match=r"the pandas codec cannot encode the DataFrame at value"):
        converters.dumps(df, threshold=10**9)


def test_corrupt_parquet_is_a_decode_error() -> None:
    with pytest.raises(converters.DecodeError, match=r"corrupt pandas payload"):
        converters.loads("pandas/1:" + "QUJD")


def test_dotted_names_and_index_only_frames(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(_pandas, "COLUMNWISE_FROM", 0)
    dotted = pd.DataFrame({"a.b": [1, 2], "a": [3.0, 4.0], "c.d.e": ["x", "y"]})
    pd.testing.assert_frame_equal(roundtrip(dotted), dotted)
    index_only = pd.DataFrame(index=pd.Index(["p", "q", "r"], name="k"))
    pd.testing.assert_frame_equal(roundtrip(index_only), index_only)


def test_flat_arrow_dtypes_round_trip() -> None:
    import pyarrow as pa

    df = pd.DataFrame({"i": pd.Series([1, None], dtype=pd.ArrowDtype(pa.int32())), "s": pd.Series(["a", None], dtype=pd.ArrowDtype(pa.string()))})
    out = roundtrip(df)
    assert out["i"].dtype == df["i"].dtype
    # Like pd.read_parquet, an ArrowDtype string column comes back as pandas' "string" dtype.
    assert out["s"].dtype == "string" and out["s"].tolist() == ["a", pd.NA]


def test_nested_arrow_dtypes_are_refused_up_front() -> None:
    import pyarrow as pa

    struct = pd.ArrowDtype(pa.struct([("x", pa.int64())]))
    nested = pd.DataFrame({"n": [1, 2], "s": pd.Series([{"x": 1}, {"x": 2}], dtype=struct)})
    with pytest.raises(converters.EncodeError, match=r"cannot encode column 's' of the DataFrame at result: nested pyarrow dtype"):
        converters.dumps(nested, what="result")


@pytest.mark.parametrize("columnwise", [0, 10**9])
def test_many_repeated_strings_come_back_as_strings(monkeypatch: pytest.MonkeyPatch, columnwise: int) -> None:
    # Stored as a dictionary, so measured as one before they are expanded (see _pandas._Reading).
    monkeypatch.setattr(_pandas, "COLUMNWISE_FROM", columnwise)
    n = 200_000
    df = pd.DataFrame({
        "label": pd.Series([f"item-{i % 5000}" for i in range(n)], dtype="str"),
        "kind": pd.Categorical(["a", "b"] * (n // 2)),
        "tags": [["x", "y"] if i % 2 else [] for i in range(n)],
    })
    out = roundtrip(df)
    assert out.dtypes.to_dict() == df.dtypes.to_dict()
    pd.testing.assert_frame_equal(out, df)
