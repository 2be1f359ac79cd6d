"""Stores: a local directory, the in-memory store, and open_store (S3 is in test_s3.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

import converters
from converters import LocalStore, MemoryStore, Reference, open_store

BIG = {"rows": [{"id": i, "name": f"n{i}"} for i in range(5_000)]}


def test_local_directory_round_trip(tmp_path: Path) -> None:
    ref = converters.dumps(BIG, store=str(tmp_path / "payloads"))
    parsed = Reference.parse(ref)
    path = tmp_path / "payloads" / parsed.sha256
    assert parsed.uri == path.as_uri() and path.read_bytes().startswith(b'{"rows":')
    assert converters.loads(ref, store=tmp_path / "payloads") == BIG
    assert converters.loads(ref, store=tmp_path) == BIG
    assert not list((tmp_path / "payloads").glob(".*.tmp"))


def test_file_uri_and_scoped_child(tmp_path: Path) -> None:
    store = open_store((tmp_path / "with space").as_uri())
    assert isinstance(store, LocalStore) and store.path == tmp_path / "with space"
    run = store.child("wf", "run")
    ref = converters.dumps(BIG, store=run)
    assert (tmp_path / "with space" / "wf" / "run" / Reference.parse(ref).sha256).is_file()
    assert converters.loads(ref, store=run) == BIG
    assert converters.loads(ref, store=store) == BIG


def test_tampered_local_file_is_refused(tmp_path: Path) -> None:
    ref = converters.dumps(BIG, store=tmp_path)
    path = tmp_path / Reference.parse(ref).sha256
    path.write_bytes(path.read_bytes().replace(b"n1", b"n2", 1))
    with pytest.raises(converters.IntegrityError, match=r"does not match its reference"):
        converters.loads(ref, store=tmp_path)


def test_missing_local_file_is_a_store_error(tmp_path: Path) -> None:
    ref = converters.dumps(BIG, store=tmp_path)
    (tmp_path / Reference.parse(ref).sha256).unlink()
    with pytest.raises(converters.StoreError, match=r"cannot read file://"):
        converters.loads(ref, store=tmp_path)


def test_unwritable_directory_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(converters.StoreError, match=r"cannot write"):
        converters.dumps(BIG, store=tmp_path / "file" / "sub")


@pytest.mark.parametrize("uri", ["ftp://host/dir", "gs://bucket"])
def test_unsupported_uri_is_a_store_error(uri: str) -> None:
    with pytest.raises(converters.StoreError, match=r"unsupported store URI"):
        open_store(uri)


@pytest.mark.parametrize("part", ["..", "", "a/b", "."])
def test_child_segments_cannot_escape(part: str) -> None:
    with pytest.raises(ValueError, match=r"invalid store path segment"):
        MemoryStore().child(part)


def test_reference_cannot_climb_out_of_a_local_store(tmp_path: Path) -> None:
    sha = "0" * 64
    ref = f"ref/1:json/1:2:{sha}:{tmp_path.as_uri()}/../{sha}"
    with pytest.raises(converters.StoreError, match=r"invalid location .*invalid store path segment '..'"):
        converters.loads(ref, store=tmp_path)
    with pytest.raises(converters.StoreError, match=r"no store configured"):
        converters.loads(ref)  # without a store, nothing is read at all


def test_memory_uri_reaches_the_same_objects() -> None:
    store = MemoryStore("shared-test")
    ref = converters.dumps(BIG, store="memory://shared-test/p")
    assert converters.loads(ref, store=store) == BIG
    assert open_store("memory://shared-test/p").uri == "memory://shared-test/p"
    store.clear()


def test_relative_paths_are_resolved_when_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "one").mkdir()
    (tmp_path / "two").mkdir()
    monkeypatch.chdir(tmp_path / "one")
    first = open_store("payloads")
    monkeypatch.chdir(tmp_path / "two")
    second = open_store("payloads")
    assert isinstance(first, LocalStore) and isinstance(second, LocalStore)
    assert (first.path, second.path) == (tmp_path / "one" / "payloads", tmp_path / "two" / "payloads")
