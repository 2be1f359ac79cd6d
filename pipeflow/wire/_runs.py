"""Names and places of a run: activity ids, hand-backs, a run's folder in the store and its manifest."""

from __future__ import annotations

from typing import Any

import converters

from ._trees import REASON_LIMIT, dump_json

# RespondActivityTaskFailed's reason when a worker shutting down returns a task it will not run
# (or could not finish): the decider schedules it again at once, without spending a retry.
HANDBACK = "pipeflow.handback"


def encode_handback(identity: str, why: str) -> tuple[str, str]:
    """`(reason, details)` handing an activity task back: `why` says what the worker did not do."""
    message = f"worker {identity} shut down: {why}"
    doc = {"type": "HandBack", "message": message, "traceback": None, "worker": identity}
    return f"{HANDBACK}: {message}"[:REASON_LIMIT], dump_json(doc)


def is_handback(reason: str | None) -> bool:
    """True for the reason of a task handed back by a worker shutting down."""
    return bool(reason) and (reason == HANDBACK or str(reason).startswith(HANDBACK + ":"))


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
    converters.open_store(root).root.child(workflow_id).put(MANIFEST, dump_json(doc).encode())


def same_root(a: str, b: str) -> bool:
    """True when two store URIs (scoped or not) share one root."""
    return bool(converters.open_store(a).root.uri == converters.open_store(b).root.uri)


def shown_uri(uri: str | None) -> str:
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
        f"the run's store {shown_uri(named)} is not this {who}'s store {shown_uri(own)}: "
        + (fix or f"start the {who} with --store {shown_uri(named)} to serve it")
    )


# -- workflow input and result ------------------------------------------------------------
