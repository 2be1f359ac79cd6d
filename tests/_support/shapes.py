"""A value checked against a botocore shape: members, required members, types and enums."""

from __future__ import annotations

from datetime import datetime
from typing import Any


def check_shape(value: Any, shape: Any, where: str) -> None:
    """Assert that `value` (as boto3 gives it) fits `shape`; `where` names it in the message."""
    kind = shape.type_name
    if kind == "structure":
        assert isinstance(value, dict), where
        unknown = set(value) - set(shape.members)
        assert not unknown, f"{where}: members not in {shape.name}: {unknown}"
        missing = set(shape.required_members) - set(value)
        assert not missing, f"{where}: required members missing: {missing}"
        for name, sub in value.items():
            check_shape(sub, shape.members[name], f"{where}.{name}")
    elif kind == "list":
        assert isinstance(value, list), where
        for i, item in enumerate(value):
            check_shape(item, shape.member, f"{where}[{i}]")
    elif kind == "string":
        assert isinstance(value, str), where
        if shape.enum:
            assert value in shape.enum, f"{where}: {value!r} not in {shape.name}"
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), where
    elif kind == "boolean":
        assert isinstance(value, bool), where
    elif kind == "timestamp":
        assert isinstance(value, datetime) and value.tzinfo is not None, where
    else:
        raise AssertionError(f"{where}: unexpected shape type {kind}")
