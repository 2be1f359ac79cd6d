"""Control of a run from outside: cancel requests and signals, as the decider replays them.

Cancel: the history says what is open (activities, timers, child executions); on
WorkflowExecutionCancelRequested the decider asks SWF to cancel each of them, then closes the
run CANCELED, all in one decision list. Everything is derived from events, so a decider that
replays the history from scratch and one with the state cached emit the same decisions; a
CancelWorkflowExecution refused for new events (UNHANDLED_DECISION) is emitted again next time,
without asking twice for what was already asked.

Signals: `pf.wait_signal(name)` completes with the first signal of that name no earlier step
consumed. Signals that arrive before the step starts wait in the run's mailbox, in order.
A signal named `pipeflow.cancel` is not for steps: `pipeflow cancel --reason` sends it just
before the cancel request, and its text goes into the CANCELED close's details.
"""

from __future__ import annotations

import collections
import json
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import converters

from .. import wire
from ..canvas import WaitSignal
from .plan import Node, Plan, Tree

if TYPE_CHECKING:
    from .history import RunState

__all__ = ["CANCEL_SIGNAL", "Control", "Mailbox", "WaitSignalNode", "signal_tree"]

CANCEL_SIGNAL = "pipeflow.cancel"  # carries the reason of the cancel request that follows it
REASON_LIMIT = 1_000  # characters of a cancel reason kept in the close details
_ENVELOPE = re.compile(r"[A-Za-z0-9_.+-]+/[0-9]+:")
_NONE = "json/1:null"

Handler = Callable[[dict[str, Any]], None]


def signal_tree(text: str | None, store: str | None = None) -> Tree:
    """A signal's input as a value tree: a converters envelope as is; other text as its JSON value or a string.

    pipeflow's own senders (`pipeflow signal`, `signal()`) always send an envelope; the rest
    covers signals sent by hand (the SWF console, `aws swf signal-workflow-execution`). An
    envelope is passed on undecoded (the step that takes it decodes it, within converters'
    limits). Raises `converters.DecodeError` for JSON nested past converters' limit, and
    `PayloadTooLarge` for a text too long to pass on without `store` (the run's).
    """
    from converters._limits import (  # converters imports pipeflow: not at import
        MAX_DEPTH,
        json_depth_exceeds,
    )

    if not text:
        return _NONE
    if not isinstance(text, str):
        raise converters.DecodeError(f"the signal's input is a {type(text).__name__}, not text")
    if _ENVELOPE.match(text):
        if text.startswith("json/") and json_depth_exceeds(text[text.index(":") + 1:]):  # a scan, no decoding
            raise converters.DecodeError(f"the signal's input is JSON nested deeper than {MAX_DEPTH} levels")
        return text
    if json_depth_exceeds(text):
        raise converters.DecodeError(f"the signal's input is JSON nested deeper than {MAX_DEPTH} levels")
    try:
        wire.load_json(text, "the signal's input")
    except ValueError:
        return converters.dumps(text, codec="json", store=store, threshold=wire.LIMIT - 1024,
                                what="the signal's input")
    return "json/1:" + text


class Mailbox:
    """Signals not consumed yet and the `wait_signal` steps waiting, per signal name, both in order."""

    __slots__ = ("buffered", "waiting")

    def __init__(self) -> None:
        self.buffered: dict[str, collections.deque[Tree]] = {}
        self.waiting: dict[str, collections.deque[WaitSignalNode]] = {}

    def deliver(self, name: str, tree: Tree) -> None:
        """A signal arrived: to the step waiting longest for it, else kept for the next one."""
        waiting = self.waiting.get(name)
        if waiting:
            waiting.popleft().done(tree)
        else:
            self.buffered.setdefault(name, collections.deque()).append(tree)

    def wait(self, node: WaitSignalNode) -> None:
        """A step starts waiting: done at once with a buffered signal, if one is there."""
        buffered = self.buffered.get(node.name)
        if buffered:
            node.done(buffered.popleft())
        else:
            self.waiting.setdefault(node.name, collections.deque()).append(node)

    def pending(self) -> list[str]:
        """Paths of the steps waiting for a signal, for diagnostics."""
        return [node.path for queue in self.waiting.values() for node in queue]


