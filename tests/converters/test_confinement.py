"""References stay inside the configured store; the local store's files are private and symlinks stay out.

Issue 12, cases 1 and 4: without a store, `loads` read any `file://` URI (and quoted its
sha256); symlinks inside a store were followed; payload folders were created 0755.
"""

from __future__ import annotations

import hashlib
import stat
import textwrap
from pathlib import Path
from typing import Any

import pytest

import converters
from converters import LocalStore, MemoryStore, Reference, S3Store

from .hostile import run_python

BODY = b'"a secret"'
SHA = hashlib.sha256(BODY).hexdigest()


def _ref(uri: str, sha: str = SHA, size: int = len(BODY)) -> str:
    return f"ref/1:json/1:{size}:{sha}:{uri}"


@pytest.fixture()
def secret(tmp_path: Path) -> Path:
    """A file outside any store, as /etc/shadow would be."""
    path = tmp_path / "outside" / "secret"
    path.parent.mkdir()
    path.write_bytes(BODY)
    return path


# -- without a store, nothing is read --------------------------------------------------------


def test_without_a_store_a_reference_is_refused(secret: Path) -> None:
    with pytest.raises(converters.StoreError, match=r"no store configured; pass store=") as info:
        converters.loads(_ref(secret.as_uri()))
    assert SHA not in str(info.value).replace(_ref(secret.as_uri()), "")


def test_without_a_store_the_refusal_does_not_depend_on_the_file(secret: Path) -> None:
    messages = []
    for body in (BODY, b"other content", None):
        if body is None:
            secret.unlink()
        else:
            secret.write_bytes(body)
        for sha in (SHA, "0" * 64):
            with pytest.raises(converters.StoreError) as info:
                converters.loads(_ref(secret.as_uri(), sha=sha))
            messages.append(str(info.value).replace(sha, "<sha>"))
    assert len(set(messages)) == 1


def test_without_a_store_the_file_is_never_opened(secret: Path) -> None:
    code = textwrap.dedent(
        f"""
        import sys, converters
        touched = []
        def audit(event, args):
            if event in ("open", "os.listdir", "os.scandir") and args and {str(secret.parent)!r} in str(args[0]):
                touched.append((event, str(args[0])))
        sys.addaudithook(audit)
        for store in (None, {str(secret.parent.parent / "store")!r}):
            try:
                converters.loads({_ref(secret.as_uri())!r}, store=store)
            except converters.StoreError as exc:
                print(type(exc).__name__)
        print(touched)
        """
    )
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.split() == ["StoreError", "StoreError", "[]"]


# -- with a store, only its root -------------------------------------------------------------


@pytest.mark.parametrize(
    "tail",
    ["../outside/secret", "%2e%2e/outside/secret", "a/%2E%2E/%2e%2e/outside/secret", "/outside/secret",
     "a%2fb", "obj%00", "a\\..\\secret", "a//b", "./obj"],
)
def test_keys_that_climb_or_smuggle_are_refused(tmp_path: Path, secret: Path, tail: str) -> None:
    store = LocalStore(tmp_path / "store")
    store.put("obj", BODY)
    with pytest.raises(converters.StoreError):
        converters.loads(_ref(f"{store.uri}/{tail}"), store=store)


