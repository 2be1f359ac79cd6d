"""`pipeflow fleet-metrics`: what a fleet of deciders and workers has to do, per task list, from SWF's own signals.

Per task list: the pending activity and decision tasks (CountPendingActivityTasks and
CountPendingDecisionTasks, exact up to SWF's cap, then `truncated`), the open executions whose
decision tasks go to that list, and the age of the oldest pending task. SWF has no call for
that age: it is derived from the newest events of the open executions' histories (a task
scheduled and not yet started, or closed, is pending since its scheduling event), read with a
bounded cost:

- one ListOpenWorkflowExecutions page of the `max_executions` newest open executions (and
  CountOpenWorkflowExecutions for the total when there are more);
- one GetWorkflowExecutionHistory call per execution read, newest `max_events` events first;
- without `task_lists`, the registered workflow and activity types are listed and described
  once each, for their default task lists;
- two counts per task list.

The age is a lower bound when executions or events were left unread (`complete` is then false).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass
from typing import Any

from ._reader import iso_utc
from ._tables import format_duration, table

__all__ = ["MAX_EVENTS", "MAX_EXECUTIONS", "TaskListMetrics", "fleet_metrics", "render_fleet"]

MAX_EXECUTIONS = 100  # open executions whose histories are read (the newest first, SWF's order)
MAX_EVENTS = 1000  # newest events read per history: one page, SWF's largest
_EPOCH = 0  # startTimeFilter's oldestDate: every open execution
_SCHEDULED = {"ActivityTaskScheduled": "activity", "DecisionTaskScheduled": "decision"}


@dataclass
class TaskListMetrics:
    """The figures of one task list."""

    task_list: str
    pending_activity_tasks: int = 0
    pending_decision_tasks: int = 0
    pending_truncated: bool = False  # SWF's counts stop at a cap and say so
    open_executions: int = 0  # among the executions read, those deciding on this list
    oldest_pending_seconds: float | None = None  # among the pending tasks seen in the histories read


def fleet_metrics(
    swf: Any, domain: str, task_lists: list[str] | None = None, *, max_executions: int = MAX_EXECUTIONS,
    max_events: int = MAX_EVENTS, now: float | None = None,
) -> dict[str, Any]:
    """The fleet's figures for `domain` as one JSON-ready document (see the module's docstring for the cost).

    `task_lists`: exactly these; by default the default task lists of the registered types, and
    the lists the open executions read decide on or have pending tasks on.
    """
    now = time.time() if now is None else now
    executions, total, listed_all = _open_executions(swf, domain, max_executions)
    deciding, ages, whole = _read_executions(swf, domain, executions, max_events, now)
    names = set(task_lists) if task_lists is not None else {*_default_lists(swf, domain), *deciding, *ages}
    lists = [_count_pending(swf, domain, TaskListMetrics(
        name, open_executions=deciding.get(name, 0),
        oldest_pending_seconds=round(max(ages[name]), 3) if name in ages else None,
    )) for name in sorted(names)]
    return {
        "domain": domain,
        "time": iso_utc(now),
        "open_executions": total,
        "executions_read": len(executions),
        "complete": listed_all and whole,
        "task_lists": [asdict(m) for m in lists],
    }


def _read_executions(swf: Any, domain: str, executions: list[dict[str, Any]], max_events: int, now: float,
                     ) -> tuple[dict[str, int], dict[str, list[float]], bool]:
    """Per task list, the executions read deciding on it and how long each pending task seen has waited;
    whether every history was read whole."""
    deciding: dict[str, int] = {}
    ages: dict[str, list[float]] = {}
    whole = True
    type_lists: dict[tuple[str, str], str | None] = {}
    for info in executions:
        decision_list, pending, read_all = _read_history(swf, domain, info, max_events)
        whole &= read_all
        if decision_list is None:  # its history's newest events did not say: its type's default list
            wtype = (info["workflowType"]["name"], info["workflowType"]["version"])
            if wtype not in type_lists:
                type_lists[wtype] = _default_list(swf, domain, "workflow", {"name": wtype[0], "version": wtype[1]})
            decision_list = type_lists[wtype]
        if decision_list is not None:
            deciding[decision_list] = deciding.get(decision_list, 0) + 1
        for name, scheduled in pending:
            ages.setdefault(name, []).append(max(0.0, now - scheduled))
    return deciding, ages, whole


def _open_executions(swf: Any, domain: str, limit: int) -> tuple[list[dict[str, Any]], int, bool]:
    """The `limit` newest open executions, the number open in all, and whether the page held them all."""
    # SWF's own order; not reverseOrder, which moto cannot serve (its reversed list is not sliceable)
    page = swf.list_open_workflow_executions(
        domain=domain, startTimeFilter={"oldestDate": _EPOCH}, maximumPageSize=limit,
    )
    infos: list[dict[str, Any]] = page.get("executionInfos", [])[:limit]
    if not page.get("nextPageToken"):
        return infos, len(infos), True
    counted = swf.count_open_workflow_executions(domain=domain, startTimeFilter={"oldestDate": _EPOCH})
    return infos, int(counted["count"]), False


def _read_history(swf: Any, domain: str, info: dict[str, Any], max_events: int,
                  ) -> tuple[str | None, list[tuple[str, float]], bool]:
    """(its decision task list, its pending tasks as (task list, scheduled at), whether every event was read)."""
    page = swf.get_workflow_execution_history(
        domain=domain, execution=info["execution"], reverseOrder=True, maximumPageSize=max_events,
    )
    events: list[dict[str, Any]] = page.get("events", [])[:max_events]
    answered: set[int] = set()  # scheduling events a later event started, completed, timed out or canceled
    decision_list: str | None = None
    for event in events:
        attributes = _attributes(event)
        if isinstance(attributes.get("scheduledEventId"), int):
            answered.add(attributes["scheduledEventId"])
        if decision_list is None and event["eventType"] in ("DecisionTaskScheduled", "WorkflowExecutionStarted"):
            decision_list = _list_name(attributes)
    pending = [
        (name, _epoch(event["eventTimestamp"]))
        for event in events
        if event["eventType"] in _SCHEDULED and event["eventId"] not in answered
        and (name := _list_name(_attributes(event))) is not None
    ]
    return decision_list, pending, not page.get("nextPageToken")


def _attributes(event: dict[str, Any]) -> dict[str, Any]:
    return next((v for k, v in event.items() if k.endswith("EventAttributes") and isinstance(v, dict)), {})


def _list_name(attributes: dict[str, Any]) -> str | None:
    name = (attributes.get("taskList") or {}).get("name")
    return name if isinstance(name, str) else None


def _epoch(value: Any) -> float:
    """An event's timestamp (a datetime from boto3, or epoch seconds) as epoch seconds."""
    return value.timestamp() if hasattr(value, "timestamp") else float(value)


