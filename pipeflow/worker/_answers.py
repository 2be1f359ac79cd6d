"""A worker's answers to the engine, sent until they are taken: a finished result is never dropped.

RespondActivityTaskCompleted / Failed / Canceled are sent again through an outage (the engine
away: no connection, 5xx, throttling) until the engine takes the answer or says the task is gone
(it timed out meanwhile, or its run closed: the decider schedules it again if the run needs it).
While the worker stops, an engine that is away gets at most STOPPING_TRIES calls: the task then
times out on the engine's side and is scheduled again (a stop must not hang on an outage).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from ..endpoint import Outage, is_gone, is_transient

__all__ = ["STOPPING_TRIES", "send_answer"]

log = logging.getLogger("pipeflow.worker")

STOPPING_TRIES = 3  # calls for an answer while stopping against an engine that is away, then it is dropped

_METHODS = {
    "RespondActivityTaskCompleted": "respond_activity_task_completed",
    "RespondActivityTaskFailed": "respond_activity_task_failed",
    "RespondActivityTaskCanceled": "respond_activity_task_canceled",
}


def send_answer(swf: Any, call: str, activity_id: str, params: dict[str, Any], *, outage: Outage,
                stopping: Callable[[], bool], wait_on: Callable[[], threading.Event]) -> None:
    """Send one answer (`call` with `params`) until it is taken, refused, or the task is gone.

    `stopping()` says whether the worker is stopping; `wait_on()` is the event the backoff
    between tries waits on (set: the wait ends early).
    """
    method = getattr(swf, _METHODS[call])
    failures = 0
    while True:
        if failures == 0 and stopping() and outage.down:
            # Calls against an engine known to be away would hold a stop ~1 s per task held.
            log.warning("%s for task %s dropped: the engine is away and the worker is stopping; the task "
                        "times out and is scheduled again", call, activity_id)
            return
        try:
            method(**params)
        except Exception as exc:
            if is_gone(exc):  # timed out meanwhile, or its run closed: the decider has moved on
                # A canceled task's run has usually closed: expected, not worth a warning.
                level = logging.INFO if call == "RespondActivityTaskCanceled" else logging.WARNING
                log.log(level, "%s for task %s: the engine no longer knows the task (%s); the decider "
                        "schedules it again if its run needs it", call, activity_id, exc)
                return
            if not is_transient(exc):
                log.warning("%s for task %s refused: %s", call, activity_id, exc)
                return
            if stopping() and failures + 1 >= STOPPING_TRIES:
                log.warning("%s for task %s dropped: the engine is away and the worker is stopping; the "
                            "task times out and is scheduled again", call, activity_id)
                return
            outage.failed(exc, failures, wait_on())
            failures += 1
            continue
        outage.ok()
        return