class WaitSignalNode(Node):
    """`pf.wait_signal(name)`: its result is the value of a signal; the piped input is ignored."""

    __slots__ = ("name",)

    def __init__(self, plan: Plan, path: str, parent: Node | None, slot: int, step: WaitSignal) -> None:
        super().__init__(plan, path, parent, slot)
        self.name = step.name

    def start(self, value: Tree) -> None:
        mailbox = self.plan.signals
        if mailbox is None:  # a plan outside a RunState (a bare simulation): nothing can signal it
            mailbox = self.plan.signals = Mailbox()
        mailbox.wait(self)


class Control:
    """What a cancel must close, and the signals, as the history tells them."""

    def __init__(self, state: RunState) -> None:
        self.state = state
        self.mailbox = Mailbox()
        state.plan.signals = self.mailbox
        self.activities: dict[int, str] = {}  # scheduledEventId -> activityId, open ones
        self.activities_asked: set[str] = set()  # activity ids whose cancel was requested
        self.timers: set[str] = set()  # open timers
        self.children: dict[str, str | None] = {}  # workflowId -> runId (None until started), open ones
        self.children_asked: set[str] = set()
        self.reason: str | None = None
        self.cause: dict[str, Any] = {}  # who asked: the request's cause and requesting execution
        self.watchers: dict[str, Handler] = {
            "ActivityTaskScheduled": self._scheduled,
            "ActivityTaskCancelRequested": self._activity_asked,
            "TimerStarted": self._timer_started,
            "TimerFired": self._timer_gone,
            "TimerCanceled": self._timer_gone,
            "TimerCancelled": self._timer_gone,  # moto's spelling
            "CancelTimerFailed": self._timer_gone,  # TIMER_ID_UNKNOWN: it fired meanwhile
            "StartChildWorkflowExecutionInitiated": self._child_initiated,
            "ChildWorkflowExecutionStarted": self._child_started,
            "StartChildWorkflowExecutionFailed": self._child_start_failed,
            "RequestCancelExternalWorkflowExecutionInitiated": self._child_asked,
            "WorkflowExecutionSignaled": self._signaled,
            "WorkflowExecutionCancelRequested": self._cancel_requested,
        }
        for kind in ("ActivityTaskCompleted", "ActivityTaskFailed", "ActivityTaskTimedOut", "ActivityTaskCanceled"):
            self.watchers[kind] = self._activity_closed
        for kind in ("ChildWorkflowExecutionCompleted", "ChildWorkflowExecutionFailed",
                     "ChildWorkflowExecutionTimedOut", "ChildWorkflowExecutionCanceled",
                     "ChildWorkflowExecutionTerminated"):
            self.watchers[kind] = self._child_closed

    # -- decisions -------------------------------------------------------------------------

    def cancel_decisions(self) -> list[dict[str, Any]]:
        """Cancel what is open (what was not asked already), then close the run CANCELED."""
        decisions: list[dict[str, Any]] = []
        for activity_id in self.activities.values():
            if activity_id not in self.activities_asked:
                decisions.append({"decisionType": "RequestCancelActivityTask",
                                  "requestCancelActivityTaskDecisionAttributes": {"activityId": activity_id}})
        for timer_id in sorted(self.timers):
            decisions.append({"decisionType": "CancelTimer", "cancelTimerDecisionAttributes": {"timerId": timer_id}})
        for workflow_id, run_id in self.children.items():
            if workflow_id not in self.children_asked:
                attrs = {"workflowId": workflow_id} if run_id is None else {"workflowId": workflow_id, "runId": run_id}
                decisions.append({"decisionType": "RequestCancelExternalWorkflowExecution",
                                  "requestCancelExternalWorkflowExecutionDecisionAttributes": attrs})
        details = {"v": 1, "reason": self.reason, **self.cause}
        decisions.append({"decisionType": "CancelWorkflowExecution",
                          "cancelWorkflowExecutionDecisionAttributes": {"details": json.dumps(details)}})
        return decisions

    # -- events ----------------------------------------------------------------------------

    def _scheduled(self, event: dict[str, Any]) -> None:
        self.activities[event["eventId"]] = event["activityTaskScheduledEventAttributes"]["activityId"]

    def _activity_closed(self, event: dict[str, Any]) -> None:
        kind = event["eventType"]
        attrs = event[kind[0].lower() + kind[1:] + "EventAttributes"]
        self.activities.pop(attrs["scheduledEventId"], None)

    def _activity_asked(self, event: dict[str, Any]) -> None:
        self.activities_asked.add(event["activityTaskCancelRequestedEventAttributes"]["activityId"])

    def _timer_started(self, event: dict[str, Any]) -> None:
        self.timers.add(event["timerStartedEventAttributes"]["timerId"])

    def _timer_gone(self, event: dict[str, Any]) -> None:
        kind = event["eventType"]
        self.timers.discard(event[kind[0].lower() + kind[1:] + "EventAttributes"]["timerId"])

    def _child_initiated(self, event: dict[str, Any]) -> None:
        self.children[event["startChildWorkflowExecutionInitiatedEventAttributes"]["workflowId"]] = None

    def _child_started(self, event: dict[str, Any]) -> None:
        execution = event["childWorkflowExecutionStartedEventAttributes"]["workflowExecution"]
        if execution["workflowId"] in self.children:
            self.children[execution["workflowId"]] = execution["runId"]

    def _child_start_failed(self, event: dict[str, Any]) -> None:
        self.children.pop(event["startChildWorkflowExecutionFailedEventAttributes"]["workflowId"], None)

    def _child_closed(self, event: dict[str, Any]) -> None:
        kind = event["eventType"]
        execution = event[kind[0].lower() + kind[1:] + "EventAttributes"]["workflowExecution"]
        self.children.pop(execution["workflowId"], None)
        self.children_asked.discard(execution["workflowId"])  # a later attempt reuses no id, but be exact

    def _child_asked(self, event: dict[str, Any]) -> None:
        self.children_asked.add(event["requestCancelExternalWorkflowExecutionInitiatedEventAttributes"]["workflowId"])

    def _signaled(self, event: dict[str, Any]) -> None:
        """A signal: a cancel reason is kept (a note when it cannot be read); a step's value must be a tree.

        A signal for steps whose input cannot be passed on raises `ConverterError`: the run
        fails once, naming the event (`RunState.poisoned`).
        """
        attrs = event["workflowExecutionSignaledEventAttributes"]
        name = attrs["signalName"]
        if name == CANCEL_SIGNAL:
            self.reason = _reason_text(attrs.get("input"), self.state.store, event.get("eventId"))
        else:
            self.mailbox.deliver(name, signal_tree(attrs.get("input"), self.state.store))

    def _cancel_requested(self, event: dict[str, Any]) -> None:
        attrs = event.get("workflowExecutionCancelRequestedEventAttributes") or {}
        cause: dict[str, Any] = {}
        if attrs.get("cause"):
            cause["cause"] = attrs["cause"]
        external = attrs.get("externalWorkflowExecution")
        if external:
            cause["by"] = external.get("workflowId")
        self.cause = cause


