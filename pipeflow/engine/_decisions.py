"""RespondDecisionTaskCompleted: validate a decision list as a whole, then apply it in order."""

from __future__ import annotations

from typing import Any

from ._execution import Activity, Child, Execution
from ._lambda import schedule_lambda
from ._model import service_model
from ._state import State, seconds
from ._tasklist import TaskQueue
from ._validate import failure, refusal

__all__ = ["complete_decision_task", "validate_decisions"]

CLOSE = {
    "CompleteWorkflowExecution": ("WorkflowExecutionCompleted", "COMPLETED", "CompleteWorkflowExecutionFailed"),
    "FailWorkflowExecution": ("WorkflowExecutionFailed", "FAILED", "FailWorkflowExecutionFailed"),
    "CancelWorkflowExecution": ("WorkflowExecutionCanceled", "CANCELED", "CancelWorkflowExecutionFailed"),
    "ContinueAsNewWorkflowExecution": ("WorkflowExecutionContinuedAsNew", "CONTINUED_AS_NEW",
                                       "ContinueAsNewWorkflowExecutionFailed"),
}
_ACTIVITY_DEFAULTS = (
    ("taskList", "defaultTaskList", "DEFAULT_TASK_LIST_UNDEFINED"),
    ("scheduleToCloseTimeout", "defaultTaskScheduleToCloseTimeout", "DEFAULT_SCHEDULE_TO_CLOSE_TIMEOUT_UNDEFINED"),
    ("scheduleToStartTimeout", "defaultTaskScheduleToStartTimeout", "DEFAULT_SCHEDULE_TO_START_TIMEOUT_UNDEFINED"),
    ("startToCloseTimeout", "defaultTaskStartToCloseTimeout", "DEFAULT_START_TO_CLOSE_TIMEOUT_UNDEFINED"),
)


def _attr_name(decision_type: str) -> str:
    return decision_type[0].lower() + decision_type[1:] + "DecisionAttributes"


def _needs_attributes() -> set[str]:
    shape = service_model().shape_for("Decision")
    return {
        t for t in service_model().shape_for("DecisionType").enum
        if shape.members[_attr_name(t)].required_members
    }


_NEEDS_ATTRS = _needs_attributes()


def validate_decisions(decisions: list[dict[str, Any]]) -> None:
    """Refuse a malformed list whole, before anything is recorded (ValidationException).

    The model's constraints were checked on the way in; these are SWF's rules across members.
    """
    errors = []
    for i, d in enumerate(decisions, 1):
        t = d["decisionType"]
        where = f"decisions.{i}.member"
        if t not in _APPLY and t not in CLOSE:  # only reached by a caller that skipped the model's checks
            errors.append(failure(t, f"{where}.decisionType", "Member must satisfy enum value set: "
                                  f"[{', '.join(service_model().shape_for('DecisionType').enum)}]"))
        elif t in _NEEDS_ATTRS and _attr_name(t) not in d:
            errors.append(failure(None, f"{where}.{_attr_name(t)}", f"Member must not be null for a {t} decision"))
        elif t in CLOSE and i != len(decisions):
            errors.append(failure(t, f"{where}.decisionType", "Member must be the last decision of the list"))
    if errors:
        raise refusal(errors)


def complete_decision_task(state: State, ex: Execution, p: dict[str, Any], now: float) -> None:
    """Apply a validated decision list to the execution whose decision task it completes."""
    decisions = p.get("decisions") or []
    completed: dict[str, Any] = {"scheduledEventId": ex.d_scheduled_id, "startedEventId": ex.d_started_id}
    if p.get("executionContext") is not None:
        completed["executionContext"] = ex.latest_context = p["executionContext"]
    if ex.d_token is not None:
        state.tokens.pop(ex.d_token, None)
    ex.decision, ex.d_token = None, None
    ex.prev_started_id = ex.d_started_id
    if p.get("taskList"):
        ex.decision_task_list = p["taskList"]["name"]
    cid = ex.add("DecisionTaskCompleted", completed, now)
    deferred: list[tuple[str, Any]] = []
    closing: tuple[str, dict[str, Any]] | None = None
    for d in decisions:
        t = d["decisionType"]
        a = d.get(_attr_name(t)) or {}
        if t in CLOSE:
            if ex.unhandled:
                ex.add(CLOSE[t][2], {"cause": "UNHANDLED_DECISION", "decisionTaskCompletedEventId": cid}, now)
            elif t == "ContinueAsNewWorkflowExecution":
                cfg, cause = _continue_config(state, ex, a)
                if cause:
                    ex.add(CLOSE[t][2], {"cause": cause, "decisionTaskCompletedEventId": cid}, now)
                else:
                    closing = (t, cfg)
            else:
                closing = (t, a)
            continue
        _APPLY[t](state, ex, a, cid, now, deferred)
    for kind, item in deferred:
        _DEFERRED[kind](state, ex, item, now)
    if closing is not None and ex.open:
        _close(state, ex, closing[0], closing[1], cid, now)
    if ex.open and not state.check_event_limit(ex, now):
        state.settle(ex, now)


