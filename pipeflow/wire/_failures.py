"""Failures: a task's error as it crosses SWF (reason and details), and how a closed run's event reads back."""

from __future__ import annotations

import os
import traceback
from types import TracebackType
from typing import Any

import converters

from .._errors import RunCanceled, RunFailed, RunTerminated, RunTimedOut, TaskFailed
from ._runs import parse_activity_id
from ._trees import (
    LIMIT,
    REASON_LIMIT,
    TREE_PREFIX,
    _fit,
    decode_tree,
    dump_json,
    load_json,
    parse_tree,
    unfit,
)


# The frames that open every task's traceback: the worker's, then `Task.__call__` and the call of
# its function, class or instance (`_target`). Left out, the task's own come first.
_PIPEFLOW = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_WORKER = os.path.join(_PIPEFLOW, "worker") + os.sep
_CALLERS = frozenset(os.path.join(_PIPEFLOW, name) for name in ("task.py", "_target.py"))


def _from_the_task(tb: TracebackType | None) -> TracebackType | None:
    """The traceback from its first frame outside pipeflow's worker and task call (all of it when none is)."""
    first = tb
    while first is not None and (
        (name := first.tb_frame.f_code.co_filename).startswith(_WORKER) or name in _CALLERS
    ):
        first = first.tb_next
    return first or tb


def encode_failure(
    exc: BaseException, task: Any = None, activity_id: str | None = None, stage: str | None = None,
    store: Any = None,
) -> tuple[str, str]:
    """`(reason, details)` for RespondActivityTaskFailed; long details go to `store` when there is one."""
    step, attempt = parse_activity_id(activity_id) if activity_id and "#" in activity_id else (None, None)
    message = str(exc)
    if stage:
        message = f"{message} (while {stage})"
    doc = {
        "type": type(exc).__name__,
        "message": message,
        "traceback": "".join(traceback.format_exception(type(exc), exc, _from_the_task(exc.__traceback__))),
        "task": getattr(task, "name", None),
        "step": step,
        "attempt": attempt,
    }
    if stage and isinstance(exc, converters.ConverterError):
        doc["data"] = True  # pipeflow could not move the step's value, not the task's own error: exit 3
    return f"{doc['type']}: {message}"[:REASON_LIMIT], failure_details(doc, store)


def failure_details(doc: dict[str, Any], store: Any = None) -> str:
    """Failure details within the field limit: offloaded whole to `store` when long, else cut.

    Without a store, a long message and traceback keep their tails (where the error is).
    """
    text = dump_json(doc)
    if len(text) <= LIMIT:
        return text
    if store is not None:
        try:
            return _fit(text, store, "failure details")
        except converters.ConverterError:
            pass  # the store is unreachable: a cut traceback beats losing the failure
    doc = dict(doc, message=_tail(str(doc.get("message") or ""), 8_000))
    traceback_text = str(doc.get("traceback") or "")
    room = LIMIT - len(dump_json(dict(doc, traceback=""))) - 64
    while True:  # JSON escapes can lengthen the text: shrink until it fits
        doc["traceback"] = _tail(traceback_text, max(room, 0))
        text = dump_json(doc)
        if len(text) <= LIMIT:
            return text
        room -= len(text) - LIMIT


def _tail(text: str, size: int) -> str:
    return text if len(text) <= size else "...(cut) " + text[len(text) - size:]


def decode_failure(details: str | None, store: str | None = None) -> dict[str, Any]:
    """Failure details as a dict (`{}` when absent or not ours)."""
    if not details:
        return {}
    try:
        doc = unfit(details, store)
    except ValueError:
        return {"message": details}
    except converters.ConverterError as exc:  # offloaded where this process may not read
        return {"message": f"the failure's details cannot be read ({exc})"}
    if not isinstance(doc, dict):
        return {"message": details}
    ref = doc.get("details_ref")
    if isinstance(ref, str) and converters.is_reference(ref):
        # The decider passed the worker's offloaded details through: read them now.
        try:
            full = converters.loads(ref, store=store)
        except converters.ConverterError:
            return doc  # the store is gone: what the decider knew is still worth reporting
        if isinstance(full, dict):
            return {**full, **{k: v for k, v in doc.items() if k in ("step", "task", "attempt") and v is not None}}
    return doc


