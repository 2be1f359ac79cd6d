"""Third-party codecs: `converters.register()` and the `pipeflow.converters` entry point group."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import pytest

import converters
from converters import _codec


@pytest.fixture(autouse=True)
def _forget_extra_codecs() -> Iterator[None]:
    before = dict(_codec._codecs)
    yield
    _codec._codecs.clear()
    _codec._codecs.update(before)
    _codec._reset_entry_points()


class Upper(converters.Codec):
    name: ClassVar[str] = "upper"
    version: ClassVar[int] = 2
    binary: ClassVar[bool] = False

    def encode(self, value: Any, *, what: str = "value") -> str:
        if not isinstance(value, str):
            raise converters.EncodeError(f"upper encodes str, not {type(value).__name__}", path=what)
        return value.upper()

    def decode(self, payload: Any) -> Any:
        return payload.lower()


def test_register_a_codec() -> None:
    converters.register(Upper())
    assert converters.dumps("abc", codec="upper") == "upper/2:ABC"
    assert converters.loads("upper/2:ABC") == "abc"
    with pytest.raises(converters.DecodeError, match=r"unsupported version 1 of codec 'upper'"):
        converters.loads("upper/1:ABC")


def test_registered_text_codec_offloads_as_utf8() -> None:
    converters.register(Upper())
    store = converters.MemoryStore()
    ref = converters.dumps("é" * 40_000, codec="upper", store=store)
    assert converters.Reference.parse(ref).size == 80_000
    assert converters.loads(ref, store=store) == "é" * 40_000
    store.clear()


@pytest.mark.parametrize("name", ["auto", "ref", "a/b", "x:y", ""])
def test_reserved_or_invalid_names_are_refused(name: str) -> None:
    codec = Upper()
    codec.name = name  # type: ignore[misc]
    with pytest.raises(ValueError, match=r"invalid codec name"):
        converters.register(codec)


def test_register_wants_a_codec() -> None:
    with pytest.raises(TypeError, match=r"takes a converters.Codec instance"):
        converters.register(object())  # type: ignore[arg-type]


def test_entry_point_codec(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A distribution declaring `[pipeflow.converters] rot13 = ...` is found on first use."""
    (tmp_path / "pf_rot13.py").write_text(
        textwrap.dedent(
            """
            import codecs
            from converters import Codec

            class Rot13(Codec):
                name = "rot13"
                version = 1
                binary = False

                def encode(self, value, *, what="value"):
                    return codecs.encode(value, "rot13")

                def decode(self, payload):
                    return codecs.decode(payload, "rot13")
            """
        )
    )
    dist = tmp_path / "pf_rot13-1.0.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: pf-rot13\nVersion: 1.0\n")
    (dist / "entry_points.txt").write_text("[pipeflow.converters]\nrot13 = pf_rot13:Rot13\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    _codec._reset_entry_points()

    assert converters.loads("rot13/1:uryyb") == "hello"  # found when decoding, no import needed
    assert converters.dumps("hello", codec="rot13") == "rot13/1:uryyb"
    monkeypatch.delitem(__import__("sys").modules, "pf_rot13")