def _close(state: State, ex: Execution, t: str, a: dict[str, Any], cid: int, now: float) -> None:
    event_type, status, _ = CLOSE[t]
    if t == "ContinueAsNewWorkflowExecution":
        new_run = state.new_run_id()
        attrs = {k: v for k, v in a.items() if k not in ("domain", "workflowId") and v is not None}
        attrs.update(decisionTaskCompletedEventId=cid, newExecutionRunId=new_run)
        ex.add(event_type, attrs, now)
        parent, initiated = ex.parent, ex.parent_initiated_id
        state.close(ex, status, now)
        state.start_execution(a, now, parent=parent, parent_initiated_id=initiated,
                              continued_from=ex.run_id, run_id=new_run)
        return
    attrs = {k: v for k, v in a.items() if k in ("result", "reason", "details")}
    attrs["decisionTaskCompletedEventId"] = cid
    ex.add(event_type, attrs, now)
    state.close(ex, status, now)


def _continue_config(state: State, ex: Execution, a: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
    """The new run's settings: those the decision gives, else the workflow type's defaults, as SWF documents.

    Nothing is carried over from the closing run (not its task list, timeouts or tags): a decider
    that wants them again passes them, as `pf.repeat` does.
    """
    wtype = {"name": ex.workflow_type["name"], "version": a.get("workflowTypeVersion") or ex.workflow_type["version"]}
    req: dict[str, Any] = {"workflowId": ex.workflow_id, "workflowType": wtype}
    for name in ("input", "tagList", "lambdaRole", "taskList", "executionStartToCloseTimeout",
                 "taskStartToCloseTimeout", "childPolicy", "taskPriority"):
        if a.get(name) is not None:
            req[name] = a[name]
    return state.resolve_workflow_config(ex.domain, req)


def _schedule_activity(state: State, ex: Execution, a: dict[str, Any], cid: int, now: float,
                       deferred: list[Any]) -> None:
    def fail(cause: str) -> None:
        ex.add("ScheduleActivityTaskFailed", {"activityType": a["activityType"], "activityId": a["activityId"],
                                              "cause": cause, "decisionTaskCompletedEventId": cid}, now)

    rec = state.registry.get_type("activity", ex.domain, a["activityType"])
    if rec is None:
        return fail("ACTIVITY_TYPE_DOES_NOT_EXIST")
    if rec["status"] != "REGISTERED":
        return fail("ACTIVITY_TYPE_DEPRECATED")
    if a["activityId"] in ex.activities:  # ids must be unique among the open activities
        return fail("ACTIVITY_ID_ALREADY_IN_USE")
    if len(ex.activities) >= state.limits.max_open_activities:
        return fail("OPEN_ACTIVITIES_LIMIT_EXCEEDED")
    cfg = rec["config"]
    attrs = dict(a)
    for name, default, cause in _ACTIVITY_DEFAULTS:
        if attrs.get(name) is None:
            if default not in cfg:
                return fail(cause)
            attrs[name] = cfg[default]
    if attrs.get("heartbeatTimeout") is None:
        attrs["heartbeatTimeout"] = cfg.get("defaultTaskHeartbeatTimeout", "NONE")
    if attrs.get("taskPriority") is None and "defaultTaskPriority" in cfg:
        attrs["taskPriority"] = cfg["defaultTaskPriority"]
    attrs["decisionTaskCompletedEventId"] = cid
    sid = ex.add("ActivityTaskScheduled", attrs, now)
    act = Activity(ex, attrs, sid)
    ex.activities[act.activity_id] = act
    for kind, value in (("SCHEDULE_TO_START", act.schedule_to_start), ("SCHEDULE_TO_CLOSE", act.schedule_to_close)):
        limit = seconds(value)
        if limit is not None:
            state.schedule(now + limit, kind, act, sid)
    key = (ex.domain, act.task_list)
    q = state.activity_queues.get(key)
    if q is None:
        q = state.activity_queues[key] = TaskQueue()
    q.push(act, attrs.get("taskPriority"))
    state.woken.append(("a", key))


def _cancel_activity(state: State, ex: Execution, a: dict[str, Any], cid: int, now: float, deferred: list[Any]) -> None:
    act = ex.activities.get(a["activityId"])
    if act is None:
        ex.add("RequestCancelActivityTaskFailed", {"activityId": a["activityId"], "cause": "ACTIVITY_ID_UNKNOWN",
                                                   "decisionTaskCompletedEventId": cid}, now)
        return
    rid = ex.add("ActivityTaskCancelRequested", {"decisionTaskCompletedEventId": cid,
                                                 "activityId": act.activity_id}, now)
    act.cancel_requested = True
    if not act.started_id:  # not handed to a worker yet: SWF cancels it at once
        state.close_activity(act, "ActivityTaskCanceled", {"scheduledEventId": act.scheduled_id,
                             "startedEventId": 0, "latestCancelRequestedEventId": rid}, now)


def _marker(state: State, ex: Execution, a: dict[str, Any], cid: int, now: float, deferred: list[Any]) -> None:
    ex.add("MarkerRecorded", {**a, "decisionTaskCompletedEventId": cid}, now)


def _start_timer(state: State, ex: Execution, a: dict[str, Any], cid: int, now: float, deferred: list[Any]) -> None:
    cause = None
    if a["timerId"] in ex.timers:
        cause = "TIMER_ID_ALREADY_IN_USE"
    elif len(ex.timers) >= state.limits.max_open_timers:
        cause = "OPEN_TIMERS_LIMIT_EXCEEDED"
    if cause:
        ex.add("StartTimerFailed", {"timerId": a["timerId"], "cause": cause, "decisionTaskCompletedEventId": cid}, now)
        return
    sid = ex.add("TimerStarted", {**a, "decisionTaskCompletedEventId": cid}, now)
    ex.timers[a["timerId"]] = sid
    state.schedule(now + float(a["startToFireTimeout"]) * state.limits.timer_scale, "timer", ex, (a["timerId"], sid))


def _cancel_timer(state: State, ex: Execution, a: dict[str, Any], cid: int, now: float, deferred: list[Any]) -> None:
    started = ex.timers.pop(a["timerId"], None)
    if started is None:
        ex.add("CancelTimerFailed", {"timerId": a["timerId"], "cause": "TIMER_ID_UNKNOWN",
                                     "decisionTaskCompletedEventId": cid}, now)
        return
    ex.add("TimerCanceled", {"timerId": a["timerId"], "startedEventId": started,
                             "decisionTaskCompletedEventId": cid}, now)


def _start_child(state: State, ex: Execution, a: dict[str, Any], cid: int, now: float, deferred: list[Any]) -> None:
    req = {k: v for k, v in a.items() if k != "control"}
    cfg, cause = state.resolve_workflow_config(ex.domain, req)
    initiated = sum(1 for kind, _ in deferred if kind == "child")  # counted from initiation on
    if cause is None and len(ex.children) + initiated >= state.limits.max_open_children:
        cause = "OPEN_CHILDREN_LIMIT_EXCEEDED"
    if cause:
        failed = {"workflowType": a["workflowType"], "workflowId": a["workflowId"], "cause": cause,
                  "initiatedEventId": 0, "decisionTaskCompletedEventId": cid}
        if "control" in a:
            failed["control"] = a["control"]
        ex.add("StartChildWorkflowExecutionFailed", failed, now)
        return
    attrs = {k: v for k, v in cfg.items() if k != "domain" and v is not None}
    if "control" in a:
        attrs["control"] = a["control"]
    attrs["decisionTaskCompletedEventId"] = cid
    iid = ex.add("StartChildWorkflowExecutionInitiated", attrs, now)
    deferred.append(("child", (cfg, iid, a.get("control"), cid)))


def _deferred_child(state: State, ex: Execution, item: Any, now: float) -> None:
    cfg, iid, control, cid = item
    if (ex.domain, cfg["workflowId"]) in state.open_runs or cfg["workflowId"] in ex.children:
        failed = {"workflowType": cfg["workflowType"], "workflowId": cfg["workflowId"],
                  "cause": "WORKFLOW_ALREADY_RUNNING", "initiatedEventId": iid, "decisionTaskCompletedEventId": cid}
        if control is not None:
            failed["control"] = control
        ex.add("StartChildWorkflowExecutionFailed", failed, now)
        return
    child = Child(cfg["workflowId"], cfg["workflowType"], iid)
    ex.children[child.workflow_id] = child
    cex = state.start_execution(cfg, now, parent=ex, parent_initiated_id=iid)
    child.run_id = cex.run_id
    child.started_id = ex.add("ChildWorkflowExecutionStarted", {
        "workflowExecution": cex.ref, "workflowType": dict(cex.workflow_type), "initiatedEventId": iid}, now)


def _external(state: State, ex: Execution, a: dict[str, Any], cid: int, now: float, deferred: list[Any],
              kind: str) -> None:
    prefix = "SignalExternal" if kind == "signal" else "RequestCancelExternal"
    event = f"{prefix}WorkflowExecutionInitiated"
    iid = ex.add(event, {**a, "decisionTaskCompletedEventId": cid}, now)
    deferred.append((kind, (a, iid, cid)))


def _deferred_external(state: State, ex: Execution, item: Any, now: float, kind: str) -> None:
    a, iid, cid = item
    target = state.open_runs.get((ex.domain, a["workflowId"]))
    if target is None or (a.get("runId") and target.run_id != a["runId"]):
        failed = {"workflowId": a["workflowId"], "cause": "UNKNOWN_EXTERNAL_WORKFLOW_EXECUTION",
                  "initiatedEventId": iid, "decisionTaskCompletedEventId": cid}
        for name in ("runId", "control"):
            if name in a:
                failed[name] = a[name]
        prefix = "SignalExternal" if kind == "signal" else "RequestCancelExternal"
        ex.add(f"{prefix}WorkflowExecutionFailed", failed, now)
        return
    if kind == "signal":
        attrs = {"signalName": a["signalName"], "externalWorkflowExecution": ex.ref, "externalInitiatedEventId": iid}
        if "input" in a:
            attrs["input"] = a["input"]
        target.add("WorkflowExecutionSignaled", attrs, now)
        ex.add("ExternalWorkflowExecutionSignaled", {"workflowExecution": target.ref, "initiatedEventId": iid}, now)
    else:
        target.cancel_requested = True
        target.add("WorkflowExecutionCancelRequested",
                   {"externalWorkflowExecution": ex.ref, "externalInitiatedEventId": iid}, now)
        ex.add("ExternalWorkflowExecutionCancelRequested",
               {"workflowExecution": target.ref, "initiatedEventId": iid}, now)
    if target is not ex:
        state.settle(target, now)


_APPLY: dict[str, Any] = {
    "ScheduleActivityTask": _schedule_activity,
    "RequestCancelActivityTask": _cancel_activity,
    "RecordMarker": _marker,
    "StartTimer": _start_timer,
    "CancelTimer": _cancel_timer,
    "StartChildWorkflowExecution": _start_child,
    "SignalExternalWorkflowExecution": lambda s, ex, a, cid, now, dfr: _external(s, ex, a, cid, now, dfr, "signal"),
    "RequestCancelExternalWorkflowExecution":
        lambda s, ex, a, cid, now, dfr: _external(s, ex, a, cid, now, dfr, "cancel"),
    "ScheduleLambdaFunction": schedule_lambda,  # a stand-in task for a local worker (see _lambda)
}
_DEFERRED: dict[str, Any] = {
    "child": _deferred_child,
    "signal": lambda s, ex, item, now: _deferred_external(s, ex, item, now, "signal"),
    "cancel": lambda s, ex, item, now: _deferred_external(s, ex, item, now, "cancel"),
}
