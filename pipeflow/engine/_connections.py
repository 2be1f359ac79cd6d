"""The HTTP front's connections: a bounded table, each with a phase, and reads that keep deadlines.

Idle sockets must not lock clients out. Each connection holds one handler thread, so the
table has a cap; at the cap a new connection takes the place of the one waiting longest
for its next request (a kept-alive or a silent one, never one inside a request), and is
closed at once only when every connection is inside a request. Each phase of a request
has a deadline that the handler's own reads enforce (`DeadlineReader`), so a client
sending one byte a second is cut when its phase is over, not when it pauses.
"""

from __future__ import annotations

import enum
import http.client
import io
import math
import resource
import socket
import threading
import time
from dataclasses import dataclass

__all__ = ["Connections", "DeadlineReader", "Phase", "Timeouts", "default_max_connections"]

_MAX_CONNECTIONS = 512
_FD_RESERVE = 64  # descriptors kept for the database, logs and the listener


def default_max_connections() -> int:
    """512, or fewer when the process may not open that many files: at the cap, idle ones give way."""
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft == resource.RLIM_INFINITY:
        return _MAX_CONNECTIONS
    return max(8, min(_MAX_CONNECTIONS, soft - _FD_RESERVE))


class Phase(enum.Enum):
    """Where a connection is in its request cycle."""

    IDLE = "idle"  # between requests or reading a request's head: may give way to a new connection
    BUSY = "busy"  # a request whose headers passed: its body, the engine (a long poll: 60 s), the answer


@dataclass(frozen=True)
class Timeouts:
    """Seconds each phase may take (`idle`: between two requests on a kept-alive connection)."""

    head: float = 10.0  # from the first byte to the end of the headers; also a new connection's first byte
    idle: float = 75.0  # after an answer; above the 60 s long poll that clients' pools expect to reuse
    body: float = 30.0  # the whole body (at most ~1 MiB)
    write: float = 30.0  # sending one answer to a client that does not read


class Connections:
    """The open connections, their phases, and the cap on how many there are."""

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self._phases: dict[socket.socket, tuple[Phase, float]] = {}
        self._changed = threading.Condition()

    def admit(self, conn: socket.socket) -> bool:
        """Take a new connection, evicting the longest-waiting idle one at the cap; False: close it instead."""
        with self._changed:
            if len(self._phases) >= self.cap:
                idle = [(since, c) for c, (phase, since) in self._phases.items() if phase is Phase.IDLE]
                if not idle:
                    return False
                _, victim = min(idle, key=lambda item: item[0])
                del self._phases[victim]
                _shutdown(victim)  # its handler wakes with EOF and ends
            self._phases[conn] = (Phase.IDLE, time.monotonic())
            return True

    def enter(self, conn: socket.socket, phase: Phase) -> bool:
        """Record that `conn` is now in `phase`; False if it was evicted meanwhile."""
        with self._changed:
            if conn not in self._phases:
                return False
            self._phases[conn] = (phase, time.monotonic())
            if phase is Phase.IDLE:
                self._changed.notify_all()  # for wait_idle
            return True

    def leave(self, conn: socket.socket) -> None:
        """Forget a connection whose handler is done."""
        with self._changed:
            self._phases.pop(conn, None)
            self._changed.notify_all()

    def __len__(self) -> int:
        with self._changed:
            return len(self._phases)

    def wait_idle(self, timeout: float) -> bool:
        """Wait until no connection is inside a request; False if `timeout` passed first."""
        with self._changed:
            return self._changed.wait_for(lambda: not self._busy(), timeout)

    def drop(self, *, idle_only: bool) -> None:
        """Shut connections down (waking their handlers so they end): all, or those between requests."""
        with self._changed:
            conns = [c for c, (phase, _) in self._phases.items() if not (idle_only and phase is Phase.BUSY)]
        for conn in conns:
            _shutdown(conn)

    def _busy(self) -> bool:
        return any(phase is Phase.BUSY for phase, _ in self._phases.values())


class DeadlineReader(io.RawIOBase):
    """A socket's reads under a deadline for the current phase, and an optional byte budget.

    Each read waits at most until the deadline (then TimeoutError); with a budget, reading
    past it raises `http.client.LineTooLong`, which http.server answers as headers too large.
    """

    def __init__(self, conn: socket.socket) -> None:
        super().__init__()
        self._conn = conn
        self.deadline = math.inf
        self.budget: int | None = None

    def start(self, seconds: float, budget: int | None = None) -> None:
        """Begin a phase: `seconds` from now, at most `budget` more bytes (None: no limit)."""
        self.deadline = time.monotonic() + seconds
        self.budget = budget

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray | memoryview) -> int:  # type: ignore[override]
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the client took too long to send its request")
        view = memoryview(buffer).cast("B")
        if self.budget is not None:
            if self.budget <= 0:
                raise http.client.LineTooLong("request head")
            view = view[: self.budget]
        self._conn.settimeout(left)
        count = self._conn.recv_into(view)
        if self.budget is not None:
            self.budget -= count
        return count


def _shutdown(conn: socket.socket) -> None:
    try:
        conn.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
