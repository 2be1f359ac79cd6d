"""Hostile payloads, built the way an attacker would (straight from msgpack, JSON and Parquet, not `dumps`)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from typing import Any

import msgpack

from converters._b64 import b64encode

TUPLE = 1  # the msgpack codec's ext type for a tuple


def msgpack_envelope(packed: bytes) -> str:
    return "msgpack/1:" + b64encode(packed)


def tuple_chain(levels: int, leaf: Any = 0) -> bytes:
    """`((...(leaf,)...),)`, `levels` tuples deep, each an ext type unpacked by its own C call."""
    value: Any = leaf
    for _ in range(levels):
        value = msgpack.ExtType(TUPLE, msgpack.packb([value]))
    return msgpack.packb(value)  # type: ignore[no-any-return]


def array_chain(levels: int) -> bytes:
    """`[[...[0]...]]`, `levels` plain msgpack arrays deep."""
    return b"\x91" * levels + b"\x00"


def json_chain(levels: int, opener: str = "[", closer: str = "]") -> str:
    return "json/1:" + opener * levels + "0" + closer * levels


def nested(levels: int, kind: type = list) -> Any:
    value: Any = 0
    for _ in range(levels):
        value = {"k": value} if kind is dict else kind([value])
    return value


def string_bomb(rows: int = 1_000_000, width: int = 1_000) -> bytes:
    """Parquet whose one string column repeats a `width`-character value `rows` times: ~3 KB."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    column = pa.DictionaryArray.from_arrays(pa.array(np.zeros(rows, dtype=np.int32)), pa.array(["x" * width]))
    sink = io.BytesIO()
    # No stored Arrow schema: the reader sees a plain string column and expands the dictionary.
    pq.write_table(pa.table({"s": column}), sink, compression="snappy", store_schema=False,
                   data_page_size=1 << 30, write_statistics=False)
    return sink.getvalue()


def int_bomb(rows: int, row_groups: int = 1) -> bytes:
    """Parquet of `rows` int64 zeros (dictionary + RLE: a few KB per row group)."""
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    part = pa.table({"i": pa.array(np.zeros(rows // row_groups, dtype=np.int64))})
    sink = io.BytesIO()
    with pq.ParquetWriter(sink, part.schema, compression="snappy", write_statistics=False) as writer:
        for _ in range(row_groups):
            writer.write_table(part)
    return sink.getvalue()


def run_python(code: str, *, env: dict[str, str] | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """Run `code` in a fresh interpreter (a crash there is an exit code here, not a dead test run)."""
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
        env={**os.environ, **(env or {})}, check=False,
    )


#: Prints the child's peak RSS in KiB (Linux reports ru_maxrss in KiB) as the last line.
PEAK_RSS = "import resource; print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)"

#: Prints the child's peak virtual size in KiB: a buffer that is allocated but never touched shows here only.
PEAK_VM = "print(next(int(line.split()[1]) for line in open('/proc/self/status') if line.startswith('VmPeak:')))"
