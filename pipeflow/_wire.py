"""The formats the decider and the worker exchange through SWF (see INTERFACES.md, "Pipelines core").

A *value tree* is what flows between steps without being decoded by the decider: a str is a
converters envelope (inline or a reference), a list holds the results of a group or map,
`{"error": details}` is a failed member of a `return_exceptions` group, and `{"offloaded": ref}` is a
subtree moved to the store.
"""

from __future__ import annotations

import json
import traceback
from typing import Any

import converters

from ._errors import RunCanceled, RunFailed, RunTerminated, RunTimedOut, TaskFailed

__all__ = [
    "LIMIT",
    "decode_activity_input",
    "decode_close_event",
    "decode_failure",
    "decode_tree",
    "encode_activity_input",
    "encode_failure",
    "encode_handback",
    "encode_result",
    "encode_tree",
    "encode_workflow_input",
    "encode_workflow_result",
    "failure_details",
    "is_handback",
    "parse_activity_id",
    "run_key",
    "run_scope",
    "write_manifest",
]

LIMIT = 32_768
REASON_LIMIT = 256
TREE_PREFIX = "tree/1:"
Tree = Any  # str | list[Tree] | dict[str, Any]
# RespondActivityTaskFailed's reason when a worker shutting down returns a task it will not run
# (or could not finish): the decider schedules it again at once, without spending a retry.
HANDBACK = "pipeflow.handback"


def encode_handback(identity: str, why: str) -> tuple[str, str]:
    """`(reason, details)` handing an activity task back: `why` says what the worker did not do."""
    message = f"worker {identity} shut down: {why}"
    doc = {"type": "HandBack", "message": message, "traceback": None, "worker": identity}
    return f"{HANDBACK}: {message}"[:REASON_LIMIT], _json(doc)


def is_handback(reason: str | None) -> bool:
    """True for the reason of a task handed back by a worker shutting down."""
    return bool(reason) and (reason == HANDBACK or str(reason).startswith(HANDBACK + ":"))


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _fit(text: str, store: Any, what: str) -> str:
    """`text` itself when it fits a field, else a reference to it in the store (or PayloadTooLarge)."""
    if len(text) <= LIMIT:
        return text
    return converters.dumps(json.loads(text), codec="json", store=store, threshold=LIMIT, what=what)


def _unfit(text: str, store: Any) -> Any:
    """The JSON document behind `text` (read from the store when it is a reference)."""
    if converters.is_reference(text):
        return converters.loads(text, store=store)
    return json.loads(text)


def parse_activity_id(activity_id: str) -> tuple[str, int]:
    """`"2.map.17#3"` -> `("2.map.17", 3)`."""
    path, _, attempt = activity_id.rpartition("#")
    return path, int(attempt)


# -- where a run's payloads go ----------------------------------------------------------------


def run_key(run_id: str) -> str:
    """A run id as one store path segment: SWF run ids are base64, whose `/` and `+` become `_` and `-`."""
    return run_id.replace("/", "_").replace("+", "-")


def run_scope(root: str | None, workflow_id: str, run_id: str | None = None) -> str | None:
    """The store URI of one run's payloads, `<root uri>#<workflowId>/<runKey>` (None without a store).

    Without a run id, `<root uri>#<workflowId>/input`: where the starter puts an offloaded
    pipeline input before SWF gives the run its id. References to anything under the root
    stay readable from every scope of it.
    """
    if root is None:
        return None
    base = converters.open_store(root).root.uri
    return f"{base}#{workflow_id}/{run_key(run_id) if run_id is not None else 'input'}"


MANIFEST = "pipeflow-run.json"


def write_manifest(root: str, *, domain: str, workflow_id: str, workflow_type: dict[str, str]) -> None:
    """`<root>/<workflowId>/pipeflow-run.json`: whose folder this is, for `pipeflow gc`.

    Written before the execution starts, so no folder of a started run lacks one.
    """
    import time

    doc = {"v": 1, "domain": domain, "workflowId": workflow_id, "workflowType": workflow_type, "created": time.time()}
    converters.open_store(root).root.child(workflow_id).put(MANIFEST, _json(doc).encode())


def same_root(a: str, b: str) -> bool:
    """True when two store URIs (scoped or not) share one root."""
    return bool(converters.open_store(a).root.uri == converters.open_store(b).root.uri)


# -- workflow input and result ------------------------------------------------------------


def encode_workflow_input(
    value: Any, store: str | None = None, codec: Any = None, workflow_id: str | None = None
) -> str:
    """The StartWorkflowExecution input: the pipeline input as an envelope plus the store's root URI.

    With a workflow id an offloaded input goes under `<root>/<workflowId>/input/`.
    """
    target = run_scope(store, workflow_id) if workflow_id is not None else store
    envelope = converters.dumps(value, codec=codec or "auto", store=target, threshold=LIMIT - 1024, what="input")
    return _json({"v": 1, "input": envelope, "store": store})


def decode_workflow_input(text: str | None) -> tuple[str, str | None]:
    """`(input envelope, store URI)` from the workflow input (an absent input is `None`)."""
    if not text:
        return converters.dumps(None), None
    doc = json.loads(text)
    return doc["input"], doc.get("store")


def encode_workflow_result(tree: Tree, store: str | None) -> str:
    """The CompleteWorkflowExecution result: a leaf envelope as is, a list as `tree/1:<json>`."""
    if isinstance(tree, str):
        return tree
    return TREE_PREFIX + encode_tree(tree, store, limit=LIMIT - len(TREE_PREFIX))


def encode_tree(tree: Tree, store: str | None, limit: int = LIMIT) -> str:
    """A value tree as JSON, its whole moved to the store when longer than `limit`."""
    text = _json(tree)
    if len(text) > limit:
        ref = converters.dumps(tree, codec="json", store=store, threshold=0, what="list of results")
        text = _json({"offloaded": ref})
    return text


