"""The read-only SWF operations: describe, list, count, history paging."""

from __future__ import annotations

import base64
import json
from datetime import datetime
from typing import Any, Callable

from . import _tags
from ._closed import Summary
from ._execution import Execution, attr_key
from ._faults import SWFFault
from ._lambda import is_lambda
from ._state import State

__all__ = ["QUERIES", "decision_page", "decision_response"]


def _token(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode()).decode()


def _untoken(token: str) -> dict[str, Any]:
    try:
        data = json.loads(base64.urlsafe_b64decode(token.encode()))
    except ValueError as exc:
        raise SWFFault("ValidationException", "invalid nextPageToken") from exc
    if not isinstance(data, dict):
        raise SWFFault("ValidationException", "invalid nextPageToken")
    return data


def _page_size(state: State, p: dict[str, Any]) -> int:
    size = p.get("maximumPageSize") or state.limits.max_page_size
    return min(size, state.limits.max_page_size)


def _events_page(state: State, ex: Execution, end: int, p: dict[str, Any],
                 extra: dict[str, Any]) -> tuple[list[dict[str, Any]], str | None]:
    """A page of events 1..end (reverse-aware) and the token for the next one."""
    offset = int(_untoken(p["nextPageToken"]).get("o", 0)) if p.get("nextPageToken") else 0
    size = _page_size(state, p)
    events = ex.events
    if p.get("reverseOrder"):
        hi = end - offset
        chunk = events[max(0, hi - size):hi][::-1]
    else:
        chunk = events[offset:min(end, offset + size)]
    nxt = offset + len(chunk)
    # Copies (event and attributes), so a caller that edits a response cannot edit the history.
    out = []
    for e in chunk:
        copy = dict(e)
        key = attr_key(e["eventType"])
        copy[key] = dict(e[key])
        out.append(copy)
    token = _token({**extra, "o": nxt}) if nxt < end else None
    return out, token


def decision_response(state: State, ex: Execution, p: dict[str, Any], offset: int) -> dict[str, Any]:
    assert ex.d_token is not None
    events, token = _events_page(state, ex, ex.d_started_id, p, {"r": ex.run_id, "t": ex.d_token})
    out: dict[str, Any] = {
        "taskToken": ex.d_token, "startedEventId": ex.d_started_id, "workflowExecution": ex.ref,
        "workflowType": dict(ex.workflow_type), "events": events, "previousStartedEventId": ex.prev_started_id,
    }
    if token:
        out["nextPageToken"] = token
    return out


def decision_page(state: State, p: dict[str, Any]) -> dict[str, Any]:
    """A further page of a decision task's history (PollForDecisionTask with nextPageToken)."""
    data = _untoken(p["nextPageToken"])
    ex = state.runs.get(str(data.get("r")))
    if ex is None or ex.d_token != data.get("t") or ex.decision != "started":
        raise SWFFault("UnknownResourceFault", "the decision task of this page token is closed")
    return decision_response(state, ex, p, 0)


def _history(state: State, p: dict[str, Any], now: float) -> dict[str, Any]:
    state.registry.domain(p["domain"])
    ex = state.find_run(p["domain"], p["execution"])
    if p.get("nextPageToken") and _untoken(p["nextPageToken"]).get("r") != ex.run_id:
        raise SWFFault("ValidationException", "nextPageToken belongs to another execution")
    events, token = _events_page(state, ex, len(ex.events), p, {"r": ex.run_id})
    out: dict[str, Any] = {"events": events}
    if token:
        out["nextPageToken"] = token
    return out


def _describe_execution(state: State, p: dict[str, Any], now: float) -> dict[str, Any]:
    state.registry.domain(p["domain"])
    ex = state.find_run(p["domain"], p["execution"])
    cfg: dict[str, Any] = {"taskStartToCloseTimeout": ex.task_timeout, "executionStartToCloseTimeout": ex.exec_timeout,
                           "taskList": {"name": ex.task_list}, "childPolicy": ex.child_policy}
    if ex.priority is not None:
        cfg["taskPriority"] = ex.priority
    if ex.lambda_role is not None:
        cfg["lambdaRole"] = ex.lambda_role
    lambdas = sum(1 for act in ex.activities.values() if is_lambda(act))  # stand-ins of Lambda functions
    out: dict[str, Any] = {
        "executionInfo": ex.info(), "executionConfiguration": cfg,
        "openCounts": {"openActivityTasks": len(ex.activities) - lambdas,
                       "openDecisionTasks": int(ex.decision is not None),
                       "openTimers": len(ex.timers), "openChildWorkflowExecutions": len(ex.children),
                       "openLambdaFunctions": lambdas},
    }
    if ex.latest_activity_ts is not None:
        from ._model import to_datetime

        out["latestActivityTaskTimestamp"] = to_datetime(ex.latest_activity_ts)
    if ex.latest_context is not None:
        out["latestExecutionContext"] = ex.latest_context
    return out


