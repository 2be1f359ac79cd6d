"""The mutating SWF operations on a State (each validates fully before changing anything)."""

from __future__ import annotations

from typing import Any, Callable

from . import _queries, _tags
from ._decisions import complete_decision_task, validate_decisions
from ._execution import Activity, Execution
from ._faults import SWFFault
from ._lambda import is_lambda, lambda_event
from ._state import State, seconds

__all__ = ["MUTATIONS", "apply", "is_logged"]

Handler = Callable[[State, dict[str, Any], float], dict[str, Any]]


def _type_text(t: dict[str, str]) -> str:
    return f"WorkflowType=[name={t['name']}, version={t['version']}]"


def _start(state: State, p: dict[str, Any], now: float) -> dict[str, Any]:
    state.registry.domain(p["domain"], registered=True)
    rec = state.registry.get_type("workflow", p["domain"], p["workflowType"])
    if rec is None:
        raise SWFFault("UnknownResourceFault", f"Unknown type: {_type_text(p['workflowType'])}")
    if rec["status"] != "REGISTERED":
        raise SWFFault("TypeDeprecatedFault", f"Type is deprecated: {_type_text(p['workflowType'])}")
    if (p["domain"], p["workflowId"]) in state.open_runs:
        raise SWFFault("WorkflowExecutionAlreadyStartedFault",
                       f"Workflow execution already started: WorkflowExecution=[workflowId={p['workflowId']}]")
    cfg, cause = state.resolve_workflow_config(p["domain"], p)
    if cause:
        raise SWFFault("DefaultUndefinedFault", cause)
    ex = state.start_execution(cfg, now)
    return {"runId": ex.run_id}


def _signal(state: State, p: dict[str, Any], now: float) -> dict[str, Any]:
    ex = state.open_run(p["domain"], p["workflowId"], p.get("runId"))
    # As recorded on real SWF histories: a signal no workflow sent carries externalInitiatedEventId 0
    # (the documentation describes the member only for a signal from another workflow).
    attrs: dict[str, Any] = {"signalName": p["signalName"], "externalInitiatedEventId": 0}
    if "input" in p:
        attrs["input"] = p["input"]
    ex.add("WorkflowExecutionSignaled", attrs, now)
    state.settle(ex, now)
    return {}


def _request_cancel(state: State, p: dict[str, Any], now: float) -> dict[str, Any]:
    ex = state.open_run(p["domain"], p["workflowId"], p.get("runId"))
    ex.cancel_requested = True
    # As recorded on real SWF histories: externalInitiatedEventId 0 when no workflow asked.
    ex.add("WorkflowExecutionCancelRequested", {"externalInitiatedEventId": 0}, now)
    state.settle(ex, now)
    return {}


def _terminate(state: State, p: dict[str, Any], now: float) -> dict[str, Any]:
    ex = state.open_run(p["domain"], p["workflowId"], p.get("runId"))
    policy = p.get("childPolicy") or ex.child_policy
    attrs: dict[str, Any] = {k: p[k] for k in ("reason", "details") if k in p}
    attrs["childPolicy"] = policy
    attrs["cause"] = "OPERATOR_INITIATED"  # SWF's cause for TerminateWorkflowExecution (children: CHILD_POLICY_APPLIED)
    ex.add("WorkflowExecutionTerminated", attrs, now)
    state.close(ex, "TERMINATED", now, child_policy=policy)
    return {}


def _poll_decision(state: State, p: dict[str, Any], now: float) -> dict[str, Any]:
    if p.get("nextPageToken"):
        return _queries.decision_page(state, p)
    state.registry.domain(p["domain"])
    key = (p["domain"], p["taskList"]["name"])
    queue = state.decision_queues.get(key)
    ex = queue.pop(lambda e: e.open and e.decision == "scheduled" and e.decision_task_list == key[1]) if queue else None
    if ex is None:
        return {"startedEventId": 0, "previousStartedEventId": 0, "events": []}
    attrs = {"scheduledEventId": ex.d_scheduled_id}
    if "identity" in p:
        attrs["identity"] = p["identity"]
    ex.d_started_id = ex.add("DecisionTaskStarted", attrs, now)
    ex.decision = "started"
    ex.unhandled = False
    ex.d_token = state.new_token()
    state.tokens[ex.d_token] = ex
    limit = seconds(ex.task_timeout)
    if limit is not None:
        state.schedule(now + limit, "decision", ex, ex.d_started_id)
    return _queries.decision_response(state, ex, p, 0)


