"""Stages and shards: parts of a pipeline run as child workflow executions.

A child runs the parent's own workflow type. Its input document is a workflow input
(`{"v": 1, "input": tree, "store": root}`) plus `"stage": {"path", "kind", "parent", ...}`:
`kind` "stage" runs the inner step of the `Stage` at `path` on `input`; `kind` "shard" runs
the `Map` at `path` over the items in `input` (a slice of the map's items, starting at
`offset`, so item paths and activity ids keep their index in the whole map).

The parent sees a child as one step: StartChildWorkflowExecutionInitiated (its `control` is
the child's key `<path>#<attempt>`) opens it, ChildWorkflowExecutionCompleted gives its
result (the child's workflow result as a value tree, values not decoded), and a failed,
timed-out, canceled or terminated child is a failed attempt carrying the child's failure doc
(the failing step's). A child's payloads go under its parent run's folder of the store, so
`pipeflow gc` removes them with the top-level run (a child has no manifest of its own).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import converters

from .. import wire
from .._errors import PipelineError
from ..canvas import Chain, Group, Map, Repeat, Stage, Step
from ..task import Signature, Task
from .history import NondeterminismError, RunState, _failure_doc
from .plan import MapNode, Node, Plan, Tree

__all__ = ["ChildNode", "Children", "ShardedMapNode", "StageNode", "StageStartError", "auto_shard_size"]

EVENTS_PER_LEAF = 5  # history events one task costs: 3 of its own, decision tasks in between (measured 3.3)
HISTORY_BUDGET = 8_000  # events a map may add to one history before it shards (SWF advises < 10,000)
MAX_SHARDS = 500  # shards of one map; more items make each shard shard again
# StartChildWorkflowExecutionFailed causes that pass: the child is started again by the next decision
_TRANSIENT = ("OPEN_CHILDREN_LIMIT_EXCEEDED", "CHILD_CREATION_RATE_EXCEEDED", "OPEN_WORKFLOWS_LIMIT_EXCEEDED")


class StageStartError(PipelineError):
    """A child execution cannot be started (its input cannot cross SWF): fails the run."""

    def __init__(self, doc: dict[str, Any]) -> None:
        super().__init__(doc.get("message", ""))
        self.doc = doc


# -- the parent's side: steps that are child executions ------------------------------------


class ChildNode(Node):
    """A step run as a child execution; attempts are children `<parent id>.<key>`."""

    __slots__ = ("attempt", "input", "retries", "run_id", "workflow_id")
    kind = "stage"

    def __init__(self, plan: Plan, path: str, parent: Node | None, slot: int, retries: int = 0) -> None:
        super().__init__(plan, path, parent, slot)
        self.retries = retries
        self.attempt = 0
        self.input: Tree = None
        self.workflow_id: str | None = None  # of the open attempt, once initiated
        self.run_id: str | None = None

    @property
    def key(self) -> str:
        """The child's id below its parent's, and the `control` of its StartChildWorkflowExecution."""
        return f"{self.path}#{self.attempt}"

    def info(self) -> dict[str, Any]:
        """The `stage` member of the child's input document (the parent's id added by the decider)."""
        return {"path": self.path, "kind": self.kind}

    def start(self, value: Tree) -> None:
        self.input = value
        self.next_attempt()

    def next_attempt(self) -> None:
        self.attempt += 1
        self.workflow_id = self.run_id = None
        self.plan.children[self.key] = self

    def completed(self, tree: Tree) -> None:
        self.done(tree)

    def attempt_failed(self, failure: dict[str, Any]) -> None:
        """Run the child again, whole, while retries remain; else fail the step with the child's error."""
        if self.attempt <= self.retries:
            self.next_attempt()
        else:
            self.failed(failure)


class StageNode(ChildNode):
    """`pf.stage(canvas)`: the canvas in a child execution, its inner step at `<path>.0`."""

    __slots__ = ("name",)

    def __init__(self, plan: Plan, path: str, parent: Node | None, slot: int, step: Stage) -> None:
        super().__init__(plan, path, parent, slot, step.retries)
        self.name = step.name

    def info(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "name": self.name}


