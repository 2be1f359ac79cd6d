"""A run's step tree and its attempts, from the tasks frame of its history.

The history names each attempt by its step's path in the canvas (`2`, `1.0`, `3.map.17`,
`3.shard.2`, pipeflow.decider.plan), so the tree is the paths' nesting: a segment per level, a
map's items (`map.<n>`) and shards (`shard.<n>`) under the map. Whether a node whose children
are plain steps is a chain or a group is not written in the history: it is read from when they
were scheduled. A chain's step is scheduled only after the one before it closed; a group's steps
are scheduled together, so each is scheduled before the others close, whether or not a worker was
free to start them together.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..client import tasks_frame

SHOWN_CHILDREN = 60  # children of one node listed (a map's first items, then every item not completed)
_OPEN = ("RUNNING", "SCHEDULED")
_BAD = ("FAILED", "TIMED_OUT", "TERMINATED", "CANCELED")


@dataclass
class Attempt:
    """One attempt of a step (an activity, a stage's or shard's child run), times in epoch seconds."""

    step: str
    task: str
    attempt: int
    status: str
    scheduled: float | None
    started: float | None
    closed: float | None
    worker: str | None
    error: str | None
    kind: str
    child_workflow_id: str | None
    child_run_id: str | None

    @property
    def duration(self) -> float | None:
        return None if self.started is None or self.closed is None else self.closed - self.started

    @property
    def wait(self) -> float | None:
        return None if self.scheduled is None or self.started is None else self.started - self.scheduled


@dataclass
class Node:
    """A step of the tree: a task, a stage or a shard (with attempts), or a chain, group or map of steps."""

    path: str
    kind: str
    task: str = ""
    attempts: list[Attempt] = field(default_factory=list)
    children: list[Node] = field(default_factory=list)
    shown: list[Node] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)  # statuses of the children (a map's items)
    status: str = "SCHEDULED"
    scheduled: float | None = None  # the earliest schedule of its attempts or steps
    started: float | None = None
    closed: float | None = None

    @property
    def duration(self) -> float | None:
        return None if self.started is None or self.closed is None else self.closed - self.started

    @property
    def hidden(self) -> int:
        return len(self.children) - len(self.shown)

    @property
    def last(self) -> Attempt | None:
        return self.attempts[-1] if self.attempts else None


def _epoch(value: Any) -> float | None:
    return None if value is None or value != value else float(value.timestamp())


def attempts_of(events: list[dict[str, Any]]) -> tuple[list[Attempt], float | None]:
    """The run's attempts in the order they were scheduled, and when the open ones stop being drawn."""
    frame = tasks_frame(events)
    found = [
        Attempt(step=str(r[0]), task=str(r[1]), attempt=int(r[2]), status=str(r[3]), scheduled=_epoch(r[4]),
                started=_epoch(r[5]), closed=_epoch(r[6]), worker=r[7] if isinstance(r[7], str) else None,
                error=r[8] if isinstance(r[8], str) else None, kind=str(r[9]),
                child_workflow_id=r[10] if isinstance(r[10], str) else None,
                child_run_id=r[11] if isinstance(r[11], str) else None)
        for r in frame[["step", "task", "attempt", "status", "scheduled", "started", "closed", "worker", "error",
                        "kind", "child_workflow_id", "child_run_id"]].itertuples(index=False, name=None)
    ]
    return found, _epoch(frame.attrs.get("end"))


def _prefixes(path: str) -> list[str]:
    """`3.map.17.0` -> `3`, `3.map.17`, `3.map.17.0`: the nodes from the top down to the step."""
    parts = path.split(".")
    found, i = [], 0
    while i < len(parts):
        i += 2 if parts[i] in ("map", "shard") and i + 1 < len(parts) else 1
        found.append(".".join(parts[:i]))
    return found


def step_tree(attempts: list[Attempt]) -> Node:
    """The run's steps nested as the canvas wrote them (kinds of containers inferred, see the module)."""
    root = Node(path="", kind="chain")
    nodes: dict[str, Node] = {"": root}
    for attempt in attempts:
        parent = root
        for prefix in _prefixes(attempt.step):
            node = nodes.get(prefix)
            if node is None:
                node = nodes[prefix] = Node(path=prefix, kind="chain")
                parent.children.append(node)
            parent = node
        parent.attempts.append(attempt)
        parent.task = attempt.task
    _settle(root)
    return root


def _settle(node: Node) -> None:
    for child in node.children:
        _settle(child)
    if node.attempts:  # a step: a task, a stage, a shard
        last = node.attempts[-1]
        node.kind = last.kind if last.kind in ("stage", "shard") else "task"
        node.status = last.status
        starts = [a.started for a in node.attempts if a.started is not None]
        node.started = min(starts) if starts else None
        node.scheduled = _earliest([a.scheduled for a in node.attempts])
        node.closed = last.closed
    if not node.children:
        node.shown = []
        return
    tails = [child.path.rsplit(".", 2) for child in node.children]
    if any(len(t) >= 2 and t[-2] in ("map", "shard") for t in tails):
        node.kind = "map"
    elif _overlap(node.children):
        node.kind = "group"
    for child in node.children:
        node.counts[child.status] = node.counts.get(child.status, 0) + 1
    if not node.attempts:
        node.status = next((s for s in (*_OPEN, *_BAD) if s in node.counts), "COMPLETED")
        starts = [c.started for c in node.children if c.started is not None]
        ends = [c.closed for c in node.children if c.closed is not None]
        node.started = min(starts) if starts else None
        node.scheduled = _earliest([c.scheduled for c in node.children])
        node.closed = max(ends) if ends and node.status not in _OPEN else None
    first = node.children[:SHOWN_CHILDREN // 2]
    rest = [c for c in node.children[SHOWN_CHILDREN // 2:] if c.status != "COMPLETED"]
    node.shown = first + rest[:SHOWN_CHILDREN - len(first)]


def _earliest(times: list[float | None]) -> float | None:
    known = [t for t in times if t is not None]
    return min(known) if known else None


def _overlap(children: list[Node]) -> bool:
    """Whether a child was scheduled before another one closed: a group's steps, never a chain's."""
    spans = sorted((c.scheduled, c.closed) for c in children if c.scheduled is not None)
    return any(b[0] < (a[1] if a[1] is not None else float("inf")) - 1e-6 for a, b in zip(spans, spans[1:]))
