"""Per-attempt logs: where an attempt's captured output lives in the run's store, and its tail in a failure.

A worker captures what each attempt writes (stdout, stderr, `logging` records, its programs' output)
and keeps at most `LOG_CAP` bytes of it, the tail: the first line then says how much was dropped.
With a store, the log is `<store>/<workflowId>/<runKey>/logs/<step>@<attempt>.log`, beside the
run's payloads (`log_key`). A failed attempt's details also carry `log_tail`, its last lines
(`TAIL_LINES`, at most `TAIL_BYTES`), and `log`, the stored log's URI; without a store `log_tail` is
the last `TAIL_BYTES` of the log, the only copy kept. A completed attempt without a store keeps none.
"""

from __future__ import annotations

import json
import os
import re
import uuid
from typing import Any

import converters

from ._runs import parse_activity_id

LOG_CAP = 1024 * 1024  # bytes of an attempt's log kept (its tail)
TAIL_LINES = 20  # lines of a failed attempt's log in its failure details
TAIL_BYTES = 4096  # at most this many bytes of them (the whole tail kept when the run has no store)
LOGS = "logs"  # the folder of the logs in a run's folder of the store

_UNSAFE = re.compile(r"[^A-Za-z0-9._=-]")


def log_key(activity_id: str) -> str:
    """`"2.map.17#3"` -> `"logs/2.map.17@3.log"`: the attempt's log, relative to the run's folder in the store."""
    try:
        step, attempt = parse_activity_id(activity_id)
    except ValueError:  # not a pipeflow activity id (`#` and an attempt): the whole id, attempt 1
        step, attempt = activity_id, 1
    name = _UNSAFE.sub("_", step)[:200] or "_"
    return f"{LOGS}/{name}@{attempt}.log"


def parse_log_key(key: str) -> tuple[str, int] | None:
    """`"logs/2.map.17@3.log"` -> `("2.map.17", 3)`; None for a key that is not a log's."""
    folder, _, name = key.rpartition("/")
    if folder != LOGS or not name.endswith(".log"):
        return None
    step, at, attempt = name[: -len(".log")].rpartition("@")
    if not at or not attempt.isdigit():
        return None
    return step, int(attempt)


def bound_log(data: bytes, dropped: int = 0) -> str:
    """An attempt's output as the text kept: its last LOG_CAP bytes, headed by what was dropped.

    `dropped` counts bytes already left out before `data`. The kept part starts on a line.
    """
    if len(data) > LOG_CAP:
        cut = len(data) - LOG_CAP
        dropped += cut
        data = data[cut:]
    if dropped:
        newline = data.find(b"\n", 0, 4096)
        if newline >= 0:
            dropped += newline + 1
            data = data[newline + 1 :]
        head = f"[pipeflow: {dropped:,} bytes dropped from the start of this log; the last {len(data):,} kept]\n"
        return head + data.decode("utf-8", errors="replace")
    return data.decode("utf-8", errors="replace")


def log_tail(text: str, lines: int | None = TAIL_LINES, size: int = TAIL_BYTES) -> str:
    """The last `lines` lines of `text` (all of them when None), within `size` bytes."""
    if lines is not None:
        text = "".join(text.splitlines(keepends=True)[-lines:])
    data = text.encode("utf-8")
    if len(data) > size:
        text = data[len(data) - size :].decode("utf-8", errors="ignore")
    return text


def save_log(store: str, activity_id: str, text: str) -> str:
    """Write an attempt's log into the run's folder of `store` (a run's scope); its URI.

    A store that can append (a local folder) gets it as a record of this process's segment of
    the run (`logs/<segment>.logs`: one write per attempt, no file to create); others get one
    object per attempt (`log_key`).
    """
    data = text.encode("utf-8")
    run = _stores.get(store)
    if run is None:
        if len(_stores) >= _KEEP_OPEN:
            _close_segments()
        run = _stores[store] = converters.open_store(store)
    segment = _segments.get(store)
    if segment is None:
        key = f"{LOGS}/{_SEGMENT}{SEGMENT_SUFFIX}"
        handle = run.appender(key)
        if handle is None:  # S3 and the like: an object per attempt
            return str(run.put(log_key(activity_id), data))
        segment = _segments[store] = (handle, str(run.uri_for(key)))
    step, attempt = _step_attempt(activity_id)
    head = json.dumps({"step": step, "attempt": attempt, "size": len(data)}, separators=(",", ":")).encode()
    record = memoryview(SEGMENT_MARK + head + b"\n" + data + b"\n")
    handle, uri = segment
    try:
        while record:  # one write, as a rule: a killed process leaves whole records
            record = record[handle.write(record):]
    except OSError:  # a torn record ends what readers take of this segment: the next attempt starts another
        _renamed_after_fork()
        raise
    return uri


