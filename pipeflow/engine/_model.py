"""SWF's service model (from botocore), its quotas and small shared helpers (validation: `_validate`)."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime, timezone

import botocore.session
from botocore.model import OperationModel, ServiceModel

from ._faults import SWFFault

__all__ = ["Limits", "operation_model", "service_model", "to_datetime"]


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


def to_datetime(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, timezone.utc)
