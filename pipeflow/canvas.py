"""`chain`, `group`, `map`: an immutable tree of steps."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Union

from ._errors import PipelineError
from .task import Signature, Task

__all__ = ["Canvas", "Chain", "Group", "Map", "Step", "chain", "group", "iter_tasks", "map"]


class Canvas:
    """Base of the composite steps (room for `Stage` later)."""

    __slots__ = ()


Step = Union[Canvas, Task, Signature]


def _check(step: object) -> Step:
    if not isinstance(step, (Canvas, Task, Signature)):
        raise PipelineError(f"a pipeline step must be a task, a signature or a canvas, got {step!r}")
    return step


@dataclass(frozen=True, eq=False)
class Chain(Canvas):
    """Steps run one after the other, each getting the previous result."""

    steps: tuple[Step, ...]


@dataclass(frozen=True, eq=False)
class Group(Canvas):
    """Steps run in parallel on the same input; the result is their list."""

    steps: tuple[Step, ...]
    return_exceptions: bool = False


@dataclass(frozen=True, eq=False)
class Map(Canvas):
    """One step per item of the input iterable, in parallel; results in input order."""

    step: Step
    max_parallel: int | None = None


def chain(*steps: Step) -> Chain:
    """`a(input)`, then `b(result_of_a)`, ..."""
    if not steps:
        raise PipelineError("chain() needs at least one step")
    return Chain(tuple(_check(s) for s in steps))


def group(*steps: Step, return_exceptions: bool = False) -> Group:
    """Run every step on the same input in parallel; result = list in declaration order."""
    if not steps:
        raise PipelineError("group() needs at least one step")
    return Group(tuple(_check(s) for s in steps), return_exceptions)


def map(step: Step, max_parallel: int | None = None) -> Map:  # noqa: A001 - the public name of API.md
    """Fan `step` out over the items of the input."""
    if max_parallel is not None and max_parallel < 1:
        raise PipelineError(f"map(max_parallel=...) must be >= 1, got {max_parallel}")
    return Map(_check(step), max_parallel)


def children(step: Step) -> tuple[Step, ...]:
    """The direct sub-steps of a step."""
    if isinstance(step, (Chain, Group)):
        return step.steps
    if isinstance(step, Map):
        return (step.step,)
    return ()


def iter_tasks(step: object) -> Iterator[Task]:
    """Every task reachable from a step (or a Pipeline), each once, in canvas order."""
    seen: builtins.set[int] = builtins.set()
    canvas = getattr(step, "canvas", step)
    stack = [canvas]
    while stack:
        node = stack.pop()
        task = node.task if isinstance(node, Signature) else node
        if isinstance(task, Task):
            if id(task) not in seen:
                seen.add(id(task))
                yield task
            continue
        stack.extend(reversed(children(node)))  # type: ignore[arg-type]
