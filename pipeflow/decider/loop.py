"""`DeciderLoop`: polls decision tasks from a boto3-shaped SWF client and answers them."""

from __future__ import annotations

import logging
import os
import random
import socket
import threading
from collections.abc import Iterable
from typing import Any

from ._decider import Decider

__all__ = ["DeciderLoop"]

log = logging.getLogger("pipeflow.decider")


class DeciderLoop:
    """Poll, decide, respond; history pages are fetched only back to the last event seen for a cached run."""

    def __init__(self, swf: Any, domain: str, task_list: str, decider: Decider | Iterable[Any],
                 identity: str | None = None, page_size: int = 100) -> None:
        self.swf = swf
        self.domain = domain
        self.task_list = task_list
        self.decider = decider if isinstance(decider, Decider) else Decider(decider)
        self.identity = identity or f"{socket.gethostname()}:{os.getpid()}:decider"
        # Small pages: a cached run usually needs only its newest few events, and every event of
        # the first page is copied (and sent over HTTP on SWF) whether or not it is new.
        self.page_size = page_size

    def run(self, stop: threading.Event) -> None:
        """Answer decision tasks until `stop` is set; throttling backs off, other errors propagate."""
        delay = 0.1
        while not stop.is_set():
            try:
                self.run_once()
                delay = 0.1
            except Exception as exc:
                if _code(exc) != "ThrottlingException":
                    raise
                # Jitter from the clock is fine here: this is the I/O edge, not the decider.
                stop.wait(delay * (1 + random.random()))
                delay = min(delay * 2, 10.0)

    def run_once(self) -> bool:
        """One long poll; True when a decision task was answered."""
        task = self._poll()
        if task is None:
            return False
        try:
            decisions = self.decider.decide(task)
        except Exception:
            # A bug in the decider, not in a task: let the decision task time out and be retried.
            log.exception("decision task for run %s failed", task["workflowExecution"]["runId"])
            self.decider.forget(task["workflowExecution"]["runId"])
            return False
        try:
            self.swf.respond_decision_task_completed(taskToken=task["taskToken"], decisions=decisions)
        except Exception as exc:
            if _code(exc) != "UnknownResourceFault":
                raise
            # The decision task timed out or the run closed meanwhile: SWF hands it out again if needed.
            log.warning("decision task for run %s is gone: %s", task["workflowExecution"]["runId"], exc)
            self.decider.forget(task["workflowExecution"]["runId"])
            return False
        return True

    def _poll(self) -> dict[str, Any] | None:
        params = {"domain": self.domain, "taskList": {"name": self.task_list}, "identity": self.identity}
        first = self.swf.poll_for_decision_task(**params, reverseOrder=True, maximumPageSize=self.page_size)
        if not first.get("taskToken"):
            return None
        run_id = first["workflowExecution"]["runId"]
        seen = self.decider.last_event_id(run_id)
        pages = [first["events"]]
        token = first.get("nextPageToken")
        # Newest first: stop at the last event already applied (the whole history for an unknown run).
        while token and (not pages[-1] or pages[-1][-1]["eventId"] > seen + 1):
            page = self.swf.poll_for_decision_task(**params, reverseOrder=True, maximumPageSize=self.page_size,
                                                   nextPageToken=token)
            pages.append(page["events"])
            token = page.get("nextPageToken")
        events = [e for page in reversed(pages) for e in reversed(page) if e["eventId"] > seen]
        if seen and (not events or events[0]["eventId"] != seen + 1):
            # The cache does not join the history (it should): rebuild from the whole history.
            self.decider.forget(run_id)
            return self._refetch(first, params)
        return {**first, "events": events}

    def _refetch(self, first: dict[str, Any], params: dict[str, Any]) -> dict[str, Any]:
        events = list(reversed(first["events"]))
        token = first.get("nextPageToken")
        while token:
            page = self.swf.poll_for_decision_task(**params, reverseOrder=True, maximumPageSize=self.page_size,
                                                   nextPageToken=token)
            events[:0] = reversed(page["events"])
            token = page.get("nextPageToken")
        return {**first, "events": events}


def _code(exc: Exception) -> str | None:
    """The SWF fault code of a botocore ClientError (or the engine's SWFFault)."""
    response = getattr(exc, "response", None)
    code = response.get("Error", {}).get("Code") if isinstance(response, dict) else getattr(exc, "code", None)
    return str(code) if code is not None else None
