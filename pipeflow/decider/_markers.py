"""Markers: `pipeflow.checkpoint` when a top-level step or a stage completes, `pipeflow.progress` now and then.

A checkpoint is queued when the event completing its step is applied and leaves the queue when
the MarkerRecorded event naming that step is applied. A decider replaying the whole history and
one applying only the new events therefore hold the same queue and emit the same RecordMarker
decisions, and each marker is recorded once (again only when the decision task carrying it was
lost). Details: `{"v": 1, "step": path, "result": tree}`; when longer than SWF's 32,768
characters the result tree is offloaded to the run's store (`{"offloaded": ref}`), so the step
stays readable without I/O, and without a store the run fails like any other oversize value.

`pipeflow.progress` (`{"v": 1, "done": n, "total": m, "exact": bool}`: tasks and child executions
settled, and the run's total) is rate-limited so markers never dominate a history: at most one per
decision task, and only when `done` moved by at least 5% of `total` or by 100 since the last one
recorded. The total is what the canvas says (a chain of
three tasks: 3, from the first marker on) when it holds no map; a map's size is known only once its
input is, so with maps the total is a lower bound (`"exact": false`: "of at least m"): the steps
the canvas names outside maps, or those started and settled so far when more.

A resumed run's input document carries `"resume": {"run": {...}, "checkpoints": {path: tree}}`
(the checkpoints offloaded as `{"offloaded": ref}` when long, see `pipeflow.running._resume`): the plan
completes those steps at once with the old results and checkpoints them again.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import converters

from .. import wire
from ..canvas import Chain, Group, Map, Stage, WaitSignal
from ..task import Signature, Task
from .plan import Leaf, Node, Tree

if TYPE_CHECKING:
    from .history import RunState

__all__ = [
    "CHECKPOINT", "PROGRESS", "Markers", "checkpoint_details", "read_checkpoint", "resumed_checkpoints", "with_markers",
]

CHECKPOINT = "pipeflow.checkpoint"
PROGRESS = "pipeflow.progress"
PROGRESS_SHARE = 0.05  # of the total: the least move of `done` worth a progress marker
PROGRESS_TASKS = 100  # ... or this many settled since the last one
_CLOSING = ("FailWorkflowExecution", "CancelWorkflowExecution", "CompleteWorkflowExecution")
BUDGET = 96_000  # characters of marker details per decision task (the schedules take up to 900,000 of 1 MB)


def _json(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False)


_child_node: type | None = None
_stage_node: type | None = None


def _child_classes() -> tuple[type, type]:
    """`ChildNode` and `StageNode` (imported late: `_stages` imports the history, which imports this)."""
    global _child_node, _stage_node
    if _child_node is None or _stage_node is None:
        from ._stages import ChildNode, StageNode

        _child_node, _stage_node = ChildNode, StageNode
    return _child_node, _stage_node


class Markers:
    """The plan's observer: counts settled steps and queues checkpoints until they are recorded."""

    def __init__(self) -> None:
        self.pending: dict[str, Tree] = {}  # step path -> result tree, in completion order
        self.settled = 0  # tasks and child executions done or failed for good
        self.progress_done = 0  # `done` of the last progress marker recorded

    # -- told by the plan ---------------------------------------------------------------------

    def done(self, node: Node, value: Tree) -> None:
        child, stage = _child_classes()
        if isinstance(node, (Leaf, child)):
            self.settled += 1
        parent = node.parent
        top_level = parent is not None and parent.parent is None and parent.path == ""
        if top_level or isinstance(node, stage) or node.path in node.plan.resumed:
            self.pending[node.path] = value

    def failed(self, node: Node) -> None:
        if isinstance(node, (Leaf, _child_classes()[0])):
            self.settled += 1

    # -- told by the history ------------------------------------------------------------------

    def recorded(self, event: dict[str, Any]) -> None:
        """A MarkerRecorded event: the checkpoint it names leaves the queue.

        Raises `converters.DecodeError` for a pipeflow marker whose details are not what this
        decider records (the run fails, naming the event); other markers are not ours to read.
        """
        attrs = event.get("markerRecordedEventAttributes") or {}
        name = attrs.get("markerName")
        if name not in (CHECKPOINT, PROGRESS):
            return
        try:
            doc = wire.load_json(attrs.get("details") or "", f"the details of marker {name}")
        except ValueError as exc:
            raise converters.DecodeError(f"the details of marker {name} are not JSON: {exc}") from None
        if name == CHECKPOINT:
            found = _checkpoint(doc)
            if found is None:
                raise converters.DecodeError(f"the details of marker {name} are not a checkpoint")
            self.pending.pop(found[0], None)
        elif isinstance(doc, dict) and isinstance(doc.get("done"), int):
            self.progress_done = doc["done"]
        else:
            raise converters.DecodeError(f"the details of marker {name} are not a progress count")

    # -- decisions ----------------------------------------------------------------------------

    def decisions(self, state: RunState, progress: bool = True, closing: bool = False) -> list[dict[str, Any]]:
        """The RecordMarker decisions due now; raises `ConverterError` when a checkpoint cannot be stored.

        `closing`: the run fails or is canceled in this decision; a checkpoint that cannot be
        stored is left out (the run's own failure is the one to report).
        """
        out: list[dict[str, Any]] = []
        used = 0
        for path, tree in self.pending.items():
            try:
                details = checkpoint_details(path, tree, state.store)
            except converters.ConverterError:
                if closing:
                    continue
                raise
            if out and used + len(details) > BUDGET:
                break  # the rest go with the next decision task
            used += len(details)
            out.append(_record(CHECKPOINT, details))
        canvas = _canvas(state)
        planned, exact = planned_steps(canvas)
        members = getattr(canvas, "steps", ())
        for path in state.plan.resumed:  # checkpointed by the run resumed: they complete without running
            if path.isdigit() and int(path) < len(members):
                planned -= planned_steps(members[int(path)])[0]
        done, total = self.settled, max(self.settled + _in_flight(state), planned)
        moved = done - self.progress_done
        if progress and total and moved > 0 and (moved >= PROGRESS_TASKS or moved >= PROGRESS_SHARE * total):
            out.append(_record(PROGRESS, _json({"v": 1, "done": done, "total": total, "exact": exact})))
        return out