def _ts(value: Any) -> float:
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, (int, float)):
        return float(value)
    from botocore.utils import parse_timestamp  # heavy, and boto3's clients send datetimes

    return float(parse_timestamp(value).timestamp())


def _in_range(ts: float | None, flt: dict[str, Any]) -> bool:
    if ts is None or ts < _ts(flt["oldestDate"]):
        return False
    return "latestDate" not in flt or ts <= _ts(flt["latestDate"])


def _candidates(state: State, domain: str, closed: bool) -> list[Execution | Summary]:
    """The runs of a domain to filter: in memory, and (closed) those kept in the database."""
    found: list[Execution | Summary] = [ex for ex in state.runs.values() if ex.domain == domain and ex.open != closed]
    if closed:
        found.extend(s for s in state.closed.summaries(domain) if s.run_id not in state.runs
                     and s.run_id not in state.purged)
    return found


def _matching(state: State, p: dict[str, Any], closed: bool) -> list[Execution | Summary]:
    state.registry.domain(p["domain"])
    exclusive = [k for k in ("executionFilter", "typeFilter", "tagFilter", "closeStatusFilter") if k in p]
    if len(exclusive) > 1:
        raise SWFFault("ValidationException", f"{' and '.join(exclusive)} are mutually exclusive")
    times = [k for k in ("startTimeFilter", "closeTimeFilter") if k in p]
    if len(times) != 1:
        raise SWFFault("ValidationException", "give exactly one of startTimeFilter and closeTimeFilter")
    out = []
    for ex in _candidates(state, p["domain"], closed):
        if "startTimeFilter" in p and not _in_range(ex.start_ts, p["startTimeFilter"]):
            continue
        if "closeTimeFilter" in p and not _in_range(ex.close_ts, p["closeTimeFilter"]):
            continue
        if "executionFilter" in p and ex.workflow_id != p["executionFilter"]["workflowId"]:
            continue
        tf = p.get("typeFilter")
        if tf and (ex.workflow_type["name"] != tf["name"]
                   or ("version" in tf and ex.workflow_type["version"] != tf["version"])):
            continue
        if "tagFilter" in p and p["tagFilter"]["tag"] not in ex.tags:
            continue
        if "closeStatusFilter" in p and ex.close_status != p["closeStatusFilter"]["status"]:
            continue
        out.append(ex)
    by_close = "closeTimeFilter" in p
    out.sort(key=lambda e: (e.close_ts or 0.0) if by_close else e.start_ts, reverse=not p.get("reverseOrder"))
    return out


def _lister(closed: bool) -> Callable[[State, dict[str, Any], float], dict[str, Any]]:
    def run(state: State, p: dict[str, Any], now: float) -> dict[str, Any]:
        found = _matching(state, p, closed)
        offset = int(_untoken(p["nextPageToken"]).get("o", 0)) if p.get("nextPageToken") else 0
        size = _page_size(state, p)
        out: dict[str, Any] = {"executionInfos": [ex.info() for ex in found[offset:offset + size]]}
        if offset + size < len(found):
            out["nextPageToken"] = _token({"o": offset + size})
        return out

    return run


def _counter(closed: bool) -> Callable[[State, dict[str, Any], float], dict[str, Any]]:
    return lambda state, p, now: {"count": len(_matching(state, p, closed)), "truncated": False}


def _pending(kind: str) -> Callable[[State, dict[str, Any], float], dict[str, Any]]:
    def run(state: State, p: dict[str, Any], now: float) -> dict[str, Any]:
        state.registry.domain(p["domain"])
        key = (p["domain"], p["taskList"]["name"])
        if kind == "activity":
            n = sum(1 for a in state.activity_queues.get(key, ()) if not a.closed and not a.started_id)
        else:
            n = sum(1 for e in state.decision_queues.get(key, ()) if e.open and e.decision == "scheduled")
        return {"count": n, "truncated": False}

    return run


QUERIES: dict[str, Callable[[State, dict[str, Any], float], dict[str, Any]]] = {
    "DescribeDomain": lambda s, p, now: s.registry.describe_domain(p),
    "ListDomains": lambda s, p, now: s.registry.list_domains(p),
    "DescribeWorkflowType": lambda s, p, now: s.registry.describe_type("workflow", p),
    "DescribeActivityType": lambda s, p, now: s.registry.describe_type("activity", p),
    "ListWorkflowTypes": lambda s, p, now: s.registry.list_types("workflow", p),
    "ListActivityTypes": lambda s, p, now: s.registry.list_types("activity", p),
    "DescribeWorkflowExecution": _describe_execution,
    "GetWorkflowExecutionHistory": _history,
    "ListOpenWorkflowExecutions": _lister(closed=False),
    "ListClosedWorkflowExecutions": _lister(closed=True),
    "CountOpenWorkflowExecutions": _counter(closed=False),
    "CountClosedWorkflowExecutions": _counter(closed=True),
    "CountPendingActivityTasks": _pending("activity"),
    "CountPendingDecisionTasks": _pending("decision"),
    "ListTagsForResource": lambda s, p, now: _tags.list_tags(s.registry, p),
}