def _types(swf: Any, domain: str, kind: str) -> list[dict[str, Any]]:
    """The registered workflow or activity types of the domain, every page."""
    call = swf.list_workflow_types if kind == "workflow" else swf.list_activity_types
    found: list[dict[str, Any]] = []
    token = None
    while True:
        page = call(domain=domain, registrationStatus="REGISTERED", **({"nextPageToken": token} if token else {}))
        found.extend(info[f"{kind}Type"] for info in page.get("typeInfos", []))
        token = page.get("nextPageToken")
        if not token:
            return found


def _default_list(swf: Any, domain: str, kind: str, type_: dict[str, str]) -> str | None:
    if kind == "workflow":
        answer = swf.describe_workflow_type(domain=domain, workflowType=type_)
    else:
        answer = swf.describe_activity_type(domain=domain, activityType=type_)
    return _list_name({"taskList": answer.get("configuration", {}).get("defaultTaskList")})


def _default_lists(swf: Any, domain: str) -> list[str]:
    """The default task lists of the registered workflow and activity types."""
    names = {_default_list(swf, domain, kind, t) for kind in ("workflow", "activity") for t in _types(swf, domain, kind)}
    return sorted(name for name in names if name is not None)


def _count_pending(swf: Any, domain: str, metrics: TaskListMetrics) -> TaskListMetrics:
    task_list = {"name": metrics.task_list}
    activities = swf.count_pending_activity_tasks(domain=domain, taskList=task_list)
    decisions = swf.count_pending_decision_tasks(domain=domain, taskList=task_list)
    metrics.pending_activity_tasks = int(activities["count"])
    metrics.pending_decision_tasks = int(decisions["count"])
    metrics.pending_truncated = bool(activities.get("truncated") or decisions.get("truncated"))
    return metrics


def render_fleet(doc: dict[str, Any]) -> str:
    """The document of `fleet_metrics` as a text table, under a line of totals."""
    more = "" if doc["complete"] else " (ages and per-list runs: a lower bound, not every history was read)"
    head = (f"domain {doc['domain']} at {doc['time']}: {doc['open_executions']} open execution(s), "
            f"{doc['executions_read']} read{more}")
    if not doc["task_lists"]:
        return head + "\nno task lists: no registered types and no open executions"
    rows = [[m["task_list"], f"{m['pending_activity_tasks']}{'+' if m['pending_truncated'] else ''}",
             f"{m['pending_decision_tasks']}{'+' if m['pending_truncated'] else ''}", str(m["open_executions"]),
             format_duration(m["oldest_pending_seconds"])] for m in doc["task_lists"]]
    headers = ["TASK LIST", "PENDING ACTIVITIES", "PENDING DECISIONS", "OPEN RUNS", "OLDEST PENDING"]
    return head + "\n" + table(rows, headers, right=frozenset({1, 2, 3, 4}))