# -- segments: the logs of one worker process in one run, appended -------------------------------

SEGMENT_SUFFIX = ".logs"
SEGMENT_MARK = b"#log "  # each record: the mark, a JSON head {"step", "attempt", "size"}, a newline, the log
_HEAD_LIMIT = 4096  # bytes of a record's head line
_KEEP_OPEN = 8  # runs whose segment a process keeps open
_SEGMENT = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"  # this process's segment name (a forked child makes its own)
_stores: dict[str, Any] = {}
_segments: dict[str, Any] = {}


def _renamed_after_fork() -> None:
    global _SEGMENT
    _SEGMENT = f"{os.getpid()}-{uuid.uuid4().hex[:12]}"
    _stores.clear()
    _segments.clear()  # the parent's handles: never written from here


os.register_at_fork(after_in_child=_renamed_after_fork)


def _close_segments() -> None:
    for handle, _ in _segments.values():
        handle.close()
    _segments.clear()
    _stores.clear()


def _step_attempt(activity_id: str) -> tuple[str, int]:
    try:
        return parse_activity_id(activity_id)
    except ValueError:
        return activity_id, 1


def read_segment(handle: Any, wanted: set[tuple[str, int]] | None = None) -> dict[tuple[str, int], str]:
    """The logs in a segment (a binary file object), by (step, attempt); only `wanted` ones when given.

    A record that does not parse (a torn write, damage) ends the reading: what came before stands.
    """
    found: dict[tuple[str, int], str] = {}
    while True:
        line = handle.readline(_HEAD_LIMIT)
        if not line.startswith(SEGMENT_MARK) or not line.endswith(b"\n"):
            return found
        try:
            head = json.loads(line[len(SEGMENT_MARK):])
            step, attempt, size = head["step"], head["attempt"], head["size"]
        except (ValueError, TypeError, KeyError):
            return found
        if not (isinstance(step, str) and type(attempt) is int and type(size) is int and 0 <= size <= LOG_CAP * 2):
            return found
        if wanted is None or (step, attempt) in wanted:
            data = handle.read(size + 1)
            if len(data) != size + 1 or data[-1:] != b"\n":
                return found
            found[(step, attempt)] = data[:-1].decode("utf-8", errors="replace")
        else:
            handle.seek(size + 1, os.SEEK_CUR)


def read_logs(store: str, wanted: set[tuple[str, int]] | None = None) -> dict[tuple[str, int], str] | None:
    """The logs kept in a run's folder of `store` by (step, attempt): objects and segments alike.

    None when the store cannot list its objects.
    """
    run = converters.open_store(store)
    try:
        infos = list(run.walk(LOGS + "/"))
    except converters.StoreError:
        return None
    found: dict[tuple[str, int], str] = {}
    for info in infos:
        if info.key.endswith(SEGMENT_SUFFIX):
            try:
                with run.open(info.key) as handle:
                    found.update(read_segment(handle, wanted))
            except (converters.StoreError, OSError):
                continue
            continue
        parsed = parse_log_key(info.key)
        if parsed is None or (wanted is not None and parsed not in wanted):
            continue
        text = read_log(store, info.key)
        if text is not None:
            found[parsed] = text
    return found


def with_log(doc: dict[str, Any], text: str, uri: str | None) -> dict[str, Any]:
    """A failure document with the attempt's log: `log_tail` (and `log`, the stored log's URI)."""
    doc = dict(doc, log_tail=log_tail(text) if uri is not None else log_tail(text, lines=None))
    if uri is not None:
        doc["log"] = uri
    return doc


def read_log(store: str, key: str) -> str | None:
    """The log at `key` in a run's folder of `store`; None when there is none."""
    run = converters.open_store(store)
    try:
        data = run.read(key, LOG_CAP + 4096)
    except converters.StoreError:
        return None
    return bytes(data[: LOG_CAP + 4096]).decode("utf-8", errors="replace")


def log_keys(store: str) -> set[str] | None:
    """The keys of the logs in a run's folder of `store`; None when the store cannot list them."""
    try:
        return {info.key for info in converters.open_store(store).walk(LOGS + "/")}
    except converters.StoreError:
        return None
