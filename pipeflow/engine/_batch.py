"""Several activity-task calls per hold of the engine's lock: the embedded worker's short round trip.

An embedded run's worker would otherwise make one call per task to take it and one to answer it,
each taking the lock, waking threads and committing one log row. `Batch` takes up to N ready tasks
in one long poll, and sends several answers in one call. Each task still gets its own events
(ActivityTaskStarted, ActivityTaskCompleted, ...) and its own answer, in order, exactly as if
the calls were made one after the other with nothing between them; only their log rows are
committed together (one transaction), and a call is answered only once its row is committed, as
with single calls. A failed commit undoes them all (each gets the retryable ServiceUnavailable).
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from ._client import client_error
from ._faults import SWFFault
from ._validate import validate

if TYPE_CHECKING:
    from ._engine import Engine

__all__ = ["Batch"]

_POLL = "PollForActivityTask"
ANSWERS = frozenset({"RespondActivityTaskCompleted", "RespondActivityTaskFailed", "RespondActivityTaskCanceled"})


class Batch:
    """Batched activity-task calls on one Engine; faults come as botocore ClientErrors, like EngineClient's."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def poll_activity_tasks(self, *, maximum: int, **params: Any) -> list[dict[str, Any]]:
        """PollForActivityTask taking up to `maximum` tasks: waits (long poll) for one, takes those ready with it.

        An empty list when the poll times out or the engine closes.
        """
        try:
            return _poll_many(self._engine, params, max(1, maximum))
        except SWFFault as fault:
            raise client_error(fault, _POLL) from None

    def respond(self, calls: list[tuple[str, dict[str, Any]]]) -> list[Exception | None]:
        """Answer several tasks (RespondActivityTask* with its params, in order); None or the error, per call."""
        engine = self._engine
        outcomes: list[Exception | None] = []
        try:
            with engine._lock:
                if engine._closed:
                    raise SWFFault("ServiceUnavailable", "the engine is closed")
                try:
                    with _one_commit(engine):
                        for operation, params in calls:
                            outcomes.append(_answer(engine, operation, params))
                finally:
                    engine._settle()
        except SWFFault as fault:  # the commit failed: none of them happened
            return [client_error(fault, op) for op, _ in calls]
        return outcomes


def _answer(engine: Engine, operation: str, params: dict[str, Any]) -> Exception | None:
    if operation not in ANSWERS:
        raise ValueError(f"{operation} is not an answer to an activity task")
    try:
        validate(operation, params)
        engine._apply(operation, params)
    except SWFFault as fault:
        return client_error(fault, operation)
    return None


def _poll_many(engine: Engine, params: dict[str, Any], maximum: int) -> list[dict[str, Any]]:
    validate(_POLL, params)
    key = ("a", (params["domain"], params["taskList"]["name"]))
    deadline = time.monotonic() + engine.poll_timeout
    with engine._lock:
        while True:
            if engine._closed:
                engine._settle()
                return []
            tasks: list[dict[str, Any]] = []
            try:
                with _one_commit(engine):
                    while len(tasks) < maximum:
                        response = engine._apply(_POLL, params)
                        if "taskToken" not in response:
                            break
                        tasks.append(response)
            finally:
                engine._settle()  # a refusal may tell of a change not yet committed
            remaining = deadline - time.monotonic()
            if tasks or remaining <= 0:
                return tasks
            cond = engine._conds.get(key)
            if cond is None:
                cond = engine._conds[key] = threading.Condition(engine._lock)
            cond.wait(remaining)


@contextmanager
def _one_commit(engine: Engine) -> Iterator[None]:
    """Inside the lock: the log rows of the calls made in the block are committed as one transaction.

    Under group commit (`sync="full"`) rows are staged anyway and `_settle` waits for their batch.
    """
    store = engine._store
    if store is None or engine._group:
        yield
        return
    engine._batching = True
    try:
        yield
    finally:
        engine._batching = False
        rows = store.take()
        if rows:
            try:
                store.write(rows)
            except (sqlite3.Error, OSError) as exc:  # nothing of the batch was written: memory goes back
                store.discard()
                engine._refuse(exc)
                raise SWFFault("ServiceUnavailable", engine._refused) from exc
