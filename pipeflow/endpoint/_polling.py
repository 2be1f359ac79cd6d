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

`IdlePace` keeps one poller from spinning on a server that answers empty polls
at once.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from typing import Protocol

__all__ = ["IdlePace", "Outage", "PollSpacer"]

MAX_HOLD = 1.0  # seconds: the longest pause between slots, whatever the server holds an empty poll


class _Waitable(Protocol):
    def wait(self, timeout: float) -> bool: ...


# Backoff between calls to an engine that is away: doubling from FIRST_DELAY up to MAX_DELAY, each
# wait drawn from its upper half. The cap bounds what an outage costs past its end (a 60 s outage,
# about 60 + MAX_DELAY s) while hundreds of pollers still knock only every few seconds.
FIRST_DELAY = 0.5
MAX_DELAY = 8.0


class Outage:
    """The engine's reachability as one process's loops see it: backoff, and a log line per change, not per call.

    Shared by a worker's or decider's threads: the first failure logs "engine unreachable: ...,
    retrying", the first success after it "engine reachable again after N s".
    """

    def __init__(self, log: logging.Logger, what: str) -> None:
        self.log = log
        self.what = what  # who is waiting, for the log: "worker pipeflow-tasks", "decider ..."
        self._lock = threading.Lock()
        self._since: float | None = None  # monotonic time of the first failure of the current outage

    @property
    def down(self) -> bool:
        """True while the last call failed with a transient error."""
        return self._since is not None

    def failed(self, exc: BaseException, attempt: int, stop: _Waitable) -> bool:
        """A call failed with a transient error (its `attempt`-th in a row, from 0): wait. True when `stop` was set."""
        with self._lock:
            if self._since is None:
                self._since = time.monotonic()
                self.log.warning("%s: engine unreachable: %s: %s; retrying", self.what, type(exc).__name__,
                                 str(exc)[:300])
        delay = min(MAX_DELAY, FIRST_DELAY * 2 ** min(attempt, 16))
        # Jitter from the clock is fine here: this is the I/O edge, not the decider.
        return stop.wait(delay * (0.5 + 0.5 * random.random()))

    def ok(self) -> None:
        """A call succeeded: the end of an outage, if there was one."""
        if self._since is None:
            return
        with self._lock:
            since, self._since = self._since, None
        if since is not None:
            self.log.warning("%s: engine reachable again after %.0f s", self.what, time.monotonic() - since)


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


# A poller whose polls come back empty at once (a server that does not hold them: moto, a
# stand-in) starts its next poll at least a pace after the last one began. The pace doubles
# from IDLE_FIRST with each empty poll in a row, up to a cap, and a task resets it. A poll
# the server held longer than the pace (SWF: 60 s; pipeflow server and the embedded engine:
# until a task comes) is followed by no pause at all.
IDLE_FIRST = 0.001
WORKER_IDLE_MAX = 0.05  # a worker: many of them idle while one works, each costing the server calls
DECIDER_IDLE_MAX = 0.01  # a decider: on the path of every step, so it keeps a shorter pace


class IdlePace:
    """One poller's pace between polls that come back empty at once; one per polling thread.

    Without it, pollers facing a server that answers an empty poll at once spin, and their
    calls crowd out the ones that move a run on (a worker's answer, a decision): on moto with
    4 idle workers, that tripled the time of a 100-step chain.
    """

    def __init__(self, most: float, spacer: PollSpacer | None = None) -> None:
        self.most = most
        self.spacer = spacer  # the slots of this process's pollers, kept first
        self._pace = 0.0  # seconds between poll starts now: 0 after a task

    def after(self, started: float, found: bool, stop: _Waitable) -> bool:
        """After a poll begun at `started` that `found` work or not: the spacer's slot, then the pace.

        True when `stop` was set while waiting.
        """
        if found:
            self.found()
            return False
        return (self.spacer is not None and self.spacer.after_empty(started, stop)) or self.empty(started, stop)

    def found(self) -> None:
        """The last poll brought work: the next one starts at once."""
        self._pace = 0.0

    def empty(self, started: float, stop: _Waitable) -> bool:
        """After an empty poll begun at `started` (monotonic): wait out the pace. True when `stop` was set."""
        self._pace = min(self.most, self._pace * 2 or IDLE_FIRST)
        rest = started + self._pace - time.monotonic()
        return rest > 0 and stop.wait(rest)
