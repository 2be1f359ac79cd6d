"""Per-attempt logs: where an attempt's captured output lives in the run's store, and its tail in a failure.

A worker captures what each attempt writes (stdout, stderr, `logging` records, its programs' output)
and keeps at most `LOG_CAP` bytes of it, the tail: the first line then says how much was dropped.
With a store, the log is `<store>/<workflowId>/<runKey>/logs/<step>@<attempt>.log`, beside the
run's payloads (`log_key`). A failed attempt's details also carry `log_tail`, its last lines
(`TAIL_LINES`, at most `TAIL_BYTES`), and `log`, the stored log's URI; without a store `log_tail` is
the last `TAIL_BYTES` of the log, the only copy kept. A completed attempt without a store keeps none.
"""

from __future__ import annotations

import re
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
    """Write an attempt's log into the run's folder of `store` (a run's scope); its URI."""
    return str(converters.open_store(store).put(log_key(activity_id), text.encode("utf-8")))


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
