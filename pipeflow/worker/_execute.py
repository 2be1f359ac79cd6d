"""Run one activity in a worker process and turn the outcome into SWF's answer.

The input and result formats belong to `pipeflow.wire`; this module only
calls the task and decides what a failure says.
"""

from __future__ import annotations

from types import SimpleNamespace
from typing import Any

from .._errors import WorkerError
from ..task import Task
from ._registry import Registry

__all__ = ["died_failure", "execute", "unknown_type_failure"]


def execute(task: Any, activity_id: str, data: str, store: str | None) -> list[Any]:
    """Decode the input, call the task, encode the result: `["ok", result]` or `["fail", reason, details]`.

    `store` is the worker's own store scoped to the task's run (or None); the store the run names
    is used only when it lies under it (see `wire.decode_activity_input`).
    """
    from .. import wire

    try:
        args, kwargs, store = wire.decode_activity_input(data, store=store)
    except Exception as exc:  # any decoding problem is this task's failure, reported with context
        return ["fail", *wire.encode_failure(exc, task=task, activity_id=activity_id, stage="decoding the input",
                                                   store=store)]
    key = None
    if getattr(task, "cache", False) and store is not None:  # @pf.task(cache=True): see _cache
        from . import _cache

        try:
            key = _cache.cache_key(task, data, store)
        except Exception as exc:
            return ["fail", *wire.encode_failure(exc, task=task, activity_id=activity_id,
                                                       stage="computing the cache key", store=store)]
        hit = _cache.lookup(key, store) if key is not None else None
        if hit is not None:
            return ["ok", hit]
    try:
        # A Task calls its class (a new instance) or instance (rebuilt) its way; other registries give `fn`.
        value = task(*args, **kwargs) if isinstance(task, Task) else task.fn(*args, **kwargs)
    except (Exception, SystemExit) as exc:  # the user's task raised: that is its result
        return ["fail", *wire.encode_failure(exc, task=task, activity_id=activity_id, store=store)]
    try:
        result = wire.encode_result(value, task=task, store=store)
    except Exception as exc:  # a result that cannot cross SWF fails the task with that message
        return ["fail", *wire.encode_failure(exc, task=task, activity_id=activity_id, stage="encoding the result",
                                                   store=store)]
    if key is not None and store is not None:
        from . import _cache

        _cache.save(key, result, store)
    return ["ok", result]


def unknown_type_failure(name: str, version: str, activity_id: str, registry: Registry) -> tuple[str, str]:
    """The answer to an activity type this worker was not started with."""
    from .. import wire

    error = WorkerError(
        f"unknown activity type {name!r} version {version!r}: this worker runs only the tasks of the "
        f"pipeline files it was started with ({registry.describe()}); start a worker with the file "
        "that defines it"
    )
    return wire.encode_failure(error, task=SimpleNamespace(name=name), activity_id=activity_id)


def died_failure(task: Any, activity_id: str, how: str) -> tuple[str, str]:
    """The answer for a task whose worker process died while running it."""
    from .. import wire

    error = WorkerError(f"the worker process running this task died ({how}); out of memory is a common cause")
    return wire.encode_failure(error, task=task, activity_id=activity_id)
