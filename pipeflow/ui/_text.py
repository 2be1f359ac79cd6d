"""Times and durations as the pages write them."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any


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
    if seconds is None or seconds != seconds:
        return "-"
    seconds = float(seconds)
    if seconds < 1:
        return f"{seconds * 1000:.0f} ms"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(int(round(seconds)), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m"
