"""Spread the polls of one process's pollers evenly in time.

A server that looks for a task only when a poll starts, and otherwise holds an
empty poll for a while (moto: one second), hands a task to the first poll that
starts after it is scheduled. Pollers left alone drift into step with each
other (the one answering a task re-polls a moment later than its neighbours, and
catches them up), and pollers in step wait like one poller. `PollSpacer` gives
each poll that follows an empty one a start slot at least `hold / pollers` after
the previous poll's start, where `hold` is how long the empty poll was held
(capped at a second: on SWF, where an empty poll is held 60 s, a poller pauses
at most `1 / pollers` s, once a minute).
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

__all__ = ["PollSpacer"]

MAX_HOLD = 1.0  # seconds: the longest pause between slots, whatever the server holds an empty poll


class _Waitable(Protocol):
    def wait(self, timeout: float) -> bool: ...


class PollSpacer:
    """Slots for the next polls of `pollers` threads; thread-safe."""

    def __init__(self, pollers: int) -> None:
        self.pollers = pollers
        self._lock = threading.Lock()
        self._gap = 0.0  # seconds between poll starts: the last empty poll's hold over `pollers`
        self._next = 0.0  # monotonic time of the next free slot

    def starting(self) -> float:
        """A poll starts now (after a task, without waiting): the next slot moves past it. The start time."""
        now = time.monotonic()
        with self._lock:
            self._next = max(self._next, now + self._gap)
        return now

    def after_empty(self, started: float, stop: _Waitable) -> bool:
        """After an empty poll begun at `started`: wait for this poller's slot. True when `stop` was set."""
        if self.pollers <= 1:
            return False
        now = time.monotonic()
        with self._lock:
            self._gap = min(now - started, MAX_HOLD) / self.pollers
            slot = max(now, self._next)
            self._next = slot + self._gap
        return slot > now and stop.wait(slot - now)
