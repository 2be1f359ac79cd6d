"""Fewer round trips to an embedded engine: several tasks taken per poll, several answers per call.

`pf.run` and `pipeflow run` give their worker the engine's `Batch` (see `pipeflow.engine`). Then
a poll takes as many ready tasks as the worker has room for (the pool hands them to the children
in batches), and the answers of the tasks finished in one round of the pool's thread go in one
call. Every task still gets its own ActivityTaskStarted and its own answer, each committed before
it is acknowledged: only the round trips are shared. Against Amazon SWF or a `pipeflow server`
(no `Batch`) a poll takes one task and each answer is its own call, as SWF's API has it.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

__all__ = ["Outbox", "refill_at", "take_tasks"]

log = logging.getLogger("pipeflow.worker")

Send = Callable[[str, str, dict[str, Any]], None]


def refill_at(limit: int, prefetching: bool, batched: bool) -> int:
    """Tasks held at or below which a poll starts.

    With room for one: one task per poll, as SWF's API has it. A batched worker prefetching short
    tasks waits until half its room is free and fills it in one poll: a poll per finished task
    would take one task each time, and the round trips would be as many as without batches.
    """
    if batched and prefetching:
        return limit // 2
    return limit - 1


def take_tasks(swf: Any, batch: Any, maximum: int, **params: Any) -> list[dict[str, Any]]:
    """One poll: up to `maximum` tasks through `batch` when there is one, else at most one."""
    if batch is not None:
        tasks: list[dict[str, Any]] = batch.poll_activity_tasks(maximum=maximum, **params)
        return tasks
    task: dict[str, Any] = swf.poll_for_activity_task(**params)
    return [task] if task.get("taskToken") else []


class Outbox:
    """Answers queued on the pool's thread and sent in one call at the end of its round.

    An answer the batch call does not take (an outage, a task the engine no longer knows) is
    sent again on its own by `send_one`, which retries, logs and gives up as a single answer does.
    """

    def __init__(self, send_one: Send) -> None:
        self._send_one = send_one
        self._queued: list[tuple[str, str, dict[str, Any]]] = []
        self.calls = 0  # batch calls made (for tests and diagnostics)
        self.answers = 0  # answers they carried

    def add(self, call: str, activity_id: str, params: dict[str, Any]) -> None:
        """Queue one answer (only the pool's thread adds and flushes)."""
        self._queued.append((call, activity_id, params))

    def flush(self, batch: Any) -> None:
        """Send what is queued: one call through `batch`, then any answer it did not take on its own."""
        queued, self._queued = self._queued, []
        if not queued:
            return
        try:
            errors: list[Exception | None] = batch.respond([(call, params) for call, _, params in queued])
        except Exception:  # a bug must not lose finished results: each goes on its own
            log.exception("answering %d tasks at once failed; answering each on its own", len(queued))
            errors = [RuntimeError("not sent")] * len(queued)
        self.calls += 1
        self.answers += len(queued)
        for (call, activity_id, params), error in zip(queued, errors):
            if error is not None:
                self._send_one(call, activity_id, params)