def decode_tree(tree: Tree, store: str | None) -> Any:
    """The Python value of a value tree."""
    if isinstance(tree, str):
        return converters.loads(tree, store=store)
    if isinstance(tree, list):
        return [decode_tree(t, store) for t in tree]
    if "offloaded" in tree:
        return decode_tree(converters.loads(tree["offloaded"], store=store), store)
    return failure_error(tree["error"])


def expand_tree(tree: Tree, store: str | None) -> list[Tree]:
    """The items of a map's input as value trees: a list's members, or an envelope decoded and re-encoded."""
    if isinstance(tree, dict) and "offloaded" in tree:
        tree = converters.loads(tree["offloaded"], store=store)
    if isinstance(tree, list):
        return tree
    value = decode_tree(tree, store)
    return [converters.dumps(item, store=store, threshold=LIMIT - 1024, what="map item") for item in value]


# -- activity input and result ------------------------------------------------------------


def encode_activity_input(
    *, step: str, attempt: int, task: str, store: str | None, piped: Tree | None, args: list[str], kwargs: dict[str, str]
) -> str:
    """The ScheduleActivityTask input; offloaded as a whole when longer than a field."""
    doc = {"v": 1, "step": step, "attempt": attempt, "task": task, "store": store, "piped": piped,
           "args": args, "kwargs": kwargs}
    return _fit(_json(doc), store, "activity input")


def decode_activity_input(
    text: str, store: str | None = None
) -> tuple[list[Any], dict[str, Any], str | None]:
    """The worker's side: `(args, kwargs, store)`: what to call the task with, and where its result goes.

    The run's store (named by the decider, scoped to the run) wins over the worker's own
    `store`, which serves runs started without one. A worker given a store refuses a run
    whose store has another root: a history must not send its results elsewhere.
    """
    doc = _unfit(text, store)
    named = doc.get("store")
    if named is not None and store is not None and not same_root(named, store):
        raise converters.StoreError(
            f"the run's store {named.split('#', 1)[0]} is not this worker's store {store.split('#', 1)[0]}; "
            "start the worker with --store set to the run's store (or without --store)"
        )
    store = named if named is not None else store
    args = [converters.loads(a, store=store) for a in doc["args"]]
    kwargs = {k: converters.loads(v, store=store) for k, v in doc["kwargs"].items()}
    if doc.get("piped") is not None:
        args.insert(0, decode_tree(doc["piped"], store))
    return args, kwargs, store


def encode_result(value: Any, task: Any = None, store: str | None = None) -> str:
    """An activity's result as an envelope (offloaded when long and a store is given)."""
    codec = getattr(task, "converter", None) or "auto"
    return converters.dumps(value, codec=codec, store=store, threshold=LIMIT - 1024, what="result")


# -- failures -----------------------------------------------------------------------------


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
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        "task": getattr(task, "name", None),
        "step": step,
        "attempt": attempt,
    }
    return f"{doc['type']}: {message}"[:REASON_LIMIT], failure_details(doc, store)


def failure_details(doc: dict[str, Any], store: Any = None) -> str:
    """Failure details within the field limit: offloaded whole to `store` when long, else cut.

    Without a store, a long message and traceback keep their tails (where the error is).
    """
    text = _json(doc)
    if len(text) <= LIMIT:
        return text
    if store is not None:
        try:
            return _fit(text, store, "failure details")
        except converters.ConverterError:
            pass  # the store is unreachable: a cut traceback beats losing the failure
    doc = dict(doc, message=_tail(str(doc.get("message") or ""), 8_000))
    traceback_text = str(doc.get("traceback") or "")
    room = LIMIT - len(_json(dict(doc, traceback=""))) - 64
    while True:  # JSON escapes can lengthen the text: shrink until it fits
        doc["traceback"] = _tail(traceback_text, max(room, 0))
        text = _json(doc)
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
        doc = _unfit(details, store)
    except ValueError:
        return {"message": details}
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


def failure_error(doc: dict[str, Any], run_id: str | None = None) -> TaskFailed:
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
    )


def decode_close_event(event: dict[str, Any], run_id: str | None = None, store: str | None = None) -> Any:
    """The result of a closed execution, or raise its failure."""
    kind = event["eventType"]
    if kind == "WorkflowExecutionCompleted":
        result = event["workflowExecutionCompletedEventAttributes"].get("result")
        if result is None:
            return None
        if result.startswith(TREE_PREFIX):
            return decode_tree(json.loads(result[len(TREE_PREFIX):]), store)
        return converters.loads(result, store=store)
    if kind == "WorkflowExecutionFailed":
        attrs = event["workflowExecutionFailedEventAttributes"]
        doc = decode_failure(attrs.get("details"), store)
        if doc.get("type"):
            raise failure_error(doc, run_id)
        raise RunFailed(attrs.get("reason") or doc.get("message") or "the run failed", run_id=run_id, status="FAILED")
    if kind == "WorkflowExecutionCanceled":
        from ._control import canceled_error  # "run ... was canceled: <reason>"

        raise canceled_error(event, run_id)
    errors = {
        "WorkflowExecutionCanceled": (RunCanceled, "CANCELED"),
        "WorkflowExecutionTerminated": (RunTerminated, "TERMINATED"),
        "WorkflowExecutionTimedOut": (RunTimedOut, "TIMED_OUT"),
        "WorkflowExecutionContinuedAsNew": (RunFailed, "CONTINUED_AS_NEW"),
    }
    cls, status = errors.get(kind, (RunFailed, kind))
    raise cls(f"the run closed as {status}", run_id=run_id, status=status)
