"""`Decider`: a poll response in, the decisions out; replayed state cached per open run."""

from __future__ import annotations

import logging
from collections import OrderedDict
from collections.abc import Iterable
from typing import Any

import converters

from .. import wire
from .._errors import PipelineError
from .._pipeline import Pipeline, as_pipeline
from ._lambda import lambda_decision
from ._markers import with_markers
from ._repeat import continue_decision
from ._stages import StageStartError
from ._starts import start_children
from .history import NondeterminismError, RunState
from .plan import Leaf

__all__ = ["Decider"]

log = logging.getLogger("pipeflow.decider")

MAX_OPEN = 1000  # open activities per execution (SWF quota); also open timers
MAX_REQUEST = 900_000  # characters of decisions per response, under SWF's 1 MB request


class Decider:
    """Decides the executions of the given pipelines, keyed by workflow type (name, version).

    `store` is the decider's own store (a URI): a run that names a store is decided only when
    its store lies under it; one naming another store fails, saying so (None: only runs
    started without a store are decided).
    """

    def __init__(self, pipelines: Iterable[Any], *, store: str | None = None, max_runs: int = 1000,
                 max_open: int = MAX_OPEN, max_request: int = MAX_REQUEST) -> None:
        self.store = store
        self.pipelines: dict[tuple[str, str], Pipeline] = {}
        for obj in pipelines:
            p = as_pipeline(obj)
            self.pipelines[(p.name, p.version)] = p
        self.max_runs = max_runs
        self.max_open = max_open
        self.max_request = max_request
        self._runs: OrderedDict[str, RunState] = OrderedDict()
        self._args: dict[tuple[int, str | None], tuple[list[str], dict[str, str]]] = {}

    def last_event_id(self, run_id: str) -> int:
        """The last event applied for a cached run (0 when the run is not cached)."""
        state = self._runs.get(run_id)
        return state.last_event_id if state is not None else 0

    def forget(self, run_id: str) -> None:
        """Drop a run's cached state (the next decision task replays its full history)."""
        self._runs.pop(run_id, None)

    def decide(self, task: dict[str, Any]) -> list[dict[str, Any]]:
        """The decisions for one decision task (`events` may hold only the events after the cached ones).

        Raises on a bug in the decider (the caller fails the decision task); a nondeterministic
        history fails the execution with a reason saying so.
        """
        run_id = task["workflowExecution"]["runId"]
        wtype = task["workflowType"]
        pipeline = self.pipelines.get((wtype["name"], wtype["version"]))
        if pipeline is None:
            raise PipelineError(f"this decider does not know the workflow type {wtype['name']} v{wtype['version']}")
        state = self._runs.pop(run_id, None)
        if state is None:
            state = RunState(pipeline, run_id, task["workflowExecution"]["workflowId"], root=self.store)
        try:
            state.apply(task["events"])
            decisions = with_markers(state, self._decisions(state))  # checkpoint and progress markers first
        except NondeterminismError as exc:
            log.error("nondeterministic history in run %s: %s", run_id, exc)
            return [_fail(f"NondeterminismError: {exc}", {"type": "NondeterminismError", "message": str(exc)})]
        # A run whose state may be half-applied is not cached (an exception leaves before this line).
        if not state.closed and not _closes(decisions):
            self._runs[run_id] = state
            while len(self._runs) > self.max_runs:
                self._runs.popitem(last=False)
        return decisions

    # -- building decisions ---------------------------------------------------------------

    def _decisions(self, state: RunState) -> list[dict[str, Any]]:
        plan = state.plan
        if state.closed:
            return []
        if state.fatal is not None:
            reason, failure = state.fatal
            return [_fail(reason, failure, state.store)]
        if state.cancel_requested:  # cancel what is open (activities, timers, children), close CANCELED
            return state.control.cancel_decisions()
        if plan.finished:
            if plan.failure is not None:
                return [_fail(_reason(plan.failure), plan.failure, state.store)]
            try:
                result = wire.encode_workflow_result(plan.result, state.store)
            except converters.ConverterError as exc:
                return [_fail(f"the result cannot be stored: {exc}", {"type": type(exc).__name__, "message": str(exc)})]
            return [{"decisionType": "CompleteWorkflowExecution",
                     "completeWorkflowExecutionDecisionAttributes": {"result": result}}]
        if plan.continued is not None:  # a repeat's run has done its share: the next run goes on
            return [continue_decision(state)]
        decisions: list[dict[str, Any]] = []
        budget = self.max_request
        room = self.max_open - len(state.open)
        for leaf in plan.ready.values():
            if room <= 0:
                break
            try:
                decision = self._schedule(state, leaf)
            except (converters.ConverterError, PipelineError) as exc:
                doc = {"type": type(exc).__name__, "message": str(exc), "step": leaf.path,
                       "task": leaf.task.name, "attempt": leaf.attempt}
                return [_fail(_reason(doc), doc, state.store)]
            size = len(_input_of(decision)) + 400
            if size > budget and decisions:
                break  # the rest goes in the next decision task
            budget -= size
            room -= 1
            decisions.append(decision)
        try:
            starts, budget = start_children(state, budget, self.max_open)
        except StageStartError as exc:
            return [_fail(_reason(exc.doc), exc.doc, state.store)]
        decisions.extend(starts)
        timer_room = self.max_open - len(state.open_timers)
        for timer_id, (_leaf, delay) in plan.timers.items():
            if timer_room <= 0 or budget < 200:
                break
            timer_room -= 1
            budget -= 200
            decisions.append({"decisionType": "StartTimer", "startTimerDecisionAttributes": {
                "timerId": timer_id, "startToFireTimeout": str(delay)}})
        return decisions

    def _schedule(self, state: RunState, leaf: Leaf) -> dict[str, Any]:
        task = leaf.task
        signature = leaf.signature
        args: list[str] = []
        kwargs: dict[str, str] = {}
        if signature is not None and (signature.args or signature.kwargs):
            key = (id(signature), state.store)
            if key not in self._args:
                codec = task.converter or "auto"

                def dump(value: Any) -> str:
                    return converters.dumps(value, codec=codec, store=state.store,
                                            threshold=wire.LIMIT - 1024, what="argument")

                self._args[key] = ([dump(a) for a in signature.args], {k: dump(v) for k, v in signature.kwargs})
            args, kwargs = self._args[key]
        piped = None if signature is not None and signature.immutable else leaf.input
        activity_input = wire.encode_activity_input(
            step=leaf.path, attempt=leaf.attempt, task=task.name, store=state.store, piped=piped,
            args=args, kwargs=kwargs,
        )
        activity_id = leaf.activity_id
        if len(activity_id) > 256:
            raise PipelineError(f"step path too long for an SWF activity id ({len(activity_id)} > 256 chars)")
        if task.lambda_function:  # a Lambda step: ScheduleLambdaFunction (pipeflow.decider._lambda)
            return lambda_decision(leaf, activity_input)
        attrs: dict[str, Any] = {
            "activityType": {"name": task.name, "version": task.version},
            "activityId": activity_id,
            "input": activity_input,
            "taskList": {"name": state.pipeline.activity_list(task)},
            "startToCloseTimeout": _seconds(task.timeout),
            "heartbeatTimeout": _seconds(task.heartbeat_timeout),
            "scheduleToStartTimeout": "NONE",
            "scheduleToCloseTimeout": "NONE",
        }
        priority = _priority(leaf, state.children.settings.get("taskPriority"))
        if priority is not None:
            attrs["taskPriority"] = priority
        return {"decisionType": "ScheduleActivityTask", "scheduleActivityTaskDecisionAttributes": attrs}


