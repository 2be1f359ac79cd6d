"""dumps/loads: the envelope, `auto`, thresholds, references and their errors."""

from __future__ import annotations

import hashlib
import math
from typing import Any

import pytest

import converters
from converters import MemoryStore, Reference


@pytest.fixture()
def store() -> MemoryStore:
    s = MemoryStore()
    yield s
    s.clear()


@pytest.mark.parametrize(
    "value, codec",
    [({"a": 1}, "json"), ((1, {2: "x"}), "json"), ({"data": b"\x00\x01"}, "msgpack"), (b"raw", "msgpack")],
)
def test_auto_picks_by_value(value: Any, codec: str) -> None:
    text = converters.dumps(value)
    assert text.startswith(f"{codec}/1:")
    assert converters.loads(text) == value


def test_explicit_codec_and_codec_instance() -> None:
    assert converters.dumps([1], codec="msgpack").startswith("msgpack/1:")
    assert converters.dumps([1], codec=converters.JsonCodec()) == "json/1:[1]"


def test_exactly_at_the_threshold_stays_inline() -> None:
    text = converters.dumps("x" * 100, codec="json")
    assert converters.dumps("x" * 100, codec="json", threshold=len(text)) == text
    with pytest.raises(converters.PayloadTooLarge):
        converters.dumps("x" * 100, codec="json", threshold=len(text) - 1)


def test_payload_too_large_names_size_limit_and_flag() -> None:
    with pytest.raises(converters.PayloadTooLarge) as info:
        converters.dumps("x" * 40_000, what="result")
    message = str(info.value)
    assert "40,009 characters" in message and "32,768" in message and "--s3-bucket" in message
    assert "result" in message
    assert (info.value.size, info.value.limit) == (40_009, 32_768)


def test_binary_size_is_counted_as_base64() -> None:
    # 30,000 bytes are 40,000 base64 characters: over the limit though the bytes are not.
    with pytest.raises(converters.PayloadTooLarge, match=r"40,\d{3} characters"):
        converters.dumps(b"\x01" * 30_000)


def test_offload_to_a_store_gives_a_small_reference(store: MemoryStore) -> None:
    value = {"rows": list(range(20_000))}
    ref = converters.dumps(value, store=store)
    assert converters.is_reference(ref) and len(ref) < 300
    parsed = Reference.parse(ref)
    body = store.objects()[parsed.sha256]
    assert parsed.codec == "json" and parsed.version == "1"
    assert parsed.size == len(body) == converters.payload_size(ref)
    assert parsed.sha256 == hashlib.sha256(body).hexdigest()
    assert parsed.uri == f"{store.uri}/{parsed.sha256}"
    assert body.startswith(b'{"rows":[0,1,2')  # raw payload, no envelope, no base64
    assert str(parsed) == ref
    assert converters.loads(ref, store=store) == value
    with pytest.raises(converters.StoreError, match=r"no store configured; pass store="):
        converters.loads(ref)  # a reference is read only through the store it was written to


def test_binary_payloads_are_stored_raw(store: MemoryStore) -> None:
    blob = bytes(range(256)) * 200
    ref = converters.dumps({"blob": blob}, store=store)
    parsed = Reference.parse(ref)
    assert parsed.codec == "msgpack" and blob in store.objects()[parsed.sha256]
    assert converters.loads(ref, store=store)["blob"] == blob


def test_same_payload_is_stored_once(store: MemoryStore) -> None:
    value = ["same"] * 10_000
    assert converters.dumps(value, store=store) == converters.dumps(value, store=store)
    assert len(store.objects()) == 1


def test_small_values_stay_inline_even_with_a_store(store: MemoryStore) -> None:
    assert converters.dumps([1, 2], store=store) == "json/1:[1,2]"
    assert store.objects() == {}


def test_inline_payload_size() -> None:
    assert converters.payload_size("json/1:[1]") == 10
    assert not converters.is_reference("json/1:[1]")


