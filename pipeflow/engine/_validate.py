"""Request validation from botocore's SWF model: types, required members, enums, lengths and ranges.

botocore's ParamValidator checks only types and required members; SWF's front also checks every
constraint of its model, and answers one ValidationException listing them all, in AWS's words:
"2 validation errors detected: Value 'BOGUS' at 'childPolicy' failed to satisfy constraint: ...; ...".
A checker per shape is built once (operations share shapes), so a valid request costs one walk.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from ._faults import SWFFault
from ._model import operation_model

__all__ = ["refusal", "validate"]

# (value, path, errors): appends "Value ... at 'path' failed to satisfy constraint: ..." for each fault.
Check = Callable[[Any, str, list[str]], None]

# Names SWF forbids ':', '/', '|', control characters and the literal "arn" in.
_NAME_MEMBERS = frozenset({"workflowId", "activityId", "timerId", "domain", "name", "version"})
_BAD_CHARS = frozenset(":/|") | frozenset(chr(c) for c in (*range(0x20), *range(0x7F, 0xA0)))
_SHOWN = 128  # characters of a refused value quoted in the message


def validate(operation: str, params: dict[str, Any]) -> None:
    """Refuse a request the model does not allow (ValidationException), before anything runs."""
    errors: list[str] = []
    _checker(operation)(params, "", errors)
    if errors:
        raise refusal(errors)


def refusal(errors: list[str]) -> SWFFault:
    """The ValidationException SWF answers for these constraint failures."""
    count = f"{len(errors)} validation error{'s' if len(errors) > 1 else ''} detected"
    return SWFFault("ValidationException", f"{count}: {'; '.join(errors)}")


def failure(value: Any, path: str, constraint: str) -> str:
    """One constraint failure, as AWS words it."""
    shown = "null" if value is None else f"'{_show(value)}'"
    return f"Value {shown} at '{path}' failed to satisfy constraint: {constraint}"


def _show(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        text = "[" + ", ".join(_show(v) for v in value) + "]"
    elif isinstance(value, dict):
        text = "{" + ", ".join(f"{k}={_show(v)}" for k, v in value.items()) + "}"
    else:
        text = str(value).lower() if isinstance(value, bool) else str(value)
    if len(text) > _SHOWN:
        text = text[:_SHOWN] + "..."
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


@functools.cache
def _checker(operation: str) -> Check:
    shape = operation_model(operation).input_shape
    if shape is None:
        return lambda value, path, errors: None
    return _compile(shape, "", {})


def _compile(shape: Any, member: str, built: dict[tuple[str, str], Check]) -> Check:
    """The checker of `shape` as the member named `member` (SWF's own rules go by member name)."""
    key = (shape.name, member)
    done = built.get(key)
    if done is not None:
        return done
    kind = shape.type_name
    if kind == "structure":
        slot: list[Check] = []
        built[key] = lambda value, path, errors: slot[0](value, path, errors)  # a recursive shape
        check = _structure(shape, built)
        slot.append(check)
    elif kind == "list":
        check = _list(shape, member, built)
    elif kind == "map":
        check = _map(shape, built)
    elif kind == "string":
        check = _string(shape, member)
    elif kind in ("integer", "long"):
        check = _number(shape)
    else:
        check = _scalar(kind)
    built[key] = check
    return check


def _structure(shape: Any, built: dict[tuple[str, str], Check]) -> Check:
    members = {name: _compile(sub, name, built) for name, sub in shape.members.items()}
    required = tuple(shape.required_members)

    def check(value: Any, path: str, errors: list[str]) -> None:
        if not isinstance(value, dict):
            errors.append(failure(value, path[:-1], "Member must be a structure"))
            return
        for name in required:
            if name not in value:
                errors.append(failure(None, path + name, "Member must not be null"))
        for name, item in value.items():
            sub = members.get(name)
            if sub is None:
                errors.append(f"Unknown parameter at '{path}{name}'")
            elif item is None:
                errors.append(failure(None, path + name, "Member must not be null"))
            else:
                sub(item, path + name, errors)

    return lambda value, path, errors: check(value, path + "." if path else "", errors)


def _length(value: Any, path: str, errors: list[str], low: int | None, high: int | None) -> None:
    n = len(value)
    if high is not None and n > high:
        errors.append(failure(value, path, f"Member must have length less than or equal to {high}"))
    elif low is not None and n < low:
        errors.append(failure(value, path, f"Member must have length greater than or equal to {low}"))


def _list(shape: Any, member: str, built: dict[tuple[str, str], Check]) -> Check:
    item_check = _compile(shape.member, member, built)
    low, high = shape.metadata.get("min"), shape.metadata.get("max")

    def check(value: Any, path: str, errors: list[str]) -> None:
        if not isinstance(value, (list, tuple)):
            errors.append(failure(value, path, "Member must be a list"))
            return
        if low is not None or high is not None:
            _length(value, path, errors, low, high)
        for i, item in enumerate(value, 1):
            if item is None:
                errors.append(failure(None, f"{path}.{i}.member", "Member must not be null"))
            else:
                item_check(item, f"{path}.{i}.member", errors)

    return check


def _map(shape: Any, built: dict[tuple[str, str], Check]) -> Check:
    value_check = _compile(shape.value, "", built)

    def check(value: Any, path: str, errors: list[str]) -> None:
        if not isinstance(value, dict):
            errors.append(failure(value, path, "Member must be a map"))
            return
        for k, item in value.items():
            value_check(item, f"{path}.{k}", errors)

    return check


def _string(shape: Any, member: str) -> Check:
    enum = tuple(shape.enum)
    allowed = frozenset(enum)
    low, high = shape.metadata.get("min"), shape.metadata.get("max")
    rule = _swf_rule(member)

    def check(value: Any, path: str, errors: list[str]) -> None:
        if not isinstance(value, str):
            errors.append(failure(value, path, "Member must be a string"))
            return
        if allowed and value not in allowed:
            errors.append(failure(value, path, f"Member must satisfy enum value set: [{', '.join(enum)}]"))
        if (high is not None and len(value) > high) or (low is not None and len(value) < low):
            _length(value, path, errors, low, high)
        elif rule is not None:
            rule(value, path, errors)

    return check


def _swf_rule(member: str) -> Check | None:
    """SWF's rules beyond the model: durations, priorities, names."""
    if member.endswith("Timeout"):  # whole seconds as a string, or "NONE" where a timeout may be absent
        none_ok = member != "startToFireTimeout"
        wanted = "a whole number of seconds" + (" or NONE" if none_ok else "")

        def duration(value: str, path: str, errors: list[str]) -> None:
            if not (value.isdigit() and value.isascii()) and not (none_ok and value == "NONE"):
                errors.append(failure(value, path, f"Member must be {wanted}"))

        return duration
    if member.endswith("askPriority"):
        def priority(value: str, path: str, errors: list[str]) -> None:
            try:
                int(value)
            except ValueError:
                errors.append(failure(value, path, "Member must be an integer"))

        return priority
    if member in _NAME_MEMBERS:
        def name(value: str, path: str, errors: list[str]) -> None:
            if value == "arn" or value != value.strip() or not _BAD_CHARS.isdisjoint(value):
                errors.append(failure(value, path, "Member must not contain ':', '/', '|', control characters "
                                                   "or surrounding spaces, nor be the literal 'arn'"))

        return name
    return None


def _number(shape: Any) -> Check:
    low, high = shape.metadata.get("min"), shape.metadata.get("max")

    def check(value: Any, path: str, errors: list[str]) -> None:
        if not isinstance(value, int) or isinstance(value, bool):
            errors.append(failure(value, path, "Member must be an integer"))
        elif high is not None and value > high:
            errors.append(failure(value, path, f"Member must have value less than or equal to {high}"))
        elif low is not None and value < low:
            errors.append(failure(value, path, f"Member must have value greater than or equal to {low}"))

    return check


def _timestamp(value: Any) -> bool:
    if isinstance(value, datetime):
        return True
    if isinstance(value, bool):
        return False
    if isinstance(value, (int, float, str)):
        try:
            if isinstance(value, str):
                from botocore.utils import parse_timestamp  # heavy, and boto3's clients send datetimes

                parse_timestamp(value)
            else:
                datetime.fromtimestamp(value, timezone.utc)
        except (ValueError, TypeError, OverflowError, OSError):
            return False
        return True
    return False


_SCALARS: dict[str, tuple[str, Callable[[Any], bool]]] = {
    "boolean": ("a boolean", lambda v: isinstance(v, bool)),
    "double": ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    "float": ("a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)),
    "timestamp": ("a timestamp", _timestamp),
    "blob": ("bytes", lambda v: isinstance(v, (bytes, bytearray, str))),
}


def _scalar(kind: str) -> Check:
    wanted, ok = _SCALARS.get(kind, ("known", lambda v: True))

    def check(value: Any, path: str, errors: list[str]) -> None:
        if not ok(value):
            errors.append(failure(value, path, f"Member must be {wanted}"))

    return check