def _canvas(state: RunState) -> Any:
    """The canvas this execution runs: the pipeline's, or None in a stage's or shard's child execution."""
    children = getattr(state, "children", None)
    if getattr(children, "stage", None) is not None:
        return None
    pipeline = getattr(state, "pipeline", None)
    return getattr(pipeline, "canvas", None)


# planned_steps of the canvases seen last (id -> (canvas, count)): it is asked at every decision, and
# a walk of a long chain costs more than the rest of a decision. The canvas is kept, so its id stays its own.
_PLANNED: dict[int, tuple[Any, tuple[int, bool]]] = {}


def planned_steps(step: Any) -> tuple[int, bool]:
    """`(tasks and child executions a canvas runs, exact)`: a map counts 0 and makes the count a lower bound."""
    if not isinstance(step, (Chain, Group)):
        return _planned(step)
    known = _PLANNED.get(id(step))
    if known is not None and known[0] is step:
        return known[1]
    counted = _planned(step)
    if len(_PLANNED) >= 64:
        _PLANNED.clear()
    _PLANNED[id(step)] = (step, counted)
    return counted


def _planned(step: Any) -> tuple[int, bool]:
    if isinstance(step, (Task, Signature)):
        return 1, True
    if isinstance(step, Stage):
        return 1, True  # one child execution
    if isinstance(step, WaitSignal):
        return 0, True
    if isinstance(step, (Chain, Group)):
        counts = [_planned(member) for member in step.steps]
        return sum(n for n, _ in counts), all(exact for _, exact in counts)
    if isinstance(step, Map) or step is None:
        return 0, False
    return 0, False  # a step this count does not know: no bound from it