def test_scoped_store_keys_sit_under_the_sub_prefix(store: MemoryStore) -> None:
    run = store.child("wf-1", "run-2")
    ref = converters.dumps("y" * 50_000, store=run)
    parsed = Reference.parse(ref)
    assert parsed.uri == f"memory://{store.name}/wf-1/run-2/{parsed.sha256}"
    assert list(store.objects()) == [f"wf-1/run-2/{parsed.sha256}"]
    assert converters.loads(ref, store=store) == "y" * 50_000  # a parent store reads it too


def test_reference_outside_the_given_store_is_refused(store: MemoryStore) -> None:
    ref = converters.dumps("z" * 50_000, store=store.child("a"))
    assert converters.loads(ref, store=store.child("b")) == "z" * 50_000  # confined to the root, not the scope
    with pytest.raises(converters.StoreError, match=r"outside the store"):
        converters.loads(ref, store=MemoryStore().child("a"))


def test_missing_object_is_a_store_error(store: MemoryStore) -> None:
    ref = converters.dumps("z" * 50_000, store=store)
    store.clear()
    with pytest.raises(converters.StoreError, match=r"no object at memory://"):
        converters.loads(ref, store=store)


def test_tampered_object_is_refused(store: MemoryStore) -> None:
    ref = converters.dumps("z" * 50_000, store=store)
    key = Reference.parse(ref).sha256
    body = store.objects()[key]
    store.put(key, body.replace(b"z", b"q", 1))
    with pytest.raises(converters.IntegrityError, match=r"does not match its reference: sha256 [0-9a-f]{64}") as info:
        converters.loads(ref, store=store)
    assert info.value.expected == key and info.value.actual != key
    store.put(key, body + b" ")
    with pytest.raises(converters.IntegrityError, match=r"is 50,003 bytes, not the 50,002 bytes its reference gives"):
        converters.loads(ref, store=store)
    store.put(key, body[:-1])
    with pytest.raises(converters.IntegrityError, match=r"is 50,001 bytes, not the 50,002 bytes its reference gives"):
        converters.loads(ref, store=store)


@pytest.mark.parametrize(
    "text, codec, version, message",
    [
        ("yaml/1:a: 1", "yaml", "1", r"unknown codec 'yaml' \(version 1\)"),
        ("json/7:{}", "json", "7", r"unsupported version 7 of codec 'json': this installation reads json/1"),
        ("msgpack/0:kA==", "msgpack", "0", r"unsupported version 0 of codec 'msgpack'"),
        ("ref/2:json/1:1:" + "0" * 64 + ":memory://x/y", "ref", "2", r"unsupported reference version '2'"),
        ("ref/1:json/1:ten:" + "0" * 64 + ":memory://x/y", "ref", "1", r"malformed reference"),
        ("ref/1:json/1:1:nothex:memory://x/y", "ref", "1", r"malformed reference"),
        ("ref/1:bson/1:1:" + "0" * 64 + ":memory://x/y", "bson", "1", r"unknown codec 'bson'"),
    ],
)
def test_unknown_codec_or_version_is_a_decode_error(text: str, codec: str, version: str, message: str) -> None:
    with pytest.raises(converters.DecodeError, match=message) as info:
        converters.loads(text)
    assert (info.value.codec, info.value.version) == (codec, version)


@pytest.mark.parametrize("text", ['{"a": 1}', "", "hello", "json:1"])
def test_text_without_a_header_is_a_decode_error(text: str) -> None:
    with pytest.raises(converters.DecodeError, match=r"not an encoded value"):
        converters.loads(text)


def test_loads_wants_a_str() -> None:
    with pytest.raises(converters.DecodeError, match=r"expected an encoded str, not bytes"):
        converters.loads(b"json/1:1")  # type: ignore[arg-type]


def test_unknown_codec_name_on_dumps() -> None:
    with pytest.raises(converters.EncodeError, match=r"unknown codec 'yaml'"):
        converters.dumps(1, codec="yaml")


def test_threshold_infinite_keeps_everything_inline() -> None:
    assert not converters.is_reference(converters.dumps("x" * 100_000, threshold=math.inf))  # type: ignore[arg-type]
