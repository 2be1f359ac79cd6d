"""`pf.repeat` at run time: iterations, the pause between them, the `until` check, ContinueAsNew.

Iteration `n` (counted from 1 across the whole chain of runs) runs the repeated canvas at the path
`<path>.iter.<n>`, its `until` task at `<path>.until.<n>`, and the pause before it is the timer
`every-<path>.iter.<n>`: ids come from paths, and no two iterations share one. Each iteration's
result is checkpointed (`pipeflow.checkpoint` at `<path>.iter.<n>`), so `pipeflow resume` starts
after the last completed one.

Every `continue_every` iterations, or once the history has `max_events` events, the run closes
with ContinueAsNewWorkflowExecution (same workflow id, new run id). The new run's input document
is the first run's (store, source) with `input` the last result tree (offloaded when long) and
`"repeat": {"iteration": n, "previous": run id}`; the settings of its start (task list, timeouts,
child policy, tags, priority) are passed on explicitly, since SWF would otherwise take the
workflow type's defaults. The decider stays pure: `until` is a task run by a worker; the decider
only reads the truth of its result.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import converters

from .. import wire
from ..canvas import Repeat
from .plan import Node, Plan, Tree

if TYPE_CHECKING:
    from .history import RunState

__all__ = ["RepeatNode", "carried_iteration", "carried_signals", "continue_decision", "continue_failed"]

_PLAIN = (bool, int, float, str, list, dict, type(None))


class RepeatNode(Node):
    """A `Repeat` step: its iterations one after the other, each on the previous result."""

    __slots__ = ("first", "last", "repeat")

    def __init__(self, plan: Plan, path: str, parent: Node | None, slot: int, step: Repeat) -> None:
        super().__init__(plan, path, parent, slot)
        self.repeat = step
        self.first = 1  # the first iteration this run runs
        self.last: Tree = None  # the last completed iteration's result

    def iteration_path(self, n: int) -> str:
        return f"{self.path}.iter.{n}"

    def start(self, value: Tree) -> None:
        owner = self.plan.owner
        carried = carried_iteration(getattr(owner, "started", None))
        self.first = carried + 1
        prefix = f"{self.path}.iter."
        resumed = [int(p[len(prefix):]) for p in self.plan.resumed
                   if p.startswith(prefix) and p[len(prefix):].isdigit() and int(p[len(prefix):]) > carried]
        if resumed:  # `pipeflow resume`: after the last iteration the old run completed
            n = max(resumed)
            tree = self.plan.resumed[self.iteration_path(n)]
            self._checkpoint(n, tree)
            self.after(n, tree)
        elif carried:  # a continued run: the previous one checked iteration `carried` and went on
            self.next(carried, value)
        else:
            self.begin(1, value)

    def begin(self, n: int, value: Tree) -> None:
        """Start iteration `n` on `value`."""
        self.plan.start(self.repeat.step, self.iteration_path(n), self, n, value)

    def child_done(self, slot: int, value: Tree) -> None:
        if slot > 0:  # iteration `slot` completed
            self._checkpoint(slot, value)
            self.after(slot, value)
            return
        stop = self._truth(value, -slot)  # the `until` check of iteration -slot
        if stop is None:
            return
        if stop:
            self.done(self.last)
        else:
            self.go_on(-slot, self.last)

    def child_failed(self, slot: int, failure: dict[str, Any]) -> None:
        self.failed(failure)

    def after(self, n: int, value: Tree) -> None:
        """Iteration `n` completed with `value`: stop (times), check (until), or go on."""
        self.last = value
        if self.repeat.times is not None and n >= self.repeat.times:
            self.done(value)
        elif self.repeat.until is not None:
            self.plan.start(self.repeat.until, f"{self.path}.until.{n}", self, -n, value)
        else:
            self.go_on(n, value)

    def go_on(self, n: int, value: Tree) -> None:
        """Continue as new when this run has done its share, else pause and start iteration n + 1."""
        if n - self.first + 1 >= self.repeat.continue_every or self.plan.event_id >= self.repeat.max_events:
            self.plan.continued = (n, value)
        else:
            self.next(n, value)

    def next(self, n: int, value: Tree) -> None:
        """The pause, then iteration n + 1."""
        if self.repeat.every <= 0:
            self.begin(n + 1, value)
            return
        pause = Pause(self, n + 1, value)
        self.plan.timers[f"every-{self.iteration_path(n + 1)}"] = (pause, self.repeat.every)  # type: ignore[assignment]

    def _checkpoint(self, n: int, value: Tree) -> None:
        observer = self.plan.observer
        if observer is not None:
            observer.pending[self.iteration_path(n)] = value

    def _truth(self, tree: Tree, n: int) -> bool | None:
        """The truth of an `until` result; None when it is no plain value (the step fails, saying so)."""
        until = self.repeat.until
        name = getattr(until, "name", None) or getattr(getattr(until, "task", None), "name", "until")
        value = wire.decode_tree(tree, getattr(self.plan.owner, "store", None))
        if isinstance(value, _PLAIN):
            return bool(value)
        message = (f"the until task {name} returned a {type(value).__name__}; it must return True to stop "
                   "the repeat or False to go on")
        self.failed({"type": "RepeatError", "message": message, "traceback": None,
                     "step": f"{self.path}.until.{n}", "task": name})
        return None


class Pause:
    """The timer before iteration `n`: when it fires, the iteration starts (the timer's `next_attempt`)."""

    __slots__ = ("n", "node", "value")

    def __init__(self, node: RepeatNode, n: int, value: Tree) -> None:
        self.node, self.n, self.value = node, n, value

    def next_attempt(self) -> None:
        self.node.begin(self.n, self.value)


def carried_iteration(started: dict[str, Any] | None) -> int:
    """The iterations the runs before this one completed (0 for a first run), from its start's input."""
    text = (started or {}).get("input")
    if not text:
        return 0
    try:
        doc = wire.load_json(text, "the workflow input")
    except ValueError:
        return 0  # the start's own handler reports a malformed input
    member = doc.get("repeat") if isinstance(doc, dict) else None
    n = member.get("iteration") if isinstance(member, dict) else None
    return n if isinstance(n, int) and not isinstance(n, bool) and n > 0 else 0


def carried_signals(started: dict[str, Any] | None, store: str | None) -> list[tuple[str, Tree]]:
    """The signals the run before this one received and no step took, in order: `(name, value tree)`.

    Raises ValueError or `converters.ConverterError` when the start's input carries them unreadably.
    """
    text = (started or {}).get("input")
    doc = wire.load_json(text, "the workflow input") if text else None
    member = doc.get("repeat") if isinstance(doc, dict) else None
    carried = member.get("signals") if isinstance(member, dict) else None
    if carried is None:
        return []
    what = "the signals carried from the previous run"
    items = wire.expand_tree(wire.check_tree(carried, what), store)  # an offloaded list is read back
    found = []
    for item in items:
        if not (isinstance(item, list) and len(item) == 2 and isinstance(item[0], str)):
            raise ValueError(f"{what} hold {type(item).__name__} where a [name, value] pair belongs")
        name = converters.loads(item[0])
        if not isinstance(name, str):
            raise ValueError(f"{what} hold a name that is a {type(name).__name__}, not text")
        found.append((name, item[1]))
    return found


def _unconsumed(state: RunState) -> list[list[Tree]]:
    """The signals in the run's mailbox that no step took, as `[name envelope, value tree]` pairs."""
    mailbox = state.plan.signals
    if mailbox is None:
        return []
    return [[converters.dumps(name), tree] for name, queue in mailbox.buffered.items() for tree in queue]


def continue_decision(state: RunState) -> dict[str, Any]:
    """The ContinueAsNewWorkflowExecution decision carrying the last iteration (or a failure when it cannot).

    Signals the run received that no step took yet go with it (`repeat.signals`): the next run's
    steps take them as if they had arrived there, first.
    """
    plan = state.plan
    assert plan.continued is not None
    n, value = plan.continued
    started = getattr(state, "started", None) or {}
    try:
        doc = wire.load_json(started.get("input") or "{}", "the workflow input")
        doc = {k: v for k, v in doc.items() if k not in ("input", "resume", "repeat")}
        doc["repeat"] = {"iteration": n, "previous": state.run_id}
        pending = _unconsumed(state)
        if pending:  # a quarter of the field at most; more goes to the store
            doc["repeat"]["signals"] = json.loads(wire.encode_tree(pending, state.store, limit=wire.LIMIT // 4))
        head = wire.dump_json({**doc, "input": None})
        doc["input"] = json.loads(wire.encode_tree(value, state.store, limit=wire.LIMIT - len(head) - 16))
    except (converters.ConverterError, ValueError) as exc:
        message = f"the result of iteration {n} cannot be carried to the next run: {exc}"
        return {"decisionType": "FailWorkflowExecution", "failWorkflowExecutionDecisionAttributes": {
            "reason": f"{type(exc).__name__}: {message}"[:256],
            "details": wire.failure_details({"type": type(exc).__name__, "message": message}, state.store)}}
    attrs: dict[str, Any] = {"input": wire.dump_json(doc)}
    for name in ("executionStartToCloseTimeout", "taskStartToCloseTimeout", "childPolicy", "taskPriority",
                 "lambdaRole"):
        if started.get(name) is not None:
            attrs[name] = started[name]
    if started.get("taskList"):
        attrs["taskList"] = {"name": started["taskList"]["name"]}
    if started.get("tagList"):
        attrs["tagList"] = list(started["tagList"])
    return {"decisionType": "ContinueAsNewWorkflowExecution",
            "continueAsNewWorkflowExecutionDecisionAttributes": attrs}


def continue_failed(state: RunState, event: dict[str, Any]) -> None:
    """ContinueAsNewWorkflowExecutionFailed: decided again (an event came meanwhile), or the run fails."""
    cause = (event.get("continueAsNewWorkflowExecutionFailedEventAttributes") or {}).get("cause")
    if cause == "UNHANDLED_DECISION":
        return  # the next decision task sees the new event (a cancel request?) and decides again
    message = f"SWF refused to continue the run as new: {cause}"
    state.fatal = (message[:256], {"type": "ContinueAsNewWorkflowExecutionFailed", "message": message})
