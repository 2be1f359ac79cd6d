"""SWF's service model (from botocore), request validation, limits and small shared helpers."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

import botocore.session
from botocore.model import OperationModel, ServiceModel
from botocore.validate import ParamValidator

from ._faults import SWFFault

__all__ = ["Limits", "check_limits", "operation_model", "service_model", "to_datetime", "validate_params"]


@dataclass(frozen=True)
class Limits:
    """SWF's quotas (SWF-LIMITS.md); tests lower them to reach them quickly."""

    max_field: int = 32_768
    max_reason: int = 256
    max_heartbeat_details: int = 2_048
    max_open_activities: int = 1_000
    max_open_timers: int = 1_000
    max_open_children: int = 1_000
    max_events: int = 25_000
    max_page_size: int = 1_000


@functools.cache
def service_model() -> ServiceModel:
    """SWF's API model as shipped with botocore."""
    return botocore.session.get_session().get_service_model("swf")


@functools.cache
def operation_model(name: str) -> OperationModel:
    try:
        return service_model().operation_model(name)
    except Exception as exc:  # botocore raises OperationNotFoundError
        raise SWFFault("UnknownOperationException", f"unknown operation {name}") from exc


_validator = ParamValidator()


def validate_params(operation: str, params: dict[str, Any]) -> None:
    """Validate a request with botocore's own validator; ValidationException on error."""
    shape = operation_model(operation).input_shape
    if shape is None:
        return
    report = _validator.validate(params, shape)
    if report.has_errors():
        raise SWFFault("ValidationException", report.generate_report())


def to_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)


# Names SWF forbids ':', '/', '|', control characters and the literal "arn" in.
_NAME_MEMBERS = frozenset({"workflowId", "activityId", "timerId", "domain", "name", "version"})
_BAD_CHARS = frozenset(":/|") | frozenset(chr(c) for c in (*range(0x20), *range(0x7F, 0xA0)))


def check_limits(params: Any, shape: Any, path: str = "") -> None:
    """Enforce the model's maximum lengths and SWF's id characters (botocore checks only minimums)."""
    kind = shape.type_name
    if kind == "structure":
        members = shape.members
        for name, value in params.items():
            sub = members.get(name)
            if sub is None:
                continue
            if sub.type_name == "string":
                _check_string(value, sub, f"{path}{name}", name)
            elif sub.type_name in ("structure", "list"):
                check_limits(value, sub, f"{path}{name}.")
    elif kind == "list":
        member = shape.member
        if "max" in shape.metadata and len(params) > shape.metadata["max"]:
            raise SWFFault("ValidationException", f"{path[:-1]}: more than {shape.metadata['max']} items")
        for i, value in enumerate(params):
            if member.type_name == "string":
                _check_string(value, member, f"{path}[{i}]", "")
            elif member.type_name in ("structure", "list"):
                check_limits(value, member, f"{path}[{i}].")


def _check_string(value: str, shape: Any, where: str, name: str) -> None:
    top = shape.metadata.get("max")
    if top is not None and len(value) > top:
        raise SWFFault("ValidationException", f"{where}: {len(value)} characters, the limit is {top}")
    if name.endswith("Timeout"):  # durations are whole seconds as strings, or "NONE"
        if not (value.isdigit() or (value == "NONE" and name != "startToFireTimeout")):
            raise SWFFault("ValidationException", f"{where}: {value!r} is not a number of seconds")
    elif name.endswith("askPriority"):
        try:
            int(value)
        except ValueError:
            raise SWFFault("ValidationException", f"{where}: {value!r} is not an integer") from None
    elif name in _NAME_MEMBERS:
        if value == "arn" or value != value.strip() or not _BAD_CHARS.isdisjoint(value):
            raise SWFFault("ValidationException", f"{where}: invalid characters in {value!r}")