def test_a_sibling_directory_sharing_the_prefix_is_outside(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    evil = LocalStore(tmp_path / "store-evil")
    uri = evil.put(SHA, BODY)
    with pytest.raises(converters.StoreError, match=r"outside the store"):
        converters.loads(_ref(uri), store=store)


def test_outside_the_store_nothing_is_leaked(tmp_path: Path, secret: Path) -> None:
    store = LocalStore(tmp_path / "store")
    messages = set()
    for exists in (True, False):
        if not exists:
            secret.unlink()
        with pytest.raises(converters.StoreError, match=r"outside the store") as info:
            converters.loads(_ref(secret.as_uri(), sha="0" * 64), store=store)
        messages.add(str(info.value))
    assert len(messages) == 1 and SHA not in messages.pop()


def test_integrity_errors_inside_the_store_quote_the_checksum(tmp_path: Path) -> None:
    store = LocalStore(tmp_path / "store")
    uri = store.put(SHA, b'"a secreT"')
    with pytest.raises(converters.IntegrityError, match=r"sha256 [0-9a-f]{64}, expected") as info:
        converters.loads(_ref(uri), store=store)
    assert info.value.actual == hashlib.sha256(b'"a secreT"').hexdigest()


# -- symlinks ---------------------------------------------------------------------------------


def open_scoped(store: LocalStore, *parts: str) -> converters.Store:
    return converters.open_store(store.uri + "#" + "/".join(parts))


def test_a_symlinked_object_is_not_followed(tmp_path: Path, secret: Path) -> None:
    store = LocalStore(tmp_path / "store")
    store.put("placeholder", b"x")
    (tmp_path / "store" / SHA).symlink_to(secret)
    with pytest.raises(converters.StoreError, match=r"symbolic link") as info:
        converters.loads(_ref(f"{store.uri}/{SHA}"), store=store)
    assert "a secret" not in str(info.value)
    assert not store.exists(SHA)


def test_a_symlinked_folder_is_not_followed_to_read_or_write(tmp_path: Path, secret: Path) -> None:
    store = LocalStore(tmp_path / "store")
    store.put("placeholder", b"x")
    (tmp_path / "store" / "wf").symlink_to(secret.parent, target_is_directory=True)
    with pytest.raises(converters.StoreError, match=r"symbolic link"):
        converters.loads(_ref(f"{store.uri}/wf/secret"), store=store)
    planted = store.child("wf", "run")
    assert planted.path == tmp_path / "store" / "wf" / "run"  # not resolved through the link
    with pytest.raises(converters.StoreError, match=r"symbolic link"):
        converters.dumps("y" * 50_000, store=planted)
    with pytest.raises(converters.StoreError, match=r"symbolic link"):
        converters.dumps("y" * 50_000, store=open_scoped(store, "wf", "run"))
    assert sorted(p.name for p in secret.parent.iterdir()) == ["secret"]
    assert not store.exists("wf/secret")
    assert store.delete(["wf/secret"]) == 0 and secret.exists()
    assert list(store.walk("wf/")) == []


def test_a_symlinked_store_root_is_resolved_once(tmp_path: Path) -> None:
    (tmp_path / "real").mkdir()
    (tmp_path / "alias").symlink_to(tmp_path / "real", target_is_directory=True)
    store = LocalStore(tmp_path / "alias")  # the user's own choice of directory
    ref = converters.dumps("z" * 50_000, store=store)
    assert Reference.parse(ref).uri.startswith((tmp_path / "real").as_uri())
    assert converters.loads(ref, store=store) == "z" * 50_000


# -- private files (case 1) -------------------------------------------------------------------


def test_folders_are_0700_and_objects_0600_whatever_the_umask(tmp_path: Path) -> None:
    code = textwrap.dedent(
        f"""
        import os, converters
        os.umask(0)
        root = {str(tmp_path / "fresh" / "payloads")!r}
        store = converters.open_store(root + "#wf-1/run-1")
        print(converters.dumps("p" * 50_000, store=store))
        """
    )
    proc = run_python(code)
    assert proc.returncode == 0, proc.stderr[-2000:]
    sha = Reference.parse(proc.stdout.strip()).sha256
    modes = {
        str(p.relative_to(tmp_path)): stat.S_IMODE(p.stat().st_mode)
        for p in [tmp_path / "fresh", *sorted((tmp_path / "fresh").rglob("*"))]
    }
    assert modes == {
        "fresh": 0o700,
        "fresh/payloads": 0o700,
        "fresh/payloads/wf-1": 0o700,
        "fresh/payloads/wf-1/run-1": 0o700,
        f"fresh/payloads/wf-1/run-1/{sha}": 0o600,
    }


def test_an_existing_root_keeps_its_mode_and_writes_stay_atomic(tmp_path: Path) -> None:
    tmp_path.chmod(0o755)
    store = LocalStore(tmp_path)
    store.put("a/b", b"data")
    assert stat.S_IMODE(tmp_path.stat().st_mode) == 0o755
    assert stat.S_IMODE((tmp_path / "a").stat().st_mode) == 0o700
    assert stat.S_IMODE((tmp_path / "a" / "b").stat().st_mode) == 0o600
    assert [p.name for p in (tmp_path / "a").iterdir()] == ["b"]  # no temporary file left behind
    store.put("a/b", b"new data")
    assert (tmp_path / "a" / "b").read_bytes() == b"new data"


# -- the memory and S3 stores follow the same rules ------------------------------------------


def test_memory_store_confines_to_its_name() -> None:
    mine, other = MemoryStore(), MemoryStore()
    uri = other.put(SHA, BODY)
    with pytest.raises(converters.StoreError, match=r"outside the store"):
        converters.loads(_ref(uri), store=mine)
    with pytest.raises(converters.StoreError, match=r"no store configured"):
        converters.loads(_ref(uri))
    assert converters.loads(_ref(uri), store=other) == "a secret"


class FakeS3:
    """Just enough of a boto3 S3 client to see which calls a read makes, and in what order."""

    def __init__(self, objects: dict[str, bytes]) -> None:
        self.objects = objects
        self.calls: list[str] = []

    def head_object(self, Bucket: str, Key: str) -> dict[str, Any]:
        self.calls.append(f"HEAD {Bucket}/{Key}")
        return {"ContentLength": len(self.objects[f"{Bucket}/{Key}"])}

    def get_object(self, Bucket: str, Key: str, **kwargs: Any) -> dict[str, Any]:
        self.calls.append(f"GET {Bucket}/{Key}")
        import io

        return {"Body": io.BytesIO(self.objects[f"{Bucket}/{Key}"])}


def test_s3_heads_before_it_gets_and_stays_in_its_prefix() -> None:
    client = FakeS3({f"b/pre/{SHA}": BODY, f"b/prefix/{SHA}": BODY, f"other/pre/{SHA}": BODY})
    store = S3Store("s3://b/pre", client=client)
    assert converters.loads(_ref(f"s3://b/pre/{SHA}"), store=store) == "a secret"
    assert client.calls == [f"HEAD b/pre/{SHA}", f"GET b/pre/{SHA}"]
    client.calls.clear()
    with pytest.raises(converters.IntegrityError, match=r"is 10 bytes, not the 3,221,225,472 bytes"):
        converters.loads(_ref(f"s3://b/pre/{SHA}", size=3 * 2**30), store=store)
    assert client.calls == [f"HEAD b/pre/{SHA}"]  # refused before any GET
    client.calls.clear()
    for uri in (f"s3://b/prefix/{SHA}", f"s3://other/pre/{SHA}", f"s3://b/pre/../prefix/{SHA}"):
        with pytest.raises(converters.StoreError):
            converters.loads(_ref(uri), store=store)
    assert client.calls == []
