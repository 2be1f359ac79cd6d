"""The panels of a run's page beside the tree and the timeline: failure, checkpoints, values, history.

Values are shown as they are: JSON pretty-printed, a DataFrame as its first rows (an offloaded
one read as its first row group only, `pipeflow.client.preview_result`), a value the console
cannot read (a store it was not given) as the reason. Offloaded values are read when asked for.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import converters
from markupsafe import Markup, escape

from .. import wire
from .._errors import PipeflowError
from ..client import attempt_logs, history_frame, preview_result
from ..decider import CHECKPOINT, read_checkpoint, unwrap_result

PREVIEW_ROWS = 20
HISTORY_PAGE = 100
TEXT_LIMIT = 20_000  # characters of a value's JSON shown


@dataclass
class Failure:
    """Why a run failed (or, while it runs, its latest failed attempt)."""

    step: str | None
    task: str | None
    attempt: Any
    error: str
    traceback: str | None
    log_tail: str | None
    final: bool  # the run's own failure, not an attempt it will retry


def _attrs(event: dict[str, Any]) -> dict[str, Any]:
    return next((v for k, v in event.items() if k.endswith("EventAttributes") and isinstance(v, dict)), {})


def failure_of(events: list[dict[str, Any]], store: str | None, workflow_id: str, run_id: str) -> Failure | None:
    """The run's failure from its closing event, else its latest failed attempt; None when nothing failed."""
    scope = wire.run_scope(store, workflow_id, run_id) if store else None
    chosen: dict[str, Any] | None = None
    final = False
    if events and events[-1]["eventType"] in ("WorkflowExecutionFailed", "WorkflowExecutionTimedOut"):
        chosen, final = _attrs(events[-1]), True
    else:
        chosen = next((_attrs(e) for e in reversed(events) if e["eventType"] == "ActivityTaskFailed"), None)
    if chosen is None:
        return None
    doc = wire.decode_failure(chosen.get("details"), scope) if chosen.get("details") else {}
    error = str(doc.get("message") or chosen.get("reason") or chosen.get("timeoutType") or "failed")
    if doc.get("type") and not error.startswith(str(doc["type"])):
        error = f"{doc['type']}: {error}"
    step = doc.get("step")
    tail = doc.get("log_tail") if isinstance(doc.get("log_tail"), str) else None
    if not tail and isinstance(step, str):
        try:
            logs = attempt_logs(events, store, workflow_id, run_id, step=step, attempt=doc.get("attempt"))
            tail = next((log.text for log in reversed(logs) if log.text), None)
        except (PipeflowError, ValueError):
            tail = None
    return Failure(step=step if isinstance(step, str) else None, task=doc.get("task"), attempt=doc.get("attempt"),
                   error=error, traceback=doc.get("traceback"), log_tail=tail, final=final)


