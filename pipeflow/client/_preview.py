"""`Run.result(preview=n)`: the first rows of a DataFrame result without reading all of it.

An offloaded DataFrame is a Parquet object (the `pandas` codec): its footer says where each row
group lies, so the first rows cost the footer and the first row group's column chunks, read with
ranged reads from the store (a seekable file for a directory, ranged GETs for S3). The object's
sha256 covers all of it, so a preview is not verified; `result()` reads and verifies the whole.
"""

from __future__ import annotations

import json
from typing import Any

import converters

from .. import wire



def preview_result(text: str, store: str | None, rows: int) -> Any:
    """A completed run's result (`text`, as CompleteWorkflowExecution gave it) with at most `rows` of each frame."""
    if rows < 0:
        raise ValueError(f"preview={rows}: give a number of rows, 0 or more")
    if text.startswith(wire.TREE_PREFIX):
        return _tree(wire.parse_tree(text[len(wire.TREE_PREFIX):], "the result tree"), store, rows)
    return _envelope(text, store, rows)


def _tree(tree: Any, store: str | None, rows: int) -> Any:
    if isinstance(tree, str):
        return _envelope(tree, store, rows)
    if isinstance(tree, list):
        return [_tree(member, store, rows) for member in tree[:rows]]
    if "offloaded" in tree:
        return _tree(converters.loads(tree["offloaded"], store=store), store, rows)
    return wire.decode_tree(tree, store)  # a failed member of a group: its error


def _envelope(text: str, store: str | None, rows: int) -> Any:
    if converters.is_reference(text):
        ref = converters.Reference.parse(text)
        if ref.codec == "pandas":
            return _parquet_head(ref, store, rows)
    value = converters.loads(text, store=store)
    from converters._pandas import is_pandas  # converters imports pipeflow: not at import

    if is_pandas(value):
        return value.head(rows)
    return value[:rows] if isinstance(value, list) else value


def _parquet_head(ref: Any, store: str | None, rows: int) -> Any:
    """The first `rows` rows of the Parquet object `ref` points to: its first row groups only."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    source, key = _locate(ref, store)
    with source.open(key) as file:
        parquet = pq.ParquetFile(file)
        batches, got = [], 0
        for group in range(parquet.num_row_groups):
            if got >= rows:
                break
            for batch in parquet.iter_batches(batch_size=max(rows - got, 1), row_groups=[group]):
                batches.append(batch.slice(0, rows - got))
                got += min(batch.num_rows, rows - got)
                break
        table = pa.Table.from_batches(batches, schema=parquet.schema_arrow)
    meta = json.loads((table.schema.metadata or {}).get(b"pipeflow", b'{"kind": "frame"}'))
    frame = table.to_pandas()
    if meta.get("kind") == "series":
        series = frame["__series__"]
        series.name = meta.get("name")
        return series
    return frame


def _locate(ref: Any, store: str | None) -> tuple[Any, str]:
    """The store to read `ref` from and its key there (confined to `store`'s root, as `converters.loads` does)."""
    if store is None:  # as converters.loads: a reference is read only from a store this process was given
        raise converters.StoreError(f"cannot read the offloaded payload at {ref.uri}: no store configured; "
                                    "pass store=... (the store it was written to)")
    root = converters.open_store(store).root
    key = root.key_for(ref.uri)
    if key is None:
        raise converters.StoreError(f"the reference points to {ref.uri}, outside the store {root.uri}")
    return root, key
