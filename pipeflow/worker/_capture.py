"""Capturing what one attempt writes, in the worker's child process: its log.

Everything an attempt writes goes into one temporary file of the child, in order: `sys.stdout`
and `sys.stderr` (replaced for the attempt by line-buffered streams on that file), file
descriptors 1 and 2 (pointed at it, so C extensions and the programs a task runs are caught
too), and `logging` records at INFO and above of any logger that propagates to the root (the
root's handlers are swapped for one writing to the file, for the attempt). Between attempts the
child's fd 1 points at its stderr: nothing a task or its leftover threads print reaches the
worker's stdout, which `pipeflow run` keeps for the result alone.

At the end of the attempt the file's last `wire.LOG_CAP` bytes are the log; the file is emptied.
A file rather than a pipe: no reader thread, no writer blocked on a full pipe; a task that writes
gigabytes fills the temporary directory, not memory.
"""

from __future__ import annotations

import io
import logging
import os
import sys
import tempfile
from typing import Any

__all__ = ["Capture", "keep_log"]

FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LEVEL = logging.INFO
_SHRINK_PAST = 1024 * 1024  # bytes of the capture file past which it is emptied after an attempt

log = logging.getLogger("pipeflow.worker")


class Capture:
    """The log of the attempt running in this process: `start()` before it, `stop()` after it."""

    def __init__(self) -> None:
        self._file = tempfile.TemporaryFile(prefix="pipeflow-log-")  # noqa: SIM115  (lives as long as the process)
        self._fd = self._file.fileno()
        self._stderr = os.dup(2)  # the worker's stderr, where fds 1 and 2 point between attempts
        os.dup2(self._stderr, 1)
        self._out = _stream(self._fd)
        self._err = _stream(self._fd)
        self._handler = logging.StreamHandler(self._err)
        self._handler.setFormatter(logging.Formatter(FORMAT))
        self._saved: tuple[Any, Any, list[logging.Handler], int] | None = None

    def start(self) -> None:
        root = logging.getLogger()
        self._saved = (sys.stdout, sys.stderr, root.handlers[:], root.level)
        for stream in (sys.stdout, sys.stderr):
            _flush(stream)
        os.dup2(self._fd, 1)
        os.dup2(self._fd, 2)
        sys.stdout, sys.stderr = self._out, self._err
        root.handlers = [self._handler]
        if root.level == logging.NOTSET or root.level > LEVEL:
            root.setLevel(LEVEL)

    def stop(self) -> str:
        """End the capture; the attempt's log ("" when it wrote nothing)."""
        from .. import wire

        for stream in (self._out, self._err):
            _flush(stream)
        os.dup2(self._stderr, 1)
        os.dup2(self._stderr, 2)
        if self._saved is not None:
            sys.stdout, sys.stderr, handlers, level = self._saved
            root = logging.getLogger()
            root.handlers = handlers
            if root.level != level:
                root.setLevel(level)
            self._saved = None
        size = os.lseek(self._fd, 0, os.SEEK_CUR)
        if size <= 0:
            return ""
        keep = min(size, wire.LOG_CAP)
        data = os.pread(self._fd, keep, size - keep)
        if size > _SHRINK_PAST:  # else the next attempt writes over it: a truncation per attempt costs
            os.ftruncate(self._fd, 0)
        os.lseek(self._fd, 0, os.SEEK_SET)
        return wire.bound_log(data, size - keep)


def _stream(fd: int) -> io.TextIOWrapper:
    raw = io.FileIO(fd, "wb", closefd=False)
    return io.TextIOWrapper(io.BufferedWriter(raw), encoding="utf-8", errors="backslashreplace", line_buffering=True)


def _flush(stream: Any) -> None:
    try:
        stream.flush()
    except (OSError, ValueError, AttributeError):  # closed or replaced by the task: nothing to keep
        pass


def keep_log(outcome: list[Any], activity_id: str, text: str, store: str | None) -> list[Any]:
    """Store an attempt's log in its run's folder and link it from a failure's details; the outcome to send.

    A failure's details get `log_tail` (its last lines; without a store, the last 4 KiB: the only copy)
    and `log` (the stored log's URI). A log that cannot be stored is reported on the worker's stderr.
    """
    import converters

    from .. import wire

    uri = None
    if store is not None:
        try:
            uri = wire.save_log(store, activity_id, text)
        except (converters.ConverterError, OSError, ValueError) as exc:
            log.warning("the log of task %s could not be stored: %s", activity_id, exc)
    if outcome[0] != "fail" or len(outcome) < 3:
        return outcome
    doc = wire.decode_failure(outcome[2], store)
    if not doc.get("type"):
        return outcome
    return [outcome[0], outcome[1], wire.failure_details(wire.with_log(doc, text, uri), store)]
