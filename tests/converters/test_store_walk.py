"""`Store.walk` and `Store.delete` (what `pipeflow gc` uses) on the memory, local and S3 stores."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import boto3
import pytest

import converters
from converters import LocalStore, MemoryStore, ObjectInfo, S3Store, Store

MakeStore = Callable[[], Store]

KEYS = {"wf-1/pipeflow-run.json": b"{}", "wf-1/run-a/aa": b"a" * 10, "wf-1/run-a/bb": b"b" * 20,
        "wf-12/input/cc": b"c" * 30, "top": b"t"}


@pytest.fixture(params=["memory", "local", pytest.param("s3", marks=pytest.mark.slow)])
def make_store(request: pytest.FixtureRequest, tmp_path: Path) -> MakeStore:
    """A fresh, empty store of each kind (S3: a bucket on the moto server)."""
    if request.param == "memory":
        return lambda: MemoryStore().child("root")
    if request.param == "local":
        return lambda: LocalStore(tmp_path / "root")
    moto_url = request.getfixturevalue("moto_url")
    boto3.client("s3", endpoint_url=moto_url).create_bucket(Bucket="walk")
    return lambda: S3Store("s3://walk/root", endpoint_url=moto_url)


def _fill(store: Store) -> None:
    for key, data in KEYS.items():
        store.put(key, data)


def test_walk_lists_every_object_relative_to_the_store(make_store: MakeStore) -> None:
    store = make_store()
    before = time.time()
    _fill(store)
    found = {info.key: info for info in store.walk()}
    assert {k: i.size for k, i in found.items()} == {k: len(v) for k, v in KEYS.items()}
    # S3 keeps whole seconds; the bound is about the clock used, not speed
    assert all(before - 2 <= info.modified <= time.time() + 2 for info in found.values())
    assert isinstance(found["top"], ObjectInfo)


def test_walk_by_prefix_and_from_a_child(make_store: MakeStore) -> None:
    store = make_store()
    _fill(store)
    assert sorted(i.key for i in store.walk("wf-1/")) == ["wf-1/pipeflow-run.json", "wf-1/run-a/aa", "wf-1/run-a/bb"]
    assert sorted(i.key for i in store.walk("wf-1")) == [
        "wf-1/pipeflow-run.json", "wf-1/run-a/aa", "wf-1/run-a/bb", "wf-12/input/cc"]
    assert sorted(i.key for i in store.walk("wf-1/run-a/b")) == ["wf-1/run-a/bb"]
    assert sorted(i.key for i in store.child("wf-1").walk()) == ["pipeflow-run.json", "run-a/aa", "run-a/bb"]
    assert list(store.walk("nothing/")) == []
    assert list(make_store().child("never-written").walk()) == []


def test_delete_removes_the_objects_and_counts_them(make_store: MakeStore) -> None:
    store = make_store()
    _fill(store)
    removed = store.delete(i.key for i in store.walk("wf-1/"))
    assert removed == 3
    assert sorted(i.key for i in store.walk()) == ["top", "wf-12/input/cc"]
    assert not store.exists("wf-1/run-a/aa") and store.exists("wf-12/input/cc")
    assert store.child("wf-12").delete(["input/cc"]) == 1
    assert [i.key for i in store.walk()] == ["top"]


@pytest.mark.parametrize("prefix", ["../up", "a//b", "./"])
def test_walk_refuses_a_prefix_that_climbs_out(prefix: str) -> None:
    with pytest.raises(ValueError, match="invalid store"):
        list(MemoryStore().walk(prefix))


def test_local_delete_prunes_emptied_directories_but_not_the_store(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "root")
    _fill(store)
    assert store.delete(["wf-1/run-a/aa", "wf-1/run-a/bb", "wf-1/pipeflow-run.json", "wf-1/missing"]) == 3
    assert not (tmp_path / "root" / "wf-1").exists()
    assert (tmp_path / "root" / "wf-12" / "input" / "cc").is_file()
    child = store.child("wf-12")
    assert child.delete(["input/cc"]) == 1
    assert child.path.is_dir() and not (child.path / "input").exists()  # the child's own directory stays
    assert store.delete(["top"]) == 1 and store.path.is_dir()


def test_local_walk_skips_temporary_files(tmp_path: Path) -> None:
    store = LocalStore(tmp_path)
    store.put("wf/aa", b"x")
    (tmp_path / "wf" / ".bb.0123abcd.tmp").write_bytes(b"half-written")
    (tmp_path / "wf" / "link").symlink_to(tmp_path / "wf" / "aa")
    assert [i.key for i in store.walk()] == ["wf/aa"]


def test_memory_delete_skips_missing_keys() -> None:
    store = MemoryStore()
    store.put("a/b", b"1")
    assert store.delete(["a/b", "a/c", "a/b"]) == 1
    assert store.objects() == {}


@pytest.mark.slow
def test_s3_walk_and_delete_page_through_many_keys(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    from converters import _s3

    monkeypatch.setattr(_s3, "LIST_PAGE", 3)
    monkeypatch.setattr(_s3, "DELETE_BATCH", 4)
    client = boto3.client("s3", endpoint_url=moto_url)
    client.create_bucket(Bucket="many")
    store = S3Store("s3://many/p", endpoint_url=moto_url)
    keys = [f"wf/{i:02d}" for i in range(11)]
    for key in keys:
        store.put(key, b"x")
    client.put_object(Bucket="many", Key="p/wf/", Body=b"")  # a console's folder marker: not a key of ours
    client.put_object(Bucket="many", Key="outside", Body=b"")
    assert [i.key for i in store.walk()] == keys
    assert store.delete(i.key for i in store.walk()) == 11
    left = sorted(o["Key"] for o in client.list_objects_v2(Bucket="many")["Contents"])
    assert left == ["outside", "p/wf/"]


@pytest.mark.slow
def test_s3_listing_a_missing_bucket_is_a_store_error(moto_url: str) -> None:
    store = S3Store("s3://no-such-bucket/p", endpoint_url=moto_url)
    with pytest.raises(converters.StoreError, match=r"cannot list s3://no-such-bucket/p: NoSuchBucket"):
        list(store.walk())
