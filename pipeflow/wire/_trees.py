"""Value trees: a step's input and result as they travel through SWF's fields.

A *value tree* is what flows between steps without being decoded by the decider: a str is a
converters envelope (inline or a reference), a list holds the results of a group or map,
`{"error": details}` is a failed member of a `return_exceptions` group, and `{"offloaded": ref}` is a
subtree moved to the store.
"""

from __future__ import annotations

import json
from typing import Any

import converters
from converters._limits import MAX_DEPTH, json_depth_exceeds

LIMIT = 32_768
REASON_LIMIT = 256
TREE_PREFIX = "tree/1:"
Tree = Any  # str | list[Tree] | dict[str, Any]

def dump_json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def _fit(text: str, store: Any, what: str) -> str:
    """`text` itself when it fits a field, else a reference to it in the store (or PayloadTooLarge)."""
    if len(text) <= LIMIT:
        return text
    return converters.dumps(json.loads(text), codec="json", store=store, threshold=LIMIT, what=what)


def unfit(text: str, store: Any) -> Any:
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



def encode_workflow_input(
    value: Any, store: str | None = None, codec: Any = None, workflow_id: str | None = None
) -> str:
    """The StartWorkflowExecution input: the pipeline input as an envelope plus the store's root URI.

    With a workflow id an offloaded input goes under `<root>/<workflowId>/input/`.
    """
    from ._runs import run_scope  # runs build on trees

    target = run_scope(store, workflow_id) if workflow_id is not None else store
    envelope = converters.dumps(value, codec=codec or "auto", store=target, threshold=LIMIT - 1024, what="input")
    return dump_json({"v": 1, "input": envelope, "store": store})


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
    text = dump_json(tree)
    if len(text) > limit:
        ref = converters.dumps(tree, codec="json", store=store, threshold=0, what="list of results")
        text = dump_json({"offloaded": ref})
    return text


def decode_tree(tree: Tree, store: str | None) -> Any:
    """The Python value of a value tree."""
    if isinstance(tree, str):
        return converters.loads(tree, store=store)
    if isinstance(tree, list):
        return [decode_tree(t, store) for t in tree]
    if "offloaded" in tree:
        return decode_tree(_offloaded(tree["offloaded"], store), store)
    from ._failures import failure_error  # failures build on trees

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
    return _fit(dump_json(doc), store, "activity input")


def decode_activity_input(
    text: str, store: str | None = None
) -> tuple[list[Any], dict[str, Any], str | None]:
    """The worker's side: `(args, kwargs, store)`: what to call the task with, and where its result goes.

    `store` is the worker's own store scoped to the task's run (None: it has none). The input
    names the run's store (the decider's scope of the run): it is used only when it lies under
    the worker's root, else the task fails with StoreError before anything is read or written
    there; a task input never chooses where a worker reads or writes. A run started without a
    store uses the worker's. An input offloaded as a whole is read through the worker's store:
    it arrives as its reference, or, a Lambda step's, as a JSON string holding the reference
    (what ScheduleLambdaFunction takes, `decider._lambda.lambda_decision`).
    """
    doc = unfit(text, store)
    if isinstance(doc, str) and converters.is_reference(doc):
        doc = unfit(doc, store)
    if not isinstance(doc, dict) or not isinstance(doc.get("args"), list) or not isinstance(doc.get("kwargs"), dict):
        raise converters.DecodeError("the activity input is not a pipeflow activity input document")
    named = doc.get("store")
    if named is not None:
        from ._runs import run_store  # runs build on trees

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