def _poll_activity(state: State, p: dict[str, Any], now: float) -> dict[str, Any]:
    state.registry.domain(p["domain"])
    queue = state.activity_queues.get((p["domain"], p["taskList"]["name"]))
    act = queue.pop(lambda a: not a.closed and not a.started_id) if queue else None
    if act is None:
        return {}
    ex = act.ex
    attrs = {"scheduledEventId": act.scheduled_id}
    if "identity" in p:
        attrs["identity"] = p["identity"]
    if is_lambda(act):  # a Lambda function's stand-in: its own event (see _lambda)
        act.started_id = ex.add(*lambda_event("ActivityTaskStarted", attrs), now)
    else:
        act.started_id = ex.add("ActivityTaskStarted", attrs, now)
    act.last_beat = now
    act.token = state.new_token()
    state.tokens[act.token] = act
    ex.latest_activity_ts = now
    for kind, value in (("START_TO_CLOSE", act.start_to_close), ("HEARTBEAT", act.heartbeat)):
        limit = seconds(value)
        if limit is not None:
            state.schedule(now + limit, kind, act, act.started_id)
    out = {"taskToken": act.token, "activityId": act.activity_id, "startedEventId": act.started_id,
           "workflowExecution": ex.ref, "activityType": dict(act.activity_type)}
    if act.input is not None:
        out["input"] = act.input
    state.check_event_limit(ex, now)
    return out


def _activity(state: State, token: str) -> Activity:
    act = state.tokens.get(token)
    if not isinstance(act, Activity) or act.closed:
        raise SWFFault("UnknownResourceFault", "Unknown activity task token (closed, timed out or never issued)")
    return act


def _activity_closer(event_type: str, fields: tuple[str, ...]) -> Handler:
    def respond(state: State, p: dict[str, Any], now: float) -> dict[str, Any]:
        act = _activity(state, p["taskToken"])
        attrs = {k: p[k] for k in fields if k in p}
        attrs["scheduledEventId"] = act.scheduled_id
        attrs["startedEventId"] = act.started_id
        if event_type == "ActivityTaskCanceled":
            reqs = [e["eventId"] for e in act.ex.events if e["eventType"] == "ActivityTaskCancelRequested"
                    and e["activityTaskCancelRequestedEventAttributes"]["activityId"] == act.activity_id]
            if reqs:
                attrs["latestCancelRequestedEventId"] = reqs[-1]
        state.close_activity(act, event_type, attrs, now)
        return {}

    return respond


def _heartbeat(state: State, p: dict[str, Any], now: float) -> dict[str, Any]:
    act = _activity(state, p["taskToken"])
    act.last_beat = now
    if "details" in p:
        act.details = p["details"]
    return {"cancelRequested": act.cancel_requested}


def _respond_decision(state: State, p: dict[str, Any], now: float) -> dict[str, Any]:
    ex = state.tokens.get(p["taskToken"])
    if not isinstance(ex, Execution) or not ex.open or ex.decision != "started" or ex.d_token != p["taskToken"]:
        raise SWFFault("UnknownResourceFault", "Unknown decision task token (closed, timed out or never issued)")
    validate_decisions(p.get("decisions") or [])
    complete_decision_task(state, ex, p, now)
    return {}


def _advance(state: State, p: dict[str, Any], now: float) -> dict[str, Any]:
    state.advance(now)
    return {}


def _fail_lost(state: State, p: dict[str, Any], now: float) -> dict[str, Any]:
    """Internal: fail the started tasks of a domain's open runs, whose process is gone (embedded engine at open).

    An embedded state is held by one process at a time and only that process works it, so
    whatever was started before this holder opened it was started by a process that is gone.
    """
    lost = 0
    for ex in list(state.open_runs.values()):
        if ex.domain != p["domain"] or not ex.open:
            continue
        if ex.decision == "started":  # the dead process's decider: decided again at once, not after its timeout
            ex.add("DecisionTaskTimedOut", {"timeoutType": "START_TO_CLOSE", "scheduledEventId": ex.d_scheduled_id,
                                            "startedEventId": ex.d_started_id}, now)
            state.tokens.pop(ex.d_token or "", None)
            ex.decision, ex.d_token = None, None
            ex.unhandled = True
            state.settle(ex, now)
        for act in list(ex.activities.values()):
            if act.started_id and not act.closed:
                state.close_activity(act, "ActivityTaskFailed", {
                    "scheduledEventId": act.scheduled_id, "startedEventId": act.started_id,
                    "reason": p["reason"], "details": p["details"]}, now)
                lost += 1
    return {"lost": lost}


