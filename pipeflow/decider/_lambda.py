"""Lambda steps: `@pf.task(lambda_function=...)` scheduled with ScheduleLambdaFunction, and its events replayed.

A Lambda step is a leaf like any other (its id `<path>#<attempt>`, its retries and backoff); only
the decision and the event names differ. What crosses is what an activity gets, made JSON that
Lambda accepts: the activity input document (an input offloaded as a whole travels as a JSON
string holding the reference), and back the result envelope, which a function written with
`pipeflow.worker.lambda_handler` returns as a JSON string (the embedded engine's stand-in gives
the envelope as is: both are read). A function that raises makes SWF record LambdaFunctionFailed
with Lambda's error document (`errorType`, `errorMessage`, `stackTrace`), read into a failure.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from .. import wire
from .history import NondeterminismError, _context, _failure_doc

if TYPE_CHECKING:
    from .history import RunState
    from .plan import Leaf

__all__ = ["lambda_decision", "lambda_handlers"]

# Causes of ScheduleLambdaFunctionFailed after which the step is simply scheduled again.
_AGAIN = ("OPEN_LAMBDA_FUNCTIONS_LIMIT_EXCEEDED", "LAMBDA_FUNCTION_CREATION_RATE_EXCEEDED")


def lambda_decision(leaf: Leaf, activity_input: str) -> dict[str, Any]:
    """The ScheduleLambdaFunction decision of a Lambda step's attempt."""
    task = leaf.task
    text = activity_input if activity_input.startswith("{") else json.dumps(activity_input)
    attrs: dict[str, Any] = {"id": leaf.activity_id, "name": task.lambda_function, "input": text}
    if task.timeout:
        attrs["startToCloseTimeout"] = str(max(1, int(-(-task.timeout // 1))))
    return {"decisionType": "ScheduleLambdaFunction", "scheduleLambdaFunctionDecisionAttributes": attrs}


def unwrap_result(text: str | None) -> str:
    """The result envelope of a Lambda step: as given, or from the JSON string a Lambda function returned."""
    if not text:
        return "json/1:null"
    if text.startswith('"'):
        value = wire.load_json(text, "the Lambda function's result")
        if isinstance(value, str):
            return value
    return text


def lambda_failure(reason: str | None, details: str | None) -> dict[str, Any]:
    """A failure document from LambdaFunctionFailed: pipeflow's own details, or Lambda's error document."""
    doc: Any = None
    if isinstance(details, str) and details.startswith("{"):
        try:
            doc = wire.load_json(details, "the Lambda function's error")
        except ValueError:
            doc = None
    if isinstance(doc, dict) and isinstance(doc.get("errorMessage"), str):
        inner = _failure_doc(reason, doc["errorMessage"])  # lambda_handler raises with pipeflow's details
        if "type" in inner and inner.get("traceback") != doc["errorMessage"]:
            return inner
        trace = doc.get("stackTrace")
        return {"type": str(doc.get("errorType") or reason or "LambdaFunctionFailed"),
                "message": doc["errorMessage"],
                "traceback": "".join(trace) if isinstance(trace, list) and all(isinstance(t, str) for t in trace)
                else None}
    return _failure_doc(reason, details)


def lambda_handlers(state: RunState) -> dict[str, Callable[[dict[str, Any]], None]]:
    """The handlers of the Lambda events, for `RunState`'s table."""

    def scheduled(event: dict[str, Any]) -> None:
        attrs = event["lambdaFunctionScheduledEventAttributes"]
        leaf = state.plan.ready.pop(attrs["id"], None)
        if leaf is None or leaf.task.lambda_function != attrs["name"]:
            raise NondeterminismError(
                f"the history schedules Lambda function {attrs['name']} as {attrs['id']}, which the pipeline "
                f"{state.pipeline.name} does not run at that point"
            )
        state.open[event["eventId"]] = leaf

    def completed(event: dict[str, Any]) -> None:
        attrs = event["lambdaFunctionCompletedEventAttributes"]
        state.open.pop(attrs["scheduledEventId"]).done(unwrap_result(attrs.get("result")))

    def failed(event: dict[str, Any]) -> None:
        attrs = event["lambdaFunctionFailedEventAttributes"]
        leaf = state.open.pop(attrs["scheduledEventId"])
        failure = _context(lambda_failure(attrs.get("reason"), attrs.get("details")), leaf)
        if wire.is_handback(attrs.get("reason")):  # the stand-in's worker shut down: again, no retry spent
            leaf.lost(failure)
        else:
            leaf.attempt_failed(failure)

    def timed_out(event: dict[str, Any]) -> None:
        attrs = event["lambdaFunctionTimedOutEventAttributes"]
        leaf = state.open.pop(attrs["scheduledEventId"])
        kind = attrs.get("timeoutType", "START_TO_CLOSE")
        leaf.attempt_failed(_context({"type": "LambdaFunctionTimedOut", "traceback": None,
                                      "message": f"the Lambda function timed out ({kind})"}, leaf))

    def start_failed(event: dict[str, Any]) -> None:
        attrs = event["startLambdaFunctionFailedEventAttributes"]
        leaf = state.open.pop(attrs.get("scheduledEventId", 0), None)
        message = f"SWF could not start the Lambda function: {attrs.get('cause')}: {attrs.get('message', '')}"
        if leaf is None:
            state.fatal = (message[:256], {"type": "StartLambdaFunctionFailed", "message": message})
            return
        leaf.attempt_failed(_context({"type": "StartLambdaFunctionFailed", "message": message, "traceback": None},
                                     leaf))

    def schedule_failed(event: dict[str, Any]) -> None:
        attrs = event["scheduleLambdaFunctionFailedEventAttributes"]
        if attrs.get("cause") in _AGAIN:
            return  # still ready: scheduled again by the next decision
        message = f"SWF refused to schedule Lambda function {attrs.get('name')} as {attrs.get('id')}: {attrs.get('cause')}"
        if attrs.get("cause") == "LAMBDA_SERVICE_NOT_AVAILABLE_IN_REGION":
            message += " (this SWF endpoint runs no Lambda functions)"
        state.fatal = (message[:256], {"type": "ScheduleLambdaFunctionFailed", "message": message})

    return {
        "LambdaFunctionScheduled": scheduled,
        "LambdaFunctionCompleted": completed,
        "LambdaFunctionFailed": failed,
        "LambdaFunctionTimedOut": timed_out,
        "StartLambdaFunctionFailed": start_failed,
        "ScheduleLambdaFunctionFailed": schedule_failed,
    }
