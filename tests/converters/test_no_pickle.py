"""No pickle anywhere in converters: nothing read from elsewhere is unpickled."""

from __future__ import annotations

import re
from pathlib import Path

import converters

PACKAGE = Path(converters.__file__).parent
FORBIDDEN = re.compile(r"^\s*(import|from)\s+(c?pickle|_pickle|dill|cloudpickle|shelve|marshal)\b|read_pickle|\.loads?\(.*pickle", re.M)


def test_package_never_imports_pickle() -> None:
    sources = sorted(PACKAGE.rglob("*.py"))
    assert len(sources) >= 8
    offenders = [str(p.name) for p in sources if FORBIDDEN.search(p.read_text())]
    assert offenders == []


def test_the_pattern_catches_a_pickle_import() -> None:
    assert FORBIDDEN.search("import pickle\n") and FORBIDDEN.search("    from _pickle import loads\n")
