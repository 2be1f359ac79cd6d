"""The worker's child process: runs activities handed down its pipe, one at a time.

Messages are msgpack lists over a `multiprocessing` pipe (never pickle: the
pipe carries SWF inputs, which come from elsewhere).

parent -> child   ["run", [[job, name, version, activity_id, input], ...]]  |  ["stop"]
child -> parent   ["ready", pid]  |  ["fatal", message]
                  ["beat", job, details]                  (pf.heartbeat inside a task)
                  ["done", job, "ok", result]  |  ["done", job, "fail", reason, details]
"""

from __future__ import annotations

import functools
import os
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

import msgpack

from ._context import reporting_to
from ._registry import Registry, TaskRef

__all__ = ["Execute", "child_main", "pack", "unpack"]


def _beat(send: Callable[[list[Any]], None], job: int, details: Any) -> None:
    """Send a task's heartbeat details to the parent, tagged with its job."""
    send(["beat", job, details])


def pack(message: list[Any]) -> bytes:
    return msgpack.packb(message, use_bin_type=True)  # type: ignore[no-any-return]


def unpack(data: bytes) -> Any:
    return msgpack.unpackb(data, raw=False)


Execute = Callable[[Any, str, str, "str | None"], list[Any]]


def child_main(conn: Connection, source: Registry | list[TaskRef], store: str | None, execute: Execute) -> None:
    """Entry point of a worker process: build the registry, then run what the parent sends.

    `execute(task, activity_id, input, store)` runs one job and returns the
    "done" payload: `["ok", result]` or `["fail", reason, details]`.
    """
    # Ctrl-C reaches the whole process group; the parent decides how to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    send_lock = threading.Lock()

    def send(message: list[Any]) -> None:
        data = pack(message)
        with send_lock:  # a task may heartbeat from its own threads
            conn.send_bytes(data)

    try:
        registry = source if isinstance(source, Registry) else Registry.from_refs(source)
    except Exception as exc:  # reported to the parent, which stops with this message
        send(["fatal", f"{type(exc).__name__}: {exc}"])
        return
    send(["ready", os.getpid()])
    while True:
        try:
            message = unpack(conn.recv_bytes())
        except (EOFError, OSError):
            return  # the parent is gone
        if message[0] == "stop":
            return
        for job, name, version, activity_id, data in message[1]:
            task = registry.get(name, version)
            reporting_to(functools.partial(_beat, send, job))
            try:
                outcome = execute(task, activity_id, data, store)
            finally:
                reporting_to(None)
            send(["done", job, *outcome])