class ShardNode(ChildNode):
    """A slice of a map's items in a child execution; its result is their results, in order."""

    __slots__ = ("offset",)
    kind = "shard"

    def __init__(self, plan: Plan, path: str, parent: Node, slot: int, offset: int) -> None:
        super().__init__(plan, path, parent, slot)
        self.offset = offset

    @property
    def key(self) -> str:
        return f"{self.path}.shard.{self.slot}#{self.attempt}"

    def info(self) -> dict[str, Any]:
        return {"path": self.path, "kind": self.kind, "offset": self.offset}

    def completed(self, tree: Tree) -> None:
        self.done(self.plan.expand(tree, self.path))  # an offloaded list is read back to be joined


class ShardedMapNode(MapNode):
    """A map that runs its items itself, or in shards (child executions) when there are too many.

    In a shard's child execution it runs the shard's items, numbered from `offset`.
    """

    __slots__ = ("map", "offset", "in_shard", "shard_size")

    def __init__(self, plan: Plan, path: str, parent: Node | None, slot: int, step: Map, offset: int = 0,
                 in_shard: bool = False) -> None:
        super().__init__(plan, path, parent, slot, step)
        self.map = step
        self.offset = offset
        self.in_shard = in_shard
        self.shard_size = 0  # items per shard; 0: the items run here

    def start(self, value: Tree) -> None:
        items = self.plan.expand(value, self.path)
        size = shard_size(self.map, len(items), self.in_shard)
        if size:
            self.shard_size = size
            items = [items[i:i + size] for i in range(0, len(items), size)]
            if self.limit is not None:  # max_parallel bounds the items running at once across shards
                self.limit = max(1, self.limit // min(size, self.limit))
        self.items = items
        self.results = [None] * len(items)
        self.remaining = len(items)
        if not items:
            self.done([])
        else:
            self.pump()

    def start_item(self, i: int) -> None:
        if self.shard_size:
            ShardNode(self.plan, self.path, self, i, self.offset + i * self.shard_size).start(self.items[i])
        else:
            self.plan.start(self.step, f"{self.path}.map.{self.offset + i}", self, i, self.items[i])

    def done(self, value: Tree) -> None:
        if self.shard_size:
            value = [result for shard in value for result in shard]
        super().done(value)


def leaves(step: Step) -> int:
    """The tasks (and child executions) one run of a step costs, a nested map counted once."""
    if isinstance(step, (Task, Signature, Stage)):
        return 1
    if isinstance(step, (Chain, Group)):
        return sum(leaves(s) for s in step.steps)
    if isinstance(step, Map):
        return leaves(step.step)
    return 1


def auto_shard_size(step: Step, count: int) -> int | None:
    """Items per shard that keep each history under HISTORY_BUDGET events, or None when no shard is needed."""
    per_item = EVENTS_PER_LEAF * leaves(step)
    if count * per_item <= HISTORY_BUDGET:
        return None
    size = max(1, HISTORY_BUDGET // per_item)
    shards = math.ceil(count / size)
    return math.ceil(count / shards)  # even shards


def shard_size(step: Map, count: int, in_shard: bool) -> int:
    """Items per shard for a map of `count` items (0: run them unsharded).

    `map(shard_size=K)` always shards at the top (one shard at least: isolation); inside a shard of
    at most K items only the automatic rule applies. Past MAX_SHARDS shards, each shard gets more
    items and shards again.
    """
    explicit = step.shard_size
    if explicit is not None and (not in_shard or count > explicit):
        size = explicit
    else:
        size = auto_shard_size(step.step, count) or 0
    if not size or count == 0:
        return 0
    if math.ceil(count / size) > MAX_SHARDS:
        size = math.ceil(count / MAX_SHARDS)
    return size


# -- run state: child events in, the child's own start ---------------------------------------


class Children:
    """A run's child executions: the events that move them, and what a child starts with."""

    def __init__(self, state: RunState) -> None:
        self.state = state
        self.open: dict[int, ChildNode] = {}  # initiatedEventId -> node
        self.root: str | None = None  # the store's root URI, for the children's input documents
        # The parent's task list, timeouts, tags and task priority, which its children get (and the
        # priority is the default of the run's own steps, see Decider._schedule).
        self.settings: dict[str, Any] = {}
        self.stage: dict[str, Any] | None = None  # this run's own `stage` member, when it is a child

    def handlers(self) -> dict[str, Callable[[dict[str, Any]], None]]:
        return {
            "StartChildWorkflowExecutionInitiated": self._initiated,
            "StartChildWorkflowExecutionFailed": self._start_failed,
            "ChildWorkflowExecutionStarted": self._started,
            "ChildWorkflowExecutionCompleted": self._completed,
            "ChildWorkflowExecutionFailed": self._failed,
            "ChildWorkflowExecutionTimedOut": self._ended,
            "ChildWorkflowExecutionCanceled": self._ended,
            "ChildWorkflowExecutionTerminated": self._ended,
        }

    # -- this run's start -------------------------------------------------------------------

    def begin(self, event: dict[str, Any], tree: Tree, root: str | None) -> None:
        """Start the run's canvas: the whole pipeline, or the part a stage or shard names."""
        state = self.state
        attrs = event["workflowExecutionStartedEventAttributes"]
        self.root = root
        self.settings = {name: attrs[name] for name in ("taskList", "executionStartToCloseTimeout",
                                                        "taskStartToCloseTimeout", "tagList", "taskPriority",
                                                        "lambdaRole")  # children run Lambda steps too
                         if attrs.get(name)}
        doc = wire.load_json(attrs["input"], "the workflow input") if attrs.get("input") else {}
        stage = doc.get("stage") if isinstance(doc, dict) else None
        if not isinstance(stage, dict):
            state.plan.start(state.pipeline.canvas, "", None, 0, tree)
            return
        self.stage = stage
        scope, part = stage.get("scope"), stage.get("part")
        if isinstance(scope, str) and "#" in scope and part and state.run_id:
            try:  # inside the parent run's folder, which must lie under this decider's store
                target = f"{wire.run_store(scope, state.root, 'decider')}/{part}/{wire.run_key(state.run_id)}"
                converters.open_store(target)  # a part that is not a path segment is refused now, not on a write
                state.store = target
            except converters.ConverterError as exc:
                message = f"the {stage.get('kind')}'s store cannot be used: {exc}"
                state.fatal = (message[:256], {"type": type(exc).__name__, "message": message})
                return
        path, kind = str(stage.get("path", "")), stage.get("kind")
        try:
            step = resolve(state.pipeline.canvas, path)
        except (LookupError, ValueError) as exc:
            self._fatal(f"this {kind} names step {path}, which the pipeline {state.pipeline.name} lacks ({exc})")
            return
        if kind == "stage" and isinstance(step, Stage):
            state.plan.start(step.step, f"{path}.0", None, 0, tree)
        elif kind == "shard" and isinstance(step, Map):
            offset = stage.get("offset", 0)
            if not isinstance(offset, int) or offset < 0:
                self._fatal(f"this shard of step {path} starts at item {str(offset)[:40]}, not at a count")
                return
            ShardedMapNode(state.plan, path, None, 0, step, offset=offset, in_shard=True).start(tree)
        else:
            self._fatal(f"this {kind} names step {path}, which is a {type(step).__name__} in the pipeline "
                        f"{state.pipeline.name}")

    def _fatal(self, message: str) -> None:
        self.state.fatal = (message[:256], {"type": "NondeterminismError", "message": message})

    # -- child events -----------------------------------------------------------------------

    def _initiated(self, event: dict[str, Any]) -> None:
        attrs = event["startChildWorkflowExecutionInitiatedEventAttributes"]
        key = attrs.get("control", "")
        node = self.state.plan.children.pop(key, None)
        if node is None or not isinstance(node, ChildNode):
            raise NondeterminismError(
                f"the history starts child execution {attrs['workflowId']} ({key}) which the pipeline "
                f"{self.state.pipeline.name} does not start at that point"
            )
        node.workflow_id = attrs["workflowId"]
        self.open[event["eventId"]] = node

    def _start_failed(self, event: dict[str, Any]) -> None:
        attrs = event["startChildWorkflowExecutionFailedEventAttributes"]
        key = attrs.get("control", "")
        node: Node | None = self.open.pop(attrs.get("initiatedEventId") or 0, None)
        if node is None:
            node = self.state.plan.children.pop(key, None)
        cause = attrs.get("cause")
        if isinstance(node, ChildNode) and cause in _TRANSIENT:
            self.state.plan.children[node.key] = node  # still to start: the next decision tries again
            return
        self._fatal(f"SWF refused to start child execution {attrs.get('workflowId')}: {cause}")

    def _started(self, event: dict[str, Any]) -> None:
        attrs = event["childWorkflowExecutionStartedEventAttributes"]
        node = self.open.get(attrs["initiatedEventId"])
        if node is not None:
            node.run_id = attrs["workflowExecution"]["runId"]

    def _completed(self, event: dict[str, Any]) -> None:
        attrs = event["childWorkflowExecutionCompletedEventAttributes"]
        result = attrs.get("result")
        if result is None:
            tree: Tree = converters.dumps(None)
        elif result.startswith(wire.TREE_PREFIX):
            # A child's result, the parent's to pass on unread: it must at least be a value tree.
            tree = wire.parse_tree(result[len(wire.TREE_PREFIX):], "the child execution's result")
        else:
            tree = result
        self.open.pop(attrs["initiatedEventId"]).completed(tree)

    def _failed(self, event: dict[str, Any]) -> None:
        attrs = event["childWorkflowExecutionFailedEventAttributes"]
        node = self.open.pop(attrs["initiatedEventId"])
        failure = _failure_doc(attrs.get("reason"), attrs.get("details"))
        node.attempt_failed({**failure, "stage": node.path, "stage_attempt": node.attempt,
                             "stage_name": getattr(node, "name", None)})

    def _ended(self, event: dict[str, Any]) -> None:
        kind = event["eventType"]
        attrs = event[kind[0].lower() + kind[1:] + "EventAttributes"]
        node = self.open.pop(attrs["initiatedEventId"])
        how = {"ChildWorkflowExecutionTimedOut": "timed out", "ChildWorkflowExecutionCanceled": "was canceled",
               "ChildWorkflowExecutionTerminated": "was terminated"}[kind]
        message = f"the {node.kind} at step {node.path} (child execution {node.workflow_id}) {how}"
        node.attempt_failed({"type": kind, "message": message, "traceback": None, "step": node.path,
                             "stage": node.path, "stage_attempt": node.attempt,
                             "stage_name": getattr(node, "name", None)})


def resolve(canvas: Step, path: str) -> Step:
    """The step at a path of the canvas: `2.1`, `3.map.17.0` (a map item's index is any)."""
    step = canvas
    parts = path.split(".") if path else []
    i = 0
    while i < len(parts):
        part = parts[i]
        if isinstance(step, (Chain, Group)):
            step = step.steps[int(part)]
        elif isinstance(step, Map) and part == "map" and i + 1 < len(parts):
            i += 1
            step = step.step
        elif isinstance(step, Stage) and part == "0":
            step = step.step
        elif isinstance(step, Repeat) and part == "iter" and i + 1 < len(parts):  # `<path>.iter.<n>`
            i += 1
            step = step.step
        else:
            raise LookupError(f"no step {part!r} in a {type(step).__name__}")
        i += 1
    return step
