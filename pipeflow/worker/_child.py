"""The worker's child process: runs activities handed down its pipe, one at a time.

Messages are msgpack lists over a `multiprocessing` pipe (never pickle: the
pipe carries SWF inputs, which come from elsewhere).

parent -> child   ["run", [[job, name, version, activity_id, input], ...]]  |  ["stop"]
child -> parent   ["ready", pid]  |  ["fatal", message]  |  ["exit"]  (leaving between jobs)
                  ["warn", message]                       (logged by the parent)
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

from ._capture import Capture, keep_log
from ._context import reporting_to
from ._registry import Registry, TaskRef

__all__ = ["Execute", "child_main", "pack", "unpack"]


def _beat(send: Callable[[list[Any]], None], job: int, details: Any) -> None:
    """Send a task's heartbeat details to the parent, tagged with its job."""
    send(["beat", job, details])


def _ignore(signum: int, frame: Any) -> None:
    """Ctrl-C at the terminal reaches the process group: the parent's business."""


def _leave(send: Callable[[list[Any]], None]) -> None:
    """Tell the parent this child leaves between jobs (after a SIGTERM): its queued jobs never started."""
    try:
        send(["exit"])
    except OSError:
        pass  # the parent is gone


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
    # Ctrl-C reaches the whole process group, and systemd's SIGTERM the whole cgroup: the parent
    # decides how to stop. SIGINT is ignored; SIGTERM lets the task in hand finish, then the child
    # leaves (the jobs queued behind it go back to the parent). Handlers, not SIG_IGN, so the
    # programs a task runs get the default dispositions back.
    terminated: list[int] = []
    parent = os.getppid()
    signal.signal(signal.SIGINT, _ignore)
    signal.signal(signal.SIGTERM, lambda signum, frame: terminated.append(signum))
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
    capture: Capture | None = None
    if os.environ.get("PIPEFLOW_CAPTURE", "1") != "0":
        try:
            capture = Capture()  # each attempt's output: its log (see _capture)
        except OSError as exc:
            send(["warn", f"the tasks' output is not captured: {exc}"])
    send(["ready", os.getpid()])
    while True:
        try:
            while not conn.poll(0.5):  # a SIGTERM while idle is seen within half a second
                if terminated:
                    return _leave(send)
                if os.getppid() != parent:
                    return  # the parent died (SIGKILL): a forked child holds its pipe end too, so no EOF
            if terminated:
                return _leave(send)
            message = unpack(conn.recv_bytes())
        except (EOFError, OSError):
            return  # the parent is gone
        if message[0] == "stop":
            return
        for job, name, version, activity_id, data, job_store in message[1]:
            if terminated:
                return _leave(send)  # the jobs after the one finished were not started
            task = registry.get(name, version)
            run_store = job_store if job_store is not None else store
            reporting_to(functools.partial(_beat, send, job))
            if capture is not None:
                capture.start()
            try:
                outcome = execute(task, activity_id, data, run_store)
            finally:
                reporting_to(None)
                text = capture.stop() if capture is not None else ""
            if text:
                outcome = keep_log(outcome, activity_id, text, run_store)
            send(["done", job, *outcome])
