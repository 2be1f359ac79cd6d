"""Scoped store URIs `<root>#a/b`: a child of the root store, confined to the root when reading."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest

import converters
from converters import LocalStore, MemoryStore, Reference, S3Store, open_store

BIG = "x" * 50_000  # over SWF's limit: offloaded


def test_a_scoped_uri_is_a_child_of_its_root() -> None:
    store = open_store("memory://scoped#wf-1/run-a")
    assert isinstance(store, MemoryStore)
    assert store.uri == "memory://scoped/wf-1/run-a"
    assert store.root.uri == "memory://scoped" and store.root.root is store.root
    assert store.child("deeper").root is store.root  # child() keeps the parent's root
    assert open_store("memory://scoped#wf-1/run-a") is store  # cached like any store
    unscoped = open_store("memory://scoped/sub")
    assert unscoped.root is unscoped and unscoped.uri == "memory://scoped/sub"


def test_only_the_last_hash_starts_the_scope() -> None:
    store = open_store("memory://weird#name#wf")
    assert store.root.uri == "memory://weird#name" and store.uri == "memory://weird#name/wf"


@pytest.mark.parametrize(
    "uri", ["memory://s#", "memory://s#a//b", "memory://s#a/../b", "memory://s#./a", "#wf/run", "memory://s#a\\b"]
)
def test_invalid_scopes_are_store_errors(uri: str) -> None:
    with pytest.raises(converters.StoreError, match=r"invalid"):
        open_store(uri)


def test_a_scope_reads_what_another_scope_of_its_root_wrote() -> None:
    ref = converters.dumps(BIG, store="memory://shared#wf-1/input")
    assert Reference.parse(ref).uri.startswith("memory://shared/wf-1/input/")
    assert converters.loads(ref, store="memory://shared#wf-1/run-a") == BIG
    with pytest.raises(converters.StoreError, match=r"outside the store memory://other$"):
        converters.loads(ref, store="memory://other#wf-1/run-a")


def test_local_root_with_a_hash_in_its_name(tmp_path: Path) -> None:
    root = LocalStore(tmp_path / "odd#dir")
    assert "%23" in root.uri and "#" not in root.uri  # percent-encoded: never read as a scope
    scoped = open_store(root.uri + "#wf-1/run-a")
    assert isinstance(scoped, LocalStore)
    assert scoped.path == tmp_path / "odd#dir" / "wf-1" / "run-a"
    assert scoped.root.uri == root.uri
    ref = converters.dumps(BIG, store=scoped)
    assert (scoped.path / Reference.parse(ref).sha256).is_file()
    assert converters.loads(ref, store=root.uri + "#wf-1/run-b") == BIG
    assert converters.loads(ref, store=root) == BIG


def test_a_plain_path_with_a_hash_is_scoped(tmp_path: Path) -> None:
    store = open_store(f"{tmp_path}#wf")
    assert isinstance(store, LocalStore) and store.path == tmp_path / "wf" and store.root.uri == tmp_path.as_uri()


@pytest.mark.slow
def test_s3_scopes_share_the_root_and_its_client(moto_url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", moto_url)
    boto3.client("s3", endpoint_url=moto_url).create_bucket(Bucket="scoped")
    store = open_store("s3://scoped/pre#wf-1/run-a")
    assert isinstance(store, S3Store) and isinstance(store.root, S3Store)
    assert (store.prefix, store.root.uri) == ("pre/wf-1/run-a", "s3://scoped/pre")
    assert store.client is store.root.client
    ref = converters.dumps(BIG, store=store)
    sha = Reference.parse(ref).sha256
    body = boto3.client("s3", endpoint_url=moto_url).get_object(Bucket="scoped", Key=f"pre/wf-1/run-a/{sha}")["Body"].read()
    assert body == f'"{BIG}"'.encode()  # the json codec's payload
    assert converters.loads(ref, store="s3://scoped/pre#wf-1/input") == BIG
    with pytest.raises(converters.StoreError, match=r"outside the store s3://scoped/elsewhere"):
        converters.loads(ref, store="s3://scoped/elsewhere#wf-1/run-a")
