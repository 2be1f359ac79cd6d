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
    "load_json",
    "parse_activity_id",
    "parse_tree",
    "run_key",
    "run_scope",
    "run_store",
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
    """The JSON document behind `text` (read from the store when it is a reference).

    Raises ValueError when it is not JSON or nests too deep, ConverterError when the store refuses it.
    """
    if converters.is_reference(text):
        return converters.loads(text, store=store)
    return load_json(text)


def load_json(text: str | bytes, what: str = "the document") -> Any:
    """A JSON document that came from elsewhere (a history, a task, a file).

    Raises ValueError (as `json.loads` does) when it is malformed or nests deeper than
    converters' limit, checked by a scan before parsing: never RecursionError.
    """
    from converters._limits import MAX_DEPTH, json_depth_exceeds  # converters imports pipeflow: not at import

    if json_depth_exceeds(text):
        raise ValueError(f"{what} nests deeper than {MAX_DEPTH} levels")
    try:
        return json.loads(text)
    except RecursionError:  # the scan bounds the depth; this is the last guard
        raise ValueError(f"{what} nests too deep to parse") from None


def check_tree(tree: Any, what: str = "the value tree") -> Tree:
    """`tree` when it is a value tree (see the module's docstring); ValueError otherwise.

    Iterative, so a deep hostile structure costs a loop, not the stack; a failure's details
    (`{"error": details}`) are JSON of any shape, within the same depth.
    """
    from converters._limits import MAX_DEPTH

    stack: list[tuple[Any, int, bool]] = [(tree, 1, True)]  # (node, depth, is a tree node)
    while stack:
        node, depth, in_tree = stack.pop()
        if depth > MAX_DEPTH:
            raise ValueError(f"{what} nests deeper than {MAX_DEPTH} levels")
        if isinstance(node, list):
            stack.extend((item, depth + 1, in_tree) for item in node)
        elif not in_tree:
            if isinstance(node, dict):
                stack.extend((item, depth + 1, False) for item in node.values())
        elif isinstance(node, str):
            continue
        elif isinstance(node, dict) and len(node) == 1 and isinstance(node.get("offloaded"), str):
            continue
        elif isinstance(node, dict) and len(node) == 1 and isinstance(node.get("error"), dict):
            stack.append((node["error"], depth + 1, False))
        else:
            raise ValueError(f"{what} holds a {type(node).__name__} where an envelope, a list, "
                             '{"offloaded": ref} or {"error": details} belongs')
    return tree


def parse_tree(text: str, what: str = "the value tree") -> Tree:
    """The value tree in the JSON `text`; `converters.DecodeError` when it is not one."""
    try:
        return check_tree(load_json(text, what), what)
    except ValueError as exc:
        raise converters.DecodeError(f"{what} cannot be read: {exc}") from None


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


def _shown(uri: str | None) -> str:
    """A store URI for a message: its root part, cut (it may come from a hostile input)."""
    if uri is None:
        return "(none)"
    text = uri.rpartition("#")[0] if "#" in uri else uri
    return text if len(text) <= 200 else text[:200] + "..."


def run_store(named: Any, own: str | None, who: str, fix: str | None = None) -> str:
    """The run's store `named` (from its input) when it lies under `own`'s root; else StoreError.

    `own` is the process's configured store (scoped or not; None: it has none). A store named by
    a task input or a history is never opened for reading or writing unless it is under `own`:
    the input could name any directory or bucket. The error names both stores and the fix
    (`fix`, default: start `who` with --store).
    """
    if isinstance(named, str) and own is not None:
        try:
            if same_root(named, own):
                return named
        except converters.StoreError:
            pass  # an unusable URI: refused below like any other
    if not isinstance(named, str):
        raise converters.StoreError(f"the run names no usable store ({type(named).__name__}, not a URI)")
    raise converters.StoreError(
        f"the run's store {_shown(named)} is not this {who}'s store {_shown(own)}: "
        + (fix or f"start the {who} with --store {_shown(named)} to serve it")
    )


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


def decode_workflow_input(text: str | None) -> tuple[Tree, str | None]:
    """`(input tree, store URI)` from the workflow input (an absent input is `None`).

    Raises ValueError (or KeyError) when it is not a pipeflow input document: malformed,
    nested too deep, or its members of the wrong types.
    """
    if not text:
        return converters.dumps(None), None
    doc = load_json(text, "the workflow input")
    if not isinstance(doc, dict):
        raise ValueError(f"the workflow input is a JSON {type(doc).__name__}, not an object")
    store = doc.get("store")
    if store is not None and not isinstance(store, str):
        raise ValueError(f"the workflow input's store is a {type(store).__name__}, not a URI")
    return check_tree(doc["input"], "the workflow input's value"), store


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
        return decode_tree(_offloaded(tree["offloaded"], store), store)
    return failure_error(tree["error"])


def _offloaded(ref: str, store: str | None) -> Tree:
    """The value tree an `{"offloaded": ref}` stands for; DecodeError when what is stored is not one."""
    try:
        return check_tree(converters.loads(ref, store=store), "an offloaded list of results")
    except (ValueError, RecursionError) as exc:
        raise converters.DecodeError(f"an offloaded list of results cannot be read: {exc}") from None


def expand_tree(tree: Tree, store: str | None) -> list[Tree]:
    """The items of a map's input as value trees: a list's members, or an envelope decoded and re-encoded."""
    if isinstance(tree, dict) and "offloaded" in tree:
        tree = _offloaded(tree["offloaded"], store)
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

    `store` is the worker's own store scoped to the task's run (None: it has none). The input
    names the run's store (the decider's scope of the run): it is used only when it lies under
    the worker's root, else the task fails with StoreError before anything is read or written
    there; a task input never chooses where a worker reads or writes. A run started without a
    store uses the worker's. An input offloaded as a whole is read through the worker's store.
    """
    doc = _unfit(text, store)
    if not isinstance(doc, dict) or not isinstance(doc.get("args"), list) or not isinstance(doc.get("kwargs"), dict):
        raise converters.DecodeError("the activity input is not a pipeflow activity input document")
    named = doc.get("store")
    if named is not None:
        store = run_store(named, store, "worker")
    args = [converters.loads(a, store=store) for a in doc["args"]]
    kwargs = {k: converters.loads(v, store=store) for k, v in doc["kwargs"].items()}
    if doc.get("piped") is not None:
        args.insert(0, decode_tree(check_tree(doc["piped"], "the piped value"), store))
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
            return decode_tree(parse_tree(result[len(TREE_PREFIX):], "the run's result"), store)
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