def failure_error(doc: dict[str, Any], run_id: str | None = None, workflow_id: str | None = None) -> TaskFailed:
    """The `TaskFailed` a failure document describes."""
    return TaskFailed(
        doc.get("message", ""),
        task=doc.get("task"),
        step=doc.get("step"),
        attempt=doc.get("attempt"),
        error_type=doc.get("type"),
        remote_traceback=doc.get("traceback"),
        run_id=run_id,
        stage=doc.get("stage"),
        stage_attempt=doc.get("stage_attempt"),
        stage_name=doc.get("stage_name"),
        data=doc.get("data") is True,
        workflow_id=workflow_id,
        log_tail=doc.get("log_tail"),
        log=doc.get("log"),
    )


def failure_doc(exc: TaskFailed | RunFailed) -> dict[str, Any]:
    """What `--json` prints for a run that closed without a result: status, error, run ids."""
    if isinstance(exc, TaskFailed):
        status = "FAILED"
        error = {"step": exc.step, "task": exc.task, "attempt": exc.attempt, "type": exc.error_type,
                 "message": exc.args[0] if exc.args else "", "traceback": exc.remote_traceback}
        if exc.stage is not None:
            error["stage"] = exc.stage
        error["log_tail"] = exc.log_tail
    else:
        status = exc.status or "FAILED"
        error = {"step": None, "task": None, "attempt": None, "type": type(exc).__name__, "message": str(exc),
                 "traceback": None}
    return {"status": status, "error": error, "run": {"workflow_id": exc.workflow_id, "run_id": exc.run_id}}


def decode_close_event(event: dict[str, Any], run_id: str | None = None, store: str | None = None,
                       workflow_id: str | None = None) -> Any:
    """The result of a closed execution, or raise its failure (naming the run's ids)."""
    kind = event["eventType"]
    if kind == "WorkflowExecutionCompleted":
        result = event["workflowExecutionCompletedEventAttributes"].get("result")
        if result is None:
            return None
        if result.startswith(TREE_PREFIX):
            return decode_tree(parse_tree(result[len(TREE_PREFIX):], "the run's result"), store)
        return converters.loads(result, store=store)
    if kind == "WorkflowExecutionFailed":
        attrs = event["workflowExecutionFailedEventAttributes"]
        doc = decode_failure(attrs.get("details"), store)
        if doc.get("type"):
            raise failure_error(doc, run_id, workflow_id)
        raise RunFailed(attrs.get("reason") or doc.get("message") or "the run failed", run_id=run_id, status="FAILED",
                        workflow_id=workflow_id)
    if kind == "WorkflowExecutionCanceled":
        canceled = canceled_error(event, run_id)
        canceled.workflow_id = workflow_id
        raise canceled
    errors = {
        "WorkflowExecutionCanceled": (RunCanceled, "CANCELED"),
        "WorkflowExecutionTerminated": (RunTerminated, "TERMINATED"),
        "WorkflowExecutionTimedOut": (RunTimedOut, "TIMED_OUT"),
        "WorkflowExecutionContinuedAsNew": (RunFailed, "CONTINUED_AS_NEW"),
    }
    cls, status = errors.get(kind, (RunFailed, kind))
    name = f"run {run_id}" if run_id else "the run"
    raise cls(f"{name} closed as {status}", run_id=run_id, status=status, workflow_id=workflow_id)


def canceled_error(event: dict[str, Any], run_id: str | None) -> RunCanceled:
    """The RunCanceled a WorkflowExecutionCanceled event stands for, with the reason when one was given."""
    details = (event.get("workflowExecutionCanceledEventAttributes") or {}).get("details")
    reason = None
    try:
        doc = load_json(details, "the close details") if details else None
        if isinstance(doc, dict) and isinstance(doc.get("reason"), str) and doc["reason"]:
            reason = doc["reason"]
    except ValueError:
        reason = details
    name = f"run {run_id}" if run_id else "the run"
    return RunCanceled(f"{name} was canceled" + (f": {reason}" if reason else ""), run_id=run_id, status="CANCELED")

