"""Times and durations as the pages write them."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from ..client import format_duration


def when(value: Any) -> str:
    """`2026-11-29 05:19:41Z` from ISO text, a datetime or epoch seconds; `-` for none."""
    if value is None or value == "":
        return "-"
    if isinstance(value, (int, float)):
        value = datetime.fromtimestamp(float(value), timezone.utc)
    if isinstance(value, datetime):
        value = value.astimezone(timezone.utc).isoformat()
    return str(value)[:19].replace("T", " ") + "Z"


def duration(seconds: Any) -> str:
    """`850 ms`, `2.5 s`, `3m07s`; `-` for none."""
    return format_duration(seconds, unit_sep=" ")
