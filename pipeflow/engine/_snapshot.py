"""Snapshots: the whole State as JSON, so a restart loads it instead of replaying the full log."""

from __future__ import annotations

from typing import Any

from ._execution import Activity, Child, Execution, attr_key
from ._model import Limits, to_datetime
from ._state import State
from ._tasklist import TaskQueue

__all__ = ["dump", "load"]

_EX_FIELDS = ("task_list", "priority", "child_policy", "exec_timeout", "task_timeout", "tags", "lambda_role",
              "start_ts", "close_ts", "open", "close_status", "cancel_requested", "parent_initiated_id",
              "timers", "decision", "decision_task_list", "d_scheduled_id", "d_started_id", "d_token",
              "prev_started_id", "unhandled", "latest_context", "latest_activity_ts", "workflow_type")
_ACT_FIELDS = ("activity_type", "input", "task_list", "schedule_to_start", "schedule_to_close", "start_to_close",
               "heartbeat", "started_id", "token", "last_beat", "details", "cancel_requested")


def _ref(target: Any) -> list[str]:
    if isinstance(target, Activity):
        return ["act", target.ex.run_id, target.activity_id]
    return ["run", target.run_id]


def _live(state: State, kind: str, target: Any) -> bool:
    if isinstance(target, Activity):
        return not target.closed
    if kind == "purge":
        return target.run_id in state.runs
    return bool(target.open)


def dump(state: State) -> dict[str, Any]:
    """A JSON-able image of ``state`` (stale timeouts and queue entries dropped)."""
    runs = []
    for ex in state.runs.values():
        events = [{**e, "eventTimestamp": e["eventTimestamp"].timestamp()} for e in ex.events]
        runs.append({
            "domain": ex.domain, "workflow_id": ex.workflow_id, "run_id": ex.run_id, "events": events,
            "parent": ex.parent.run_id if ex.parent and ex.parent.run_id in state.runs else None,
            **{name: getattr(ex, name) for name in _EX_FIELDS},
            "activities": [{"activity_id": a.activity_id, "scheduled_id": a.scheduled_id,
                            **{n: getattr(a, n) for n in _ACT_FIELDS}} for a in ex.activities.values()],
            "children": [[c.workflow_id, c.workflow_type, c.initiated_id, c.started_id, c.run_id]
                         for c in ex.children.values()],
        })
    return {
        "salt": state.salt, "counter": state.counter, "heap_seq": state.heap_seq,
        "domains": state.registry.domains,
        "types": [[list(key), rec] for key, rec in state.registry.types.items()],
        "runs": runs,
        "heap": [[at, seq, kind, _ref(target), key] for at, seq, kind, target, key in state.heap
                 if _live(state, kind, target)],
        "activity_queues": [[list(k), [[a.ex.run_id, a.activity_id] for a in q if not a.closed and not a.started_id]]
                            for k, q in state.activity_queues.items()],
        "decision_queues": [[list(k), [e.run_id for e in q if e.open and e.decision == "scheduled"]]
                            for k, q in state.decision_queues.items()],
    }


def load(data: dict[str, Any], limits: Limits) -> State:
    """The State a dump() was taken from."""
    state = State(data["salt"], limits)
    state.counter, state.heap_seq = data["counter"], data["heap_seq"]
    state.registry.domains = data["domains"]
    state.registry.types = {(k[0], k[1], k[2], k[3]): rec for k, rec in data["types"]}
    parents: list[tuple[Execution, str]] = []
    for r in data["runs"]:
        cfg = {"workflowType": r["workflow_type"], "taskList": {"name": r["task_list"]},
               "childPolicy": r["child_policy"], "executionStartToCloseTimeout": r["exec_timeout"],
               "taskStartToCloseTimeout": r["task_timeout"]}
        ex = Execution(r["domain"], r["workflow_id"], r["run_id"], cfg, r["start_ts"])
        for name in _EX_FIELDS:
            setattr(ex, name, r[name])
        ex.events = [{**e, "eventTimestamp": to_datetime(e["eventTimestamp"])} for e in r["events"]]
        for a in r["activities"]:
            attrs = {"activityId": a["activity_id"], "activityType": a["activity_type"],
                     "taskList": {"name": a["task_list"]}, "scheduleToStartTimeout": a["schedule_to_start"],
                     "scheduleToCloseTimeout": a["schedule_to_close"], "startToCloseTimeout": a["start_to_close"],
                     "heartbeatTimeout": a["heartbeat"]}
            act = Activity(ex, attrs, a["scheduled_id"])
            for name in _ACT_FIELDS:
                setattr(act, name, a[name])
            ex.activities[act.activity_id] = act
            if act.token is not None:
                state.tokens[act.token] = act
        for wid, wtype, initiated, started, run_id in r["children"]:
            child = Child(wid, wtype, initiated)
            child.started_id, child.run_id = started, run_id
            ex.children[wid] = child
        if r["parent"]:
            parents.append((ex, r["parent"]))
        if ex.d_token is not None:
            state.tokens[ex.d_token] = ex
        state.runs[ex.run_id] = ex
        if ex.open:
            state.open_runs[(ex.domain, ex.workflow_id)] = ex
    for ex, parent_id in parents:
        ex.parent = state.runs[parent_id]
    for at, seq, kind, ref, key in data["heap"]:
        ex = state.runs[ref[1]]
        target: Any = ex.activities[ref[2]] if ref[0] == "act" else ex
        state.heap.append((at, seq, kind, target, tuple(key) if kind == "timer" else key))
    state.heap.sort(key=lambda entry: (entry[0], entry[1]))  # a sorted list is a valid heap
    for key, refs in data["activity_queues"]:
        aq: TaskQueue[Activity] = state.activity_queues.setdefault((key[0], key[1]), TaskQueue())
        for run_id, activity_id in refs:
            act = state.runs[run_id].activities[activity_id]
            aq.push(act, _priority(act))
    for key, run_ids in data["decision_queues"]:
        dq: TaskQueue[Execution] = state.decision_queues.setdefault((key[0], key[1]), TaskQueue())
        for run_id in run_ids:
            dq.push(state.runs[run_id], state.runs[run_id].priority)
    return state


def _priority(act: Activity) -> str | None:
    scheduled = act.ex.events[act.scheduled_id - 1]
    return scheduled[attr_key("ActivityTaskScheduled")].get("taskPriority")  # type: ignore[no-any-return]
