"""The canvas at run time: step states that react to results and say what is ready to run.

Each node of the canvas gets a run-time node when it starts. A finished child tells its parent,
which starts the next step (chain), counts its members (group) or starts the next item (map).
What becomes ready is kept in insertion order, so a decider that replays the whole history and one
that applied the same events in batches reach the same state and emit the same decisions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ..canvas import Chain, Group, Map, Repeat, Stage, Step, WaitSignal
from ..task import Signature, Task

__all__ = ["Leaf", "Plan", "Tree"]

Tree = Any  # a value tree, see pipeflow.wire
# Attempts of one step lost to infrastructure (a worker that died or went silent, a hand-back) that
# are scheduled again without spending a retry; one more fails the step: workers that keep dying
# on it are more likely killed by the task itself (memory) than unlucky.
MAX_INFRA_FAILURES = 20
MAX_HANDBACKS = MAX_INFRA_FAILURES  # the earlier name


class Node:
    """A started step: reports its outcome to its parent."""

    __slots__ = ("parent", "path", "plan", "slot")

    def __init__(self, plan: Plan, path: str, parent: Node | None, slot: int) -> None:
        self.plan = plan
        self.path = path
        self.parent = parent
        self.slot = slot

    def start(self, value: Tree) -> None:
        raise NotImplementedError

    def child_done(self, slot: int, value: Tree) -> None:
        raise NotImplementedError

    def child_failed(self, slot: int, failure: dict[str, Any]) -> None:
        raise NotImplementedError

    def done(self, value: Tree) -> None:
        if self.plan.observer is not None:
            self.plan.observer.done(self, value)  # markers (pipeflow.decider._markers)
        if self.parent is None:
            self.plan.result = value
            self.plan.finished = True
        else:
            self.parent.child_done(self.slot, value)

    def failed(self, failure: dict[str, Any]) -> None:
        if self.plan.observer is not None:
            self.plan.observer.failed(self)
        if self.parent is None:
            self.plan.failure = failure
            self.plan.finished = True
        else:
            self.parent.child_failed(self.slot, failure)


def _child_path(path: str, part: str | int) -> str:
    return f"{path}.{part}" if path else str(part)


class Leaf(Node):
    """One task step: its attempts are SWF activities `<path>#<attempt>`."""

    __slots__ = ("attempt", "handbacks", "input", "signature", "task")

    def __init__(self, plan: Plan, path: str, parent: Node | None, slot: int, step: Task | Signature) -> None:
        super().__init__(plan, path, parent, slot)
        self.task = step.task if isinstance(step, Signature) else step
        self.signature = step if isinstance(step, Signature) else None
        self.attempt = 0
        self.handbacks = 0  # attempts lost to infrastructure (hand-backs, lost workers): they spend no retry
        self.input: Tree = None

    @property
    def activity_id(self) -> str:
        return f"{self.path}#{self.attempt}"

    def start(self, value: Tree) -> None:
        self.input = value
        self.next_attempt()

    def next_attempt(self) -> None:
        self.attempt += 1
        self.plan.ready[self.activity_id] = self

    @property
    def failures(self) -> int:
        """Attempts that failed or timed out so far (the current one included once it has failed)."""
        return self.attempt - self.handbacks

    def lost(self, failure: dict[str, Any]) -> None:
        """The attempt was lost to infrastructure, not to the task: a new attempt at once, no retry spent.

        A hand-back (a worker shutting down) or a heartbeat timeout (a worker that died or was cut
        off). Past MAX_INFRA_FAILURES the step fails, saying so.
        """
        if self.handbacks >= MAX_INFRA_FAILURES:
            note = f" [{self.handbacks + 1} infrastructure failures of this step, at most {MAX_INFRA_FAILURES} retried]"
            self.failed({**failure, "message": f"{failure.get('message', '')}{note}"})
            return
        self.handbacks += 1
        self.next_attempt()

    handed_back = lost  # the earlier name

    def attempt_failed(self, failure: dict[str, Any]) -> None:
        """Retry with backoff while attempts remain, else fail the step."""
        if self.failures > self.task.retries:
            self.failed(failure)
            return
        delay = self.plan.backoff(self)
        if delay <= 0:
            self.next_attempt()
        else:
            self.plan.timers[f"retry-{self.path}#{self.attempt + 1}"] = (self, delay)


class ChainNode(Node):
    __slots__ = ("steps",)

    def __init__(self, plan: Plan, path: str, parent: Node | None, slot: int, step: Chain) -> None:
        super().__init__(plan, path, parent, slot)
        self.steps = step.steps

    def start(self, value: Tree) -> None:
        self.plan.start(self.steps[0], _child_path(self.path, 0), self, 0, value)

    def child_done(self, slot: int, value: Tree) -> None:
        if slot + 1 < len(self.steps):
            self.plan.start(self.steps[slot + 1], _child_path(self.path, slot + 1), self, slot + 1, value)
        else:
            self.done(value)

    def child_failed(self, slot: int, failure: dict[str, Any]) -> None:
        self.failed(failure)


class GroupNode(Node):
    __slots__ = ("failed_slot", "failure", "remaining", "results", "return_exceptions", "steps")

    def __init__(self, plan: Plan, path: str, parent: Node | None, slot: int, step: Group) -> None:
        super().__init__(plan, path, parent, slot)
        self.steps = step.steps
        self.return_exceptions = step.return_exceptions
        self.results: list[Tree] = [None] * len(step.steps)
        self.remaining = len(step.steps)
        self.failure: dict[str, Any] | None = None
        self.failed_slot = -1

    def start(self, value: Tree) -> None:
        for i, member in enumerate(self.steps):
            self.plan.start(member, _child_path(self.path, i), self, i, value)

    def child_done(self, slot: int, value: Tree) -> None:
        self.results[slot] = value
        self.settled()

    def child_failed(self, slot: int, failure: dict[str, Any]) -> None:
        if self.return_exceptions:
            self.results[slot] = {"error": failure}
        elif self.failure is None or slot < self.failed_slot:
            # The lowest member's failure, whatever order they settle in.
            self.failure, self.failed_slot = failure, slot
        self.settled()

    def settled(self) -> None:
        self.remaining -= 1
        if self.remaining == 0:
            if self.failure is not None:
                self.failed(self.failure)
            else:
                self.done(self.results)


class MapNode(Node):
    """Expands its input into items, runs at most `max_parallel` at once."""

    __slots__ = ("closed", "failed_slot", "failure", "items", "limit", "next", "pumping", "remaining", "results",
                 "step")

    def __init__(self, plan: Plan, path: str, parent: Node | None, slot: int, step: Map) -> None:
        super().__init__(plan, path, parent, slot)
        self.step = step.step
        self.limit = step.max_parallel
        self.items: list[Tree] = []
        self.results: list[Tree] = []
        self.next = 0  # the next item to start
        self.remaining = 0  # items not settled yet
        self.pumping = False
        self.closed = False
        self.failure: dict[str, Any] | None = None
        self.failed_slot = -1

    def start(self, value: Tree) -> None:
        self.items = self.plan.expand(value, self.path)
        self.results = [None] * len(self.items)
        self.remaining = len(self.items)
        if not self.items:
            self.done([])
        else:
            self.pump()

    def pump(self) -> None:
        """Start items up to the limit, then close when everything started has settled."""
        if self.pumping:
            return  # an item settled while starting (an empty nested map): the loop below goes on
        self.pumping = True
        count = len(self.items)
        limit = self.limit or count
        # After a failure no new item starts; the ones running settle first.
        while self.failure is None and self.next < count and self.next - (count - self.remaining) < limit:
            i = self.next
            self.next += 1
            self.start_item(i)
        self.pumping = False
        if not self.closed and self.remaining == count - self.next and (self.failure or self.next == count):
            self.closed = True
            if self.failure is not None:
                self.failed(self.failure)
            else:
                self.done(self.results)

    def start_item(self, i: int) -> None:
        self.plan.start(self.step, f"{self.path}.map.{i}", self, i, self.items[i])

    def child_done(self, slot: int, value: Tree) -> None:
        self.results[slot] = value
        self.remaining -= 1
        self.pump()

    def child_failed(self, slot: int, failure: dict[str, Any]) -> None:
        if self.failure is None or slot < self.failed_slot:
            self.failure, self.failed_slot = failure, slot
        self.remaining -= 1
        self.pump()


@dataclass
class Plan:
    """The run-time state of one execution's canvas."""

    expand_items: Callable[[Tree, str], list[Tree]]
    backoff: Callable[[Leaf], int]
    ready: dict[str, Leaf] = field(default_factory=dict)
    timers: dict[str, tuple[Leaf, int]] = field(default_factory=dict)
    children: dict[str, Node] = field(default_factory=dict)  # child executions to start, by control key
    result: Tree = None
    failure: dict[str, Any] | None = None
    finished: bool = False
    observer: Any = None  # told when steps start and settle: pipeflow.decider._markers.Markers
    signals: Any = None  # the run's signal mailbox: pipeflow.decider._control.Mailbox
    resumed: dict[str, Tree] = field(default_factory=dict)  # step path -> result tree checkpointed by an earlier run
    continued: tuple[int, Tree] | None = None  # (iteration, result) a repeat carries to the run it continues as
    event_id: int = 0  # the event being applied: a repeat continues as new once the history is long
    owner: Any = None  # the RunState replaying this plan (pipeflow.decider.history)

    def start(self, step: Step, path: str, parent: Node | None, slot: int, value: Tree) -> None:
        """Start a step with its input."""
        node: Node
        if path in self.resumed:  # a resumed run: the old run's checkpointed result, at once
            Node(self, path, parent, slot).done(self.resumed[path])
            return
        if isinstance(step, (Task, Signature)):
            node = Leaf(self, path, parent, slot, step)
        elif isinstance(step, Chain):
            node = ChainNode(self, path, parent, slot, step)
        elif isinstance(step, Group):
            node = GroupNode(self, path, parent, slot, step)
        elif isinstance(step, Map):
            from ._stages import ShardedMapNode  # it builds on this module

            node = ShardedMapNode(self, path, parent, slot, step)
        elif isinstance(step, Stage):
            from ._stages import StageNode

            node = StageNode(self, path, parent, slot, step)
        elif isinstance(step, WaitSignal):
            from ._control import WaitSignalNode  # it builds on this module

            node = WaitSignalNode(self, path, parent, slot, step)
        elif isinstance(step, Repeat):
            from ._repeat import RepeatNode  # it builds on this module

            node = RepeatNode(self, path, parent, slot, step)
        else:  # pragma: no cover - the canvas constructors check this
            raise TypeError(f"unknown step {step!r}")
        node.start(value)

    def expand(self, value: Tree, path: str) -> list[Tree]:
        return self.expand_items(value, path)