def checkpoints_of(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The steps the run checkpointed (what a resume reuses): step path, when, the result's size."""
    found = []
    for event in events:
        if event["eventType"] != "MarkerRecorded":
            continue
        attrs = event.get("markerRecordedEventAttributes") or {}
        if attrs.get("markerName") != CHECKPOINT:
            continue
        parsed = read_checkpoint(attrs.get("details"))
        if parsed is not None:
            found.append({"step": parsed[0], "when": event.get("eventTimestamp"),
                          "size": len(attrs.get("details") or "")})
    return found


def _frame_html(value: Any) -> Markup:
    frame = value.to_frame() if hasattr(value, "to_frame") and not hasattr(value, "columns") else value
    html = frame.head(PREVIEW_ROWS).to_html(classes="frame", border=0, max_cols=30, escape=True)
    return Markup(f'<p class="shape">{len(frame)} rows shown of the first {PREVIEW_ROWS}, '
                  f'{len(frame.columns)} columns</p>{html}')


def render_value(value: Any) -> Markup:
    """A decoded value as HTML: a frame's first rows, anything else as indented JSON."""
    from converters._pandas import is_pandas  # the shared internals (see tests/test_architecture.py)

    if is_pandas(value):
        return _frame_html(value)
    if isinstance(value, list) and value and all(is_pandas(v) for v in value):
        return Markup("".join(f"<h4>[{i}]</h4>{_frame_html(v)}" for i, v in enumerate(value)))
    text = json.dumps(value, indent=2, default=repr, ensure_ascii=False)
    if len(text) > TEXT_LIMIT:
        text = text[:TEXT_LIMIT] + f"\n… ({len(text) - TEXT_LIMIT} more characters)"
    return Markup(f'<pre class="json">{escape(text)}</pre>')


def offloaded(text: str | None) -> bool:
    """Whether an encoded value (an envelope or a tree) points into a store."""
    return bool(text) and ('"offloaded"' in str(text) or converters.is_reference(str(text)))


def preview(events: list[dict[str, Any]], what: str, store: str | None) -> Markup:
    """The run's input or result (`what`), decoded and drawn; an error of ours as its message."""
    try:
        if what == "input":
            attrs = events[0].get("workflowExecutionStartedEventAttributes") or {} if events else {}
            tree = wire.decode_workflow_input(attrs.get("input"))[0]
            return render_value(wire.decode_tree(tree, store))
        last = events[-1] if events else {}
        if last.get("eventType") != "WorkflowExecutionCompleted":
            return Markup('<p class="empty">No result: the run has not completed.</p>')
        text = (last.get("workflowExecutionCompletedEventAttributes") or {}).get("result")
        if text is None:
            return render_value(None)
        return render_value(preview_result(text, store, PREVIEW_ROWS))
    except (PipeflowError, ValueError, KeyError, TypeError) as exc:
        return Markup(f'<p class="error">Cannot show it here: {escape(str(exc))}</p>')


# A step's scheduled event, by kind: (its attributes' key, the id member, its completion and that one's key).
_STEP_EVENTS = {
    "ActivityTaskScheduled": ("activityTaskScheduledEventAttributes", "activityId",
                              "ActivityTaskCompleted", "activityTaskCompletedEventAttributes"),
    "LambdaFunctionScheduled": ("lambdaFunctionScheduledEventAttributes", "id",
                                "LambdaFunctionCompleted", "lambdaFunctionCompletedEventAttributes"),
}


def step_preview(events: list[dict[str, Any]], step: str, what: str, store: str | None) -> Markup:
    """A task step's input or result (`what`) at its last attempt, decoded as a worker decodes it and drawn.

    The steps of a stage or shard are on its own run's page. A Lambda step's input reads as an
    activity's; its result as the decider reads it (the envelope, or a JSON string of it).
    """
    scheduled = None
    for event in events:
        kinds = _STEP_EVENTS.get(event["eventType"])
        if kinds is not None and str(event[kinds[0]].get(kinds[1], "")).rpartition("#")[0] == step:
            scheduled = event
    if scheduled is None:
        return Markup(f'<p class="empty">No task ran as step {escape(step)} in this run.</p>')
    attributes_key, _, completed_kind, completed_key = _STEP_EVENTS[scheduled["eventType"]]
    try:
        if what == "input":
            args, kwargs, _ = wire.decode_activity_input(scheduled[attributes_key].get("input") or "", store)
            return render_value(args[0] if len(args) == 1 and not kwargs else {"args": args, "kwargs": kwargs})
        completed = next((e for e in events if e["eventType"] == completed_kind
                          and e[completed_key].get("scheduledEventId") == scheduled["eventId"]), None)
        if completed is None:
            return Markup('<p class="empty">No result: its last attempt has not completed.</p>')
        result = completed[completed_key].get("result")
        if scheduled["eventType"] == "LambdaFunctionScheduled":
            result = unwrap_result(result)
        return render_value(None if result is None else preview_result(result, store, PREVIEW_ROWS))
    except (PipeflowError, ValueError, KeyError, TypeError) as exc:
        return Markup(f'<p class="error">Cannot show it here: {escape(str(exc))}</p>')


def raw_value(events: list[dict[str, Any]], what: str) -> str | None:
    """The encoded input or result as the history holds it (to tell whether it is offloaded)."""
    if what == "input":
        return ((events[0].get("workflowExecutionStartedEventAttributes") or {}).get("input")) if events else None
    last = events[-1] if events else {}
    return (last.get("workflowExecutionCompletedEventAttributes") or {}).get("result")


def history_page(events: list[dict[str, Any]], page: int, kind: str | None = None) -> tuple[list[dict[str, Any]], int]:
    """One page of the history's events (`event_id`, `timestamp`, `type`, `details`, `attributes` as JSON)."""
    chosen = [e for e in events if not kind or e["eventType"] == kind]
    pages = max(1, -(-len(chosen) // HISTORY_PAGE))
    page = min(max(page, 1), pages)
    part = chosen[(page - 1) * HISTORY_PAGE: page * HISTORY_PAGE]
    frame = history_frame(part)
    rows = []
    for event_id, stamp, kind_, details, attributes in frame.itertuples(index=False, name=None):
        rows.append({"event_id": int(event_id), "timestamp": stamp.isoformat() if stamp == stamp else "-",
                     "type": kind_, "details": details,
                     "attributes": json.dumps(attributes, indent=1, default=str)[:TEXT_LIMIT]})
    return rows, pages
