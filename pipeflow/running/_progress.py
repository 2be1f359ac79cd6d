"""The progress line of `pipeflow run` on stderr: steps done/total, running, failed.

It reads the execution's history from the engine like any client would, and
only the events added since its last look (newest-first pages until a known
event), so it costs the same on the 10th and the 10,000th event.
"""

from __future__ import annotations

import sys
import threading
from dataclasses import dataclass
from typing import Any, TextIO

INTERVAL = 0.2  # seconds between looks at the history


@dataclass
class StepCounts:
    """Activity counts seen in a history so far."""

    scheduled: int = 0
    started: int = 0
    done: int = 0
    failed: int = 0
    closed_after_start: int = 0
    last_event: int = 0
    marker: tuple[int, int] | None = None  # (done, total) of the last `pipeflow.progress` marker
    exact: bool = True  # False: the total is a lower bound (a map's size is not known yet)
    runs: int = 1  # the runs of a repeat's chain seen (ContinueAsNew), this one included

    @property
    def running(self) -> int:
        return self.started - self.closed_after_start

    def steps(self) -> tuple[int, int]:
        """(done, total): the activity counts, or the last progress marker's when it says more.

        The marker's total is the canvas's count of steps (stages count one), so it says more than
        the steps scheduled so far as soon as one is recorded, and the total stays put from then on.
        """
        if self.marker is not None and self.marker[1] > self.scheduled:
            return self.marker
        return self.done, self.scheduled

    def add(self, event: dict[str, Any]) -> None:
        kind = event["eventType"]
        if kind == "MarkerRecorded":
            self._marker(event.get("markerRecordedEventAttributes") or {})
        elif kind in ("ActivityTaskScheduled", "LambdaFunctionScheduled"):  # a Lambda step counts as a step
            self.scheduled += 1
        elif kind in ("ActivityTaskStarted", "LambdaFunctionStarted"):
            self.started += 1
        elif kind in _CLOSED:
            attributes = event.get(_CLOSED[kind], {})
            if attributes.get("startedEventId"):
                self.closed_after_start += 1
            if kind in ("ActivityTaskCompleted", "LambdaFunctionCompleted"):
                self.done += 1
            else:
                self.failed += 1

    def follow(self) -> None:
        """The run continued as new (`pf.repeat`): the counts go on over the next run's history.

        Its steps add to those of the runs before; a progress marker counts one run's steps, so
        the counts alone say how far the chain is.
        """
        self.runs += 1
        self.last_event = 0
        self.marker = None
        self.exact = True

    def _marker(self, attributes: dict[str, Any]) -> None:
        from .. import wire
        from ..decider import PROGRESS

        if attributes.get("markerName") != PROGRESS:
            return
        try:
            doc = wire.load_json(attributes.get("details") or "", "a progress marker")
            self.marker = (int(doc["done"]), int(doc["total"]))
            self.exact = doc.get("exact") is not False
        except (ValueError, KeyError, TypeError):
            pass  # not ours: the counts stand

    def text(self) -> str:
        bound = "" if self.exact or self.marker is None else ", total so far (maps ahead)"
        chain = f", run {self.runs} of the chain" if self.runs > 1 else ""
        return f"running {self.running}, failed {self.failed}{bound}{chain}"


_CLOSED = {
    "ActivityTaskCompleted": "activityTaskCompletedEventAttributes",
    "ActivityTaskFailed": "activityTaskFailedEventAttributes",
    "ActivityTaskTimedOut": "activityTaskTimedOutEventAttributes",
    "ActivityTaskCanceled": "activityTaskCanceledEventAttributes",
    "LambdaFunctionCompleted": "lambdaFunctionCompletedEventAttributes",
    "LambdaFunctionFailed": "lambdaFunctionFailedEventAttributes",
    "LambdaFunctionTimedOut": "lambdaFunctionTimedOutEventAttributes",
}


def new_events(swf: Any, domain: str, execution: dict[str, str], after: int) -> list[dict[str, Any]]:
    """Events with an id above `after`, oldest first."""
    found: list[dict[str, Any]] = []
    params: dict[str, Any] = {"domain": domain, "execution": execution, "reverseOrder": True}
    while True:
        page = swf.get_workflow_execution_history(**params)
        for event in page["events"]:
            if event["eventId"] <= after:
                found.reverse()
                return found
            found.append(event)
        token = page.get("nextPageToken")
        if not token:
            found.reverse()
            return found
        params["nextPageToken"] = token


class ProgressLine:
    """A tqdm line on stderr, refreshed from a thread until `close`."""

    def __init__(self, swf: Any, domain: str, execution: dict[str, str], stream: TextIO | None = None,
                 bar: Any = None) -> None:
        self._swf = swf
        self._bar_class = bar  # a tqdm class (tqdm.auto's in a notebook); tqdm's own by default
        self._domain = domain
        self._execution = execution
        self._stream = stream or sys.stderr
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="pipeflow-progress", daemon=True)
        self.counts = StepCounts()
        self._bar: Any = None

    def start(self) -> ProgressLine:
        from tqdm import tqdm

        self._bar = (self._bar_class or tqdm)(total=0, unit="step", desc="steps", file=self._stream, leave=True, dynamic_ncols=True)
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.wait(INTERVAL):
            self.refresh()

    def refresh(self, draw: bool = True) -> None:
        """Read the new events and redraw the line; a run that continued as new is followed to the next."""
        events: list[dict[str, Any]] = []
        while True:
            try:
                found = new_events(self._swf, self._domain, self._execution, self.counts.last_event)
            except Exception:  # the engine is closing; the line simply stops moving
                break
            events += found
            following = None
            for event in found:
                self.counts.add(event)
                self.counts.last_event = event["eventId"]
                if event["eventType"] == "WorkflowExecutionContinuedAsNew":
                    attributes = event.get("workflowExecutionContinuedAsNewEventAttributes") or {}
                    following = attributes.get("newExecutionRunId")
            if not following:
                break
            self._execution = {**self._execution, "runId": following}
            self.counts.follow()
        bar = self._bar
        if bar is not None and events:
            bar.n, bar.total = self.counts.steps()
            bar.set_postfix_str(self.counts.text(), refresh=False)
            if draw:
                bar.refresh()

    def close(self) -> None:
        """Stop refreshing, draw the final state, end the line."""
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join()
        self.refresh(draw=False)  # closing the bar draws the final state once
        if self._bar is not None:
            self._bar.close()