def _reason_text(text: str | None, store: str | None = None, event_id: Any = None) -> str | None:
    """The reason a `pipeflow.cancel` signal carries (a JSON envelope of a string), cut to REASON_LIMIT.

    pipeflow sends the reason inline as `json/1:"..."`; anything it cannot read as text (a
    reference, another codec, nesting past converters' limit) is dropped, and a note naming the
    event stands in its place in the close details: the cancel itself goes ahead.
    """
    from converters._limits import MAX_DEPTH, json_depth_exceeds

    if not text:
        return None
    if not isinstance(text, str):
        return _dropped(event_id, "it is not text")
    if not _ENVELOPE.match(text):
        return text[:REASON_LIMIT]  # sent by hand: the text itself
    if not text.startswith("json/"):
        return _dropped(event_id, f"it is a {text.split(':', 1)[0]} value, not a JSON text")
    if json_depth_exceeds(text[text.index(":") + 1:]):
        return _dropped(event_id, f"it nests deeper than {MAX_DEPTH} levels")
    try:
        value = converters.loads(text, store=store)
    except (converters.ConverterError, RecursionError) as exc:
        return _dropped(event_id, f"{type(exc).__name__}: {exc}" if not isinstance(exc, RecursionError)
                        else "it nests too deep to decode")
    if not isinstance(value, (str, int, float)) or isinstance(value, bool):
        return _dropped(event_id, f"it is a {type(value).__name__}, not a text")
    return str(value)[:REASON_LIMIT]


def _dropped(event_id: Any, why: str) -> str:
    """The note kept instead of a cancel reason that cannot be read."""
    return f"(the reason sent with the cancel in event {event_id} was dropped: {why})"[:REASON_LIMIT]
