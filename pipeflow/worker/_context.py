"""What a running task can report about itself: `pf.heartbeat` and `pf.progress`.

A task runs in a child process of the worker. The child installs a reporter
here before calling the task; the reporter writes the details up the child's
pipe, and the parent's heartbeat thread turns them into
RecordActivityTaskHeartbeat calls. Outside a worker both calls do nothing, so a
task stays an ordinary function in unit tests.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable

__all__ = ["MAX_DETAILS", "heartbeat", "progress", "reporting_to"]

MAX_DETAILS = 2_048  # SWF's limit on heartbeat details, in characters
_TRUNCATED = "...[truncated]"

Reporter = Callable[[str | None], None]

_lock = threading.Lock()
_reporter: Reporter | None = None


def reporting_to(reporter: Reporter | None) -> None:
    """Install the reporter of the task about to run in this process (None: no task)."""
    global _reporter
    with _lock:
        _reporter = reporter


def fit_details(details: str | None) -> str | None:
    """Truncate heartbeat details to SWF's 2,048-character limit, saying so."""
    if details is None or len(details) <= MAX_DETAILS:
        return details
    return details[: MAX_DETAILS - len(_TRUNCATED)] + _TRUNCATED


def heartbeat(details: object = None) -> None:
    """Record that the running task is alive, with optional details (at most 2,048 characters).

    Details that are not a string are sent as JSON.
    """
    text = details if details is None or isinstance(details, str) else json.dumps(details, default=str)
    with _lock:
        reporter = _reporter
    if reporter is not None:
        reporter(fit_details(text))


def progress(done: float, total: float | None, message: str | None = None) -> None:
    """Report progress of the running task (`done` out of `total`); sent as heartbeat details."""
    heartbeat(json.dumps({"done": done, "total": total, "message": message}))
