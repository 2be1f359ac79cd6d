"""One execution as a JSON-able record (in a snapshot, or a closed run's row) and back."""

from __future__ import annotations

import json
from typing import Any

import msgpack

from ._execution import Activity, Child, ClosedRef, Execution
from ._model import to_datetime

__all__ = ["ACT_FIELDS", "EX_FIELDS", "decode_record", "encode_record", "execution_of", "head_of", "record_of"]

EX_FIELDS = ("task_list", "priority", "child_policy", "exec_timeout", "task_timeout", "tags", "lambda_role",
             "start_ts", "close_ts", "open", "close_status", "cancel_requested", "parent_initiated_id",
             "timers", "decision", "decision_task_list", "d_scheduled_id", "d_started_id", "d_token",
             "prev_started_id", "unhandled", "latest_context", "latest_activity_ts", "workflow_type")
ACT_FIELDS = ("activity_type", "input", "task_list", "schedule_to_start", "schedule_to_close", "start_to_close",
              "heartbeat", "started_id", "token", "last_beat", "details", "cancel_requested")


def record_of(ex: Execution, parent: ClosedRef | Execution | None) -> dict[str, Any]:
    """``ex`` as JSON-able data; `parent`: the parent link to keep (None: none, or forgotten)."""
    events = [{**e, "eventTimestamp": e["eventTimestamp"].timestamp()} for e in ex.events]
    return {
        "domain": ex.domain, "workflow_id": ex.workflow_id, "run_id": ex.run_id, "events": events,
        "parent": parent.run_id if parent is not None else None,
        "parent_wf": parent.workflow_id if parent is not None else None,
        **{name: getattr(ex, name) for name in EX_FIELDS},
        "activities": [{"activity_id": a.activity_id, "scheduled_id": a.scheduled_id,
                        **{n: getattr(a, n) for n in ACT_FIELDS}} for a in ex.activities.values()],
        "children": [[c.workflow_id, c.workflow_type, c.initiated_id, c.started_id, c.run_id]
                     for c in ex.children.values()],
    }


def execution_of(r: dict[str, Any]) -> Execution:
    """The Execution a record_of() was taken from, without its parent link (the caller sets it).

    ``r`` is freshly parsed and becomes the Execution's: its events are taken over, not copied.
    """
    cfg = {"workflowType": r["workflow_type"], "taskList": {"name": r["task_list"]},
           "childPolicy": r["child_policy"], "executionStartToCloseTimeout": r["exec_timeout"],
           "taskStartToCloseTimeout": r["task_timeout"]}
    ex = Execution(r["domain"], r["workflow_id"], r["run_id"], cfg, r["start_ts"])
    for name in EX_FIELDS:
        setattr(ex, name, r[name])
    events = r["events"]
    for e in events:
        e["eventTimestamp"] = to_datetime(e["eventTimestamp"])
    ex.events = events
    for a in r["activities"]:
        attrs = {"activityId": a["activity_id"], "activityType": a["activity_type"],
                 "taskList": {"name": a["task_list"]}, "scheduleToStartTimeout": a["schedule_to_start"],
                 "scheduleToCloseTimeout": a["schedule_to_close"], "startToCloseTimeout": a["start_to_close"],
                 "heartbeatTimeout": a["heartbeat"]}
        act = Activity(ex, attrs, a["scheduled_id"])
        for name in ACT_FIELDS:
            setattr(act, name, a[name])
        ex.activities[act.activity_id] = act
    for wid, wtype, initiated, started, run_id in r["children"]:
        child = Child(wid, wtype, initiated)
        child.started_id, child.run_id = started, run_id
        ex.children[wid] = child
    return ex


def head_of(ex: Execution, parent: ClosedRef | Execution | None) -> dict[str, Any]:
    """What listing a closed run needs (its row's head): no events."""
    return {"domain": ex.domain, "workflow_id": ex.workflow_id, "run_id": ex.run_id,
            "workflow_type": ex.workflow_type, "start_ts": ex.start_ts, "close_ts": ex.close_ts,
            "close_status": ex.close_status, "cancel_requested": ex.cancel_requested, "tags": ex.tags,
            "parent": [parent.workflow_id, parent.run_id] if parent is not None else None}


def encode_record(record: dict[str, Any]) -> bytes | str:
    """A closed run's record as its row holds it: msgpack (format 4), or JSON text for what msgpack cannot hold.

    msgpack writes a 4,000-activity run's record in a fifth of the time JSON takes, and this
    runs at every fold, at the end of each run. It refuses integers past 64 bits, which JSON
    keeps: such a record is written as JSON, as format 3 wrote every record.
    """
    try:
        packed: bytes = msgpack.packb(record, use_bin_type=True)
        return packed
    except (OverflowError, TypeError, ValueError):
        return json.dumps(record, separators=(",", ":"))


def decode_record(data: bytes | str) -> Any:
    """What encode_record() wrote, or a format 3 row's JSON text (as text or its UTF-8 bytes).

    A record is a map: msgpack starts it with a byte from 0x80 up, JSON with "{".
    """
    if isinstance(data, str) or data[:1] == b"{":
        return json.loads(data)
    return msgpack.unpackb(data, raw=False, strict_map_key=False)
