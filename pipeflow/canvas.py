"""`chain`, `group`, `map`: an immutable tree of steps."""

from __future__ import annotations

import builtins
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Union

from ._errors import PipelineError
from .task import Signature, Task

__all__ = [
    "Canvas", "Chain", "Group", "Map", "Repeat", "Stage", "Step", "WaitSignal", "chain", "group", "iter_tasks", "map",
    "repeat", "stage", "wait_signal",
]


class Canvas:
    """Base of the composite steps."""

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
    shard_size: int | None = None


@dataclass(frozen=True, eq=False)
class Stage(Canvas):
    """A step run as a child workflow execution: its own history, retried as a whole."""

    step: Step
    name: str | None = None
    retries: int = 0


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


def map(  # noqa: A001 - the public name of API.md
    step: Step, max_parallel: int | None = None, shard_size: int | None = None
) -> Map:
    """Fan `step` out over the items of the input.

    `shard_size=K` runs the items in child executions of at most K items each (results still in
    input order); without it a map shards by itself when it would push a history past SWF's limits.
    """
    if max_parallel is not None and max_parallel < 1:
        raise PipelineError(f"map(max_parallel=...) must be >= 1, got {max_parallel}")
    if shard_size is not None and (isinstance(shard_size, bool) or not isinstance(shard_size, int) or shard_size < 1):
        raise PipelineError(f"map(shard_size=...) must be a whole number >= 1, got {shard_size!r}")
    return Map(_check(step), max_parallel, shard_size)


def stage(canvas: Step, name: str | None = None, retries: int = 0) -> Stage:
    """Run `canvas` as a child workflow execution; `retries=N` runs it again, whole, up to N times."""
    if isinstance(retries, bool) or not isinstance(retries, int) or retries < 0:
        raise PipelineError(f"stage(retries=...) must be a whole number >= 0, got {retries!r}")
    if name is not None and not isinstance(name, str):
        raise PipelineError(f"stage(name=...) must be a string, got {name!r}")
    return Stage(_check(canvas), name, retries)


@dataclass(frozen=True, eq=False)
class WaitSignal(Canvas):
    """A step that waits for the signal `name`; its result is the signal's value."""

    name: str


def wait_signal(name: str) -> WaitSignal:
    """A step completed by the first signal `name` sent to the run (`pipeflow signal RUN NAME`).

    Its result is the signal's value; the piped input is ignored. Signals sent before the step
    starts are kept for it; each signal completes one step.
    """
    if not isinstance(name, str) or not 1 <= len(name) <= 256:
        raise PipelineError(f"wait_signal(name) needs a signal name of 1-256 characters, got {name!r}")
    if name.startswith("pipeflow."):
        raise PipelineError(f"wait_signal({name!r}): names starting with 'pipeflow.' are pipeflow's own; choose another")
    return WaitSignal(name)


def children(step: Step) -> tuple[Step, ...]:
    """The direct sub-steps of a step."""
    if isinstance(step, (Chain, Group)):
        return step.steps
    if isinstance(step, Repeat):
        return (step.step,) if step.until is None else (step.step, step.until)
    if isinstance(step, (Map, Stage)):
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


# -- repeat: a canvas run again and again (pipeflow.decider._repeat runs it) -------------------

CONTINUE_EVERY = 50  # iterations per execution before it continues as new
MAX_EVENTS = 5_000  # ... or once its history has this many events (SWF advises < 10,000)
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86_400}


@dataclass(frozen=True, eq=False)
class Repeat(Canvas):
    """A step run again and again, each iteration on the previous one's result (see `repeat`)."""

    step: Step
    every: int = 0  # whole seconds between iterations
    times: int | None = None
    until: Task | Signature | None = None
    continue_every: int = CONTINUE_EVERY
    max_events: int = MAX_EVENTS


def _whole(value: object, what: str, least: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < least:
        raise PipelineError(f"repeat({what}=...) must be a whole number >= {least}, got {value!r}")
    return value


def parse_every(every: object) -> int:
    """Whole seconds from `"30s"`, `"10m"`, `"2h"`, `"1d"`, a number of seconds, or None/0 (no pause)."""
    if every is None or every == 0:
        return 0
    seconds: float | None = None
    if isinstance(every, (int, float)) and not isinstance(every, bool) and every > 0:
        seconds = float(every)
    elif isinstance(every, str) and every.strip():
        text = every.strip().lower()
        unit = _UNITS.get(text[-1])
        try:
            seconds = float(text[:-1] if unit else text) * (unit or 1)
        except ValueError:
            seconds = None
    if seconds is None or not 0 <= seconds <= 365 * 86_400:  # NaN fails the comparison too
        raise PipelineError(f"repeat(every=...) takes a pause like '30s', '10m', '2h', '1d' or a number of "
                            f"seconds (up to a year), got {every!r}")
    return int(-(-seconds // 1))  # SWF timers count whole seconds


def repeat(
    canvas: Step, every: str | float | None = None, times: int | None = None, until: Task | Signature | None = None,
    *, continue_every: int = CONTINUE_EVERY, max_events: int = MAX_EVENTS,
) -> Repeat:
    """Run `canvas` again and again, each iteration getting the previous one's result.

    The first iteration gets the run's input; the run's result is the last iteration's. `every`
    is the pause between iterations (an SWF timer): `"30s"`, `"10m"`, `"2h"`, `"1d"` or seconds.
    It stops after `times` iterations, or when the task `until` (run as a step on each
    iteration's result) returns a true value; with neither it runs until canceled. The execution
    continues as new (same workflow id, new run id, bounded history) every `continue_every`
    iterations, or sooner once its history has `max_events` events. A repeat is the whole pipeline.
    """
    if until is not None and not isinstance(until, (Task, Signature)):
        raise PipelineError(f"repeat(until=...) must be a task (run on each iteration's result), got {until!r}")
    if times is not None:
        _whole(times, "times", 1)
    _whole(continue_every, "continue_every", 1)
    _whole(max_events, "max_events", 100)
    return Repeat(_check(canvas), parse_every(every), times, until, continue_every, max_events)