def _close_canceled(state: State, p: dict[str, Any], now: float) -> dict[str, Any]:
    """Internal: close an open run that nothing decides as CANCELED, its open tasks with it."""
    ex = state.open_run(p["domain"], p["workflowId"], p.get("runId"))
    for act in sorted(ex.activities.values(), key=lambda a: a.scheduled_id):
        act.closed = True
        if act.token is not None:
            state.tokens.pop(act.token, None)
        if not is_lambda(act):  # SWF cancels no Lambda function: it is left to end unrecorded
            ex.add("ActivityTaskCanceled", {"scheduledEventId": act.scheduled_id, "startedEventId": act.started_id,
                                            "details": p["details"]}, now)
    ex.activities.clear()
    completed = [e["eventId"] for e in ex.events if e["eventType"] == "DecisionTaskCompleted"]
    ex.add("WorkflowExecutionCanceled", {"details": p["details"],
                                         "decisionTaskCompletedEventId": completed[-1] if completed else 0}, now)
    state.close(ex, "CANCELED", now)
    return {}


def _reg(kind: str) -> Handler:
    return lambda s, p, now: s.registry.register_type(kind, p, now)


def _status(kind: str, status: str) -> Handler:
    return lambda s, p, now: s.registry.set_type_status(kind, p, status, now)


def _delete(kind: str) -> Handler:
    return lambda s, p, now: s.registry.delete_type(kind, p)


MUTATIONS: dict[str, Handler] = {
    "RegisterDomain": lambda s, p, now: s.registry.register_domain(p, now),
    "DeprecateDomain": lambda s, p, now: s.registry.set_domain_status(p, "DEPRECATED"),
    "UndeprecateDomain": lambda s, p, now: s.registry.set_domain_status(p, "REGISTERED"),
    "RegisterWorkflowType": _reg("workflow"),
    "RegisterActivityType": _reg("activity"),
    "DeprecateWorkflowType": _status("workflow", "DEPRECATED"),
    "DeprecateActivityType": _status("activity", "DEPRECATED"),
    "UndeprecateWorkflowType": _status("workflow", "REGISTERED"),
    "UndeprecateActivityType": _status("activity", "REGISTERED"),
    "DeleteWorkflowType": _delete("workflow"),
    "DeleteActivityType": _delete("activity"),
    "StartWorkflowExecution": _start,
    "SignalWorkflowExecution": _signal,
    "RequestCancelWorkflowExecution": _request_cancel,
    "TerminateWorkflowExecution": _terminate,
    "PollForDecisionTask": _poll_decision,
    "PollForActivityTask": _poll_activity,
    "RespondDecisionTaskCompleted": _respond_decision,
    "RespondActivityTaskCompleted": _activity_closer("ActivityTaskCompleted", ("result",)),
    "RespondActivityTaskFailed": _activity_closer("ActivityTaskFailed", ("reason", "details")),
    "RespondActivityTaskCanceled": _activity_closer("ActivityTaskCanceled", ("details",)),
    "RecordActivityTaskHeartbeat": _heartbeat,
    "TagResource": lambda s, p, now: _tags.tag(s.registry, p),
    "UntagResource": lambda s, p, now: _tags.untag(s.registry, p),
    "_Advance": _advance,
    "_FailLost": _fail_lost,  # internal: not in SWF's model, reached only through `pipeflow._adopt`
    "_CloseCanceled": _close_canceled,
}


def is_logged(op: str, params: dict[str, Any], response: dict[str, Any]) -> bool:
    """Whether an accepted call changed state (and so goes to the durable log)."""
    if op.startswith("PollFor"):
        return "taskToken" in response and not params.get("nextPageToken")
    return op in MUTATIONS


def may_change(op: str) -> bool:
    """Whether a call may change state (a mutation, a poll, or one of the engine's own operations)."""
    return op in MUTATIONS or op.startswith("PollFor")


def apply(state: State, op: str, p: dict[str, Any], now: float) -> dict[str, Any]:
    """Run one operation on validated params; the State is untouched if it raises."""
    state.woken = []
    handler = MUTATIONS.get(op)
    if handler is not None:
        return handler(state, p, now)
    query = _queries.QUERIES.get(op)
    if query is None:
        raise SWFFault("UnknownOperationException", f"{op} is not supported")
    return query(state, p, now)
