"""`DeciderLoop`: polls decision tasks from a boto3-shaped SWF client and answers them."""

from __future__ import annotations

import logging
import os
import socket
import threading
import time
from collections.abc import Iterable
from typing import Any

from ..endpoint import (
    DECIDER_IDLE_MAX,
    IdlePace,
    Outage,
    PollSpacer,
    fast_parse,
    is_gone,
    is_transient,
    loop_client,
    raise_engine_error,
)
from ._decider import Decider

__all__ = ["DeciderLoop"]

log = logging.getLogger("pipeflow.decider")


class DeciderLoop:
    """Poll, decide, respond; history pages are fetched only back to the last event seen for a cached run."""

    def __init__(self, swf: Any, domain: str, task_list: str, decider: Decider | Iterable[Any],
                 identity: str | None = None, page_size: int = 100, *, store: str | None = None,
                 fast: bool = True) -> None:
        """`store`: the decider's own store (see `Decider`), when `decider` is a list of pipelines.

        `fast`: a botocore client's history pages are parsed by `endpoint.fast_parse` (the same dicts,
        several times faster; anything unexpected is still botocore's); False leaves them to botocore.
        """
        self.swf = loop_client(swf)  # transient errors are retried here, forever: not inside botocore for long
        if fast:
            fast_parse(self.swf)
        self.domain = domain
        self.task_list = task_list
        self.outage = Outage(log, f"decider of task list {task_list}")
        self.decider = decider if isinstance(decider, Decider) else Decider(decider, store=store)
        self.identity = identity or f"{socket.gethostname()}:{os.getpid()}:decider"
        # Small pages: a cached run usually needs only its newest few events, and every event of
        # the first page is copied (and sent over HTTP on SWF) whether or not it is new.
        self.page_size = page_size
        self._deciding = threading.Lock()

    def run(self, stop: threading.Event, pollers: int = 1) -> None:
        """Answer decision tasks until `stop` is set; an engine that is away is waited for, other errors propagate.

        Connection errors, 5xx, throttling and "Unknown domain" (not registered yet) are retried
        forever with capped, jittered backoff (`Outage`); the user's mistakes (a decision the
        engine refuses) raise EngineError.

        `pollers` > 1 keeps that many polls open at once (threads of this process), their
        starts spread in time (`PollSpacer`): a decision task waits less for a free poll, on
        SWF while another poller reads history pages, and on servers that look for a task
        only when a poll starts (moto: an empty poll then sleeps a second). An error in any
        poller stops them all and is raised here.
        """
        if pollers <= 1:
            self._poll_forever(stop, PollSpacer(1))
            return
        spacer = PollSpacer(pollers)
        errors: list[BaseException] = []
        halt = threading.Event()

        def poller() -> None:
            try:
                self._poll_forever(_Either(stop, halt), spacer)
            except BaseException as exc:  # re-raised by `run`
                errors.append(exc)
                halt.set()

        threads = [threading.Thread(target=poller, name=f"pipeflow-decider-poller-{n}", daemon=True)
                   for n in range(pollers)]
        for thread in threads:
            thread.start()
        while not (stop.wait(0.2) or halt.is_set()):
            pass
        halt.set()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]

    def _poll_forever(self, stop: Any, spacer: PollSpacer) -> None:
        failures = 0  # transient failures in a row
        pace = IdlePace(DECIDER_IDLE_MAX, spacer)
        while not stop.is_set():
            try:
                started = spacer.starting()
                answered = self.run_once(stop)
            except Exception as exc:
                if not is_transient(exc, polling=True):
                    raise_engine_error(exc, "PollForDecisionTask")
                if self.outage.failed(exc, failures, stop):
                    return
                failures += 1
                continue
            failures = 0
            self.outage.ok()
            if pace.after(started, answered, stop):
                return

    def run_once(self, stop: Any = None) -> bool:
        """One long poll; True when a decision task was answered.

        An answer the engine cannot take now is retried until it is taken, the engine says the
        decision task is gone (it timed out meanwhile: SWF hands out a new one), or `stop` is set.
        """
        task = self._poll()
        if task is None:
            return False
        try:
            with self._deciding:  # the decider's cache is not shared between threads
                decisions = self.decider.decide(task)
        except Exception:
            # A bug in the decider, not in a task: let the decision task time out and be retried.
            log.exception("decision task for run %s failed", task["workflowExecution"]["runId"])
            self.decider.forget(task["workflowExecution"]["runId"])
            return False
        run_id = task["workflowExecution"]["runId"]
        if decisions and log.isEnabledFor(logging.INFO):  # `pipeflow -v`: what the decider does, and why not more
            log.info("run %s: %s", run_id, "; ".join(_said(d) for d in decisions))
        failures = 0
        while True:
            try:
                self.swf.respond_decision_task_completed(taskToken=task["taskToken"], decisions=decisions)
            except Exception as exc:
                if is_gone(exc):
                    # The decision task timed out or the run closed meanwhile: SWF hands it out again if needed.
                    log.warning("decision task for run %s is gone: %s", run_id, exc)
                    self.decider.forget(run_id)
                    return False
                if not is_transient(exc):
                    self.decider.forget(run_id)
                    raise_engine_error(exc, f"RespondDecisionTaskCompleted for run {run_id}")
                if self.outage.failed(exc, failures, stop if stop is not None else _NEVER):
                    self.decider.forget(run_id)  # stopping: the decision task times out and is handed out again
                    return False
                failures += 1
                continue
            self.outage.ok()
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
            page = self._page(params, token)
            if page is None:
                return None
            pages.append(page["events"])
            token = page.get("nextPageToken")
        events = [e for page in reversed(pages) for e in reversed(page) if e["eventId"] > seen]
        if seen and (not events or events[0]["eventId"] != seen + 1):
            # The cache does not join the history (it should): rebuild from the whole history.
            self.decider.forget(run_id)
            return self._refetch(first, params)
        return {**first, "events": events}

    def _refetch(self, first: dict[str, Any], params: dict[str, Any]) -> dict[str, Any] | None:
        events = list(reversed(first["events"]))
        token = first.get("nextPageToken")
        while token:
            page = self._page(params, token)
            if page is None:
                return None
            events[:0] = reversed(page["events"])
            token = page.get("nextPageToken")
        return {**first, "events": events}

    def _page(self, params: dict[str, Any], token: str) -> dict[str, Any] | None:
        """The next page of a decision task's history; None when the decision task is gone (timed out meanwhile)."""
        try:
            page: dict[str, Any] = self.swf.poll_for_decision_task(
                **params, reverseOrder=True, maximumPageSize=self.page_size, nextPageToken=token)
        except Exception as exc:
            if not is_gone(exc):
                raise
            log.warning("decision task is gone while reading its history: %s", exc)
            return None
        return page