def _priority(leaf: Leaf, default: str | None) -> str | None:
    """A step's SWF taskPriority: its signature's (`.options(priority=)`), its task's, else the run's (None: SWF's)."""
    own = leaf.signature.priority if leaf.signature is not None else None
    if own is None:
        own = leaf.task.priority
    return str(own) if own is not None else default


def _input_of(decision: dict[str, Any]) -> str:
    attrs = decision.get("scheduleActivityTaskDecisionAttributes") or decision["scheduleLambdaFunctionDecisionAttributes"]
    return str(attrs["input"])


def _seconds(value: float | None) -> str:
    if not value:
        return "NONE"
    return str(max(1, int(-(-value // 1))))


def _reason(failure: dict[str, Any]) -> str:
    where = f"step {failure.get('step')} task {failure.get('task')}: " if failure.get("step") else ""
    return f"{where}{failure.get('type', 'Error')}: {failure.get('message', '')}"[:256]


def _fail(reason: str, doc: dict[str, Any], store: str | None = None) -> dict[str, Any]:
    return {"decisionType": "FailWorkflowExecution", "failWorkflowExecutionDecisionAttributes": {
        "reason": reason[:256], "details": wire.failure_details(doc, store)}}


def _closes(decisions: list[dict[str, Any]]) -> bool:
    return bool(decisions) and decisions[-1]["decisionType"] in (
        "CompleteWorkflowExecution", "FailWorkflowExecution", "CancelWorkflowExecution",
        "ContinueAsNewWorkflowExecution")
