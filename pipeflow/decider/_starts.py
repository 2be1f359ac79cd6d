"""The StartChildWorkflowExecution decisions of a run's stages and shards (see `_stages`).

A child's workflow id is `<parent workflowId>.<key>` (its key is its step path and attempt,
never a submission order); its input document carries the part of the canvas it runs.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

import converters

from .. import wire
from ._stages import ChildNode, StageStartError
from .history import RunState

__all__ = ["child_id", "child_input", "start_children"]

ID_LIMIT = 256  # characters of a workflow id


def child_id(parent: str, key: str) -> str:
    """`<parent workflowId>.<key>` within SWF's 256 characters (else a prefix and a digest of the whole)."""
    full = f"{parent}.{key}"
    if len(full) <= ID_LIMIT:
        return full
    digest = hashlib.sha256(full.encode()).hexdigest()
    return f"{full[:ID_LIMIT - len(digest) - 1]}~{digest}"


def start_children(state: RunState, budget: int, max_open: int) -> tuple[list[dict[str, Any]], int]:
    """StartChildWorkflowExecution decisions for the children ready to start, within the budget."""
    plan = state.plan
    if not plan.children:
        return [], budget
    children = state.children
    parent = state.workflow_id or state.run_id
    pipeline = state.pipeline
    room = max_open - len(children.open)
    decisions: list[dict[str, Any]] = []
    for key, node in plan.children.items():
        if room <= 0:
            break
        assert isinstance(node, ChildNode)
        text = child_input(state, node, parent)
        size = len(text) + 600
        if size > budget and decisions:
            break  # the rest goes in the next decision task
        budget -= size
        room -= 1
        attrs: dict[str, Any] = {
            "workflowType": {"name": pipeline.name, "version": pipeline.version},
            "workflowId": child_id(parent, key),
            "control": key,
            "input": text,
            "childPolicy": "TERMINATE",
            **children.settings,
        }
        decisions.append({"decisionType": "StartChildWorkflowExecution",
                          "startChildWorkflowExecutionDecisionAttributes": attrs})
    return decisions, budget


def child_input(state: RunState, node: ChildNode, parent: str) -> str:
    """The child's input document; a long input tree goes to the store."""
    info = {**node.info(), "parent": parent, "scope": state.store, "part": node.key.replace("#", "@")}
    head = wire.dump_json({"v": 1, "input": None, "store": state.children.root, "stage": info})
    try:
        tree = json.loads(wire.encode_tree(node.input, state.store, limit=wire.LIMIT - len(head) - 16))
    except converters.ConverterError as exc:
        raise StageStartError({"type": type(exc).__name__, "message": f"the input of the {node.kind}: {exc}",
                               "step": node.path}) from exc
    return wire.dump_json({"v": 1, "input": tree, "store": state.children.root, "stage": info})