class _Either:
    """Set when either event is: `wait` and `is_set` as on a threading.Event."""

    def __init__(self, a: threading.Event, b: threading.Event) -> None:
        self.a, self.b = a, b

    def is_set(self) -> bool:
        return self.a.is_set() or self.b.is_set()

    def wait(self, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        while not self.is_set():
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            self.a.wait(min(left, 0.2))
        return True


class _Never:
    """A stop that is never set."""

    def wait(self, timeout: float) -> bool:
        time.sleep(timeout)
        return False


_NEVER = _Never()


def _said(decision: dict[str, Any]) -> str:
    """A decision in a few words for the log: `schedule 1#1 (pipe.boom)`, `fail run: ValueError: ...`."""
    kind = decision["decisionType"]
    attrs: dict[str, Any] = next((v for k, v in decision.items() if k.endswith("DecisionAttributes")), {})
    if kind == "ScheduleActivityTask":
        return f"schedule {attrs.get('activityId')} ({attrs.get('activityType', {}).get('name')})"
    if kind == "StartChildWorkflowExecution":
        return f"start child run {attrs.get('workflowId')}"
    if kind == "StartTimer":
        return f"timer {attrs.get('timerId')} ({attrs.get('startToFireTimeout')} s)"
    if kind == "RecordMarker":
        return f"marker {attrs.get('markerName')}"
    if kind == "FailWorkflowExecution":
        return f"fail run: {attrs.get('reason')}"
    if kind == "CompleteWorkflowExecution":
        return "complete run"
    return str(kind)