def _in_flight(state: RunState) -> int:
    """Tasks and child executions started and not settled: each sits in exactly one of these."""
    plan = state.plan
    children = getattr(state, "children", None)
    return (len(state.open) + len(plan.ready) + len(plan.timers) + len(state.open_timers)
            + len(getattr(plan, "children", ())) + len(getattr(children, "open", ())))


def _record(name: str, details: str) -> dict[str, Any]:
    return {"decisionType": "RecordMarker", "recordMarkerDecisionAttributes": {"markerName": name, "details": details}}


def checkpoint_details(path: str, tree: Tree, store: str | None) -> str:
    """`{"v":1,"step":path,"result":tree}`, the tree offloaded when the whole is over the limit."""
    text = _json({"v": 1, "step": path, "result": tree})
    if len(text) <= wire.LIMIT:
        return text
    if store is None:
        raise converters.PayloadTooLarge(len(text), wire.LIMIT, f"checkpoint of step {path}")
    ref = converters.dumps(tree, codec="json", store=store, threshold=0, what=f"checkpoint of step {path}")
    return _json({"v": 1, "step": path, "result": {"offloaded": ref}})


def read_checkpoint(details: str | None) -> tuple[str, Tree] | None:
    """`(step path, result tree)` of a checkpoint marker's details (None when not ours); no I/O."""
    try:
        doc = wire.load_json(details or "", "the checkpoint")
    except ValueError:
        return None
    return _checkpoint(doc)


def _checkpoint(doc: Any) -> tuple[str, Tree] | None:
    """`(step path, result tree)` of a parsed checkpoint document, or None when it is not one."""
    if not isinstance(doc, dict) or not isinstance(doc.get("step"), str) or "result" not in doc:
        return None
    try:
        return doc["step"], wire.check_tree(doc["result"], "the checkpoint's result")
    except ValueError:
        return None


def resumed_checkpoints(text: str | None, root: str | None) -> dict[str, Tree]:
    """The checkpoints a resumed run's input document carries (`{}` for a run not resumed).

    Raises `ConverterError` when they were offloaded and cannot be read, ValueError when malformed.
    """
    if not text:
        return {}
    doc = wire.load_json(text, "the workflow input")
    resume = doc.get("resume") if isinstance(doc, dict) else None
    if not isinstance(resume, dict):
        return {}
    checkpoints = resume.get("checkpoints") or {}
    if isinstance(checkpoints, dict) and isinstance(checkpoints.get("offloaded"), str):
        checkpoints = converters.loads(checkpoints["offloaded"], store=root)
    if not isinstance(checkpoints, dict):
        raise ValueError("the resume checkpoints are not a mapping of step paths to results")
    return {str(path): wire.check_tree(tree, f"the checkpoint of step {path}") for path, tree in checkpoints.items()}


def with_markers(state: RunState, decisions: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The markers due, then `decisions`; a checkpoint that cannot be stored fails the run instead.

    A run completing records no marker (its result says it all); a run failing or canceled
    records its pending checkpoints (what a resume needs) but no progress, and progress goes only
    with other decisions.
    """
    last = decisions[-1]["decisionType"] if decisions else None
    if state.closed or last == "CompleteWorkflowExecution":
        return decisions
    try:
        # Progress rides along with other decisions: it never makes a decision list of its own.
        markers = state.markers.decisions(state, progress=bool(decisions) and last not in _CLOSING,
                                          closing=last in _CLOSING)
    except converters.ConverterError as exc:
        doc = {"type": type(exc).__name__, "message": f"a checkpoint cannot be recorded: {exc}"}
        return [{"decisionType": "FailWorkflowExecution", "failWorkflowExecutionDecisionAttributes": {
            "reason": f"{doc['type']}: {doc['message']}"[:256], "details": wire.failure_details(doc, state.store)}}]
    return markers + decisions if markers else decisions
