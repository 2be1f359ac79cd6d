"""`@task`, `Task` and its signatures (`.s()` / `.si()`)."""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, overload

from ._errors import PipelineError
from ._target import call, capture, check_lambda, check_target, kind_of

__all__ = ["DEFAULT_HEARTBEAT", "Signature", "Task", "check_priority", "check_swf_name", "default_name", "task"]

# Seconds of worker silence after which a task's attempt counts as lost and is scheduled again (the
# worker beats every few seconds while it holds a task, queued or running): a dead worker costs this
# much, not the task's whole timeout. `@task(heartbeat=N)` sets another; `heartbeat=0`, none.
DEFAULT_HEARTBEAT = 20

_FORBIDDEN = frozenset(":/|") | frozenset(map(chr, [*range(0x20), *range(0x7F, 0xA0)]))


def check_swf_name(value: object, what: str, fix: str) -> str:
    """`value` if SWF accepts it as a name, version, task list or id; else PipelineError naming `what` and `fix`.

    SWF's rule: 1-256 characters, no leading or trailing whitespace, no `:`, `/`, `|` or control
    characters, and not the literal `arn`.
    """
    text = str(value)
    problem = (
        "is empty" if not text
        else f"is {len(text)} characters long (at most 256)" if len(text) > 256
        else "starts or ends with whitespace" if text != text.strip()
        else "is the literal 'arn'" if text == "arn"
        else f"contains {next(c for c in text if c in _FORBIDDEN)!r}" if any(c in _FORBIDDEN for c in text)
        else None
    )
    if problem is not None:
        raise PipelineError(
            f"{what} {text[:60]!r} {problem}: SWF names are 1-256 characters without ':', '/', '|' or "
            f"control characters; {fix}"
        )
    return text


# SWF's taskPriority: the string of a whole number in a Java int's range; higher runs first.
PRIORITY_RANGE = (-2_147_483_648, 2_147_483_647)


def check_priority(value: object, what: str) -> int | None:
    """`value` (None or a whole number in SWF's range) as an int; else PipelineError naming `what` and the range."""
    if value is None:
        return None
    low, high = PRIORITY_RANGE
    number = value if isinstance(value, int) and not isinstance(value, bool) else None
    if number is None and isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        number = int(value)  # "5" from a flag or a setting
    if number is None or not low <= number <= high:
        raise PipelineError(f"{what} {value!r} is not a task priority: give a whole number from {low} to {high} "
                            "(higher runs first; the default is 0)")
    return number


def default_name(fn: Callable[..., Any]) -> str:
    """`<file stem>.<qualname>`: the same whether the file was imported as `x`, `pkg.x` or `__main__`."""
    module = sys.modules.get(getattr(fn, "__module__", "") or "")
    file = getattr(module, "__file__", None)
    stem = Path(file).stem if file else (getattr(fn, "__module__", None) or "task")
    return f"{stem}.{fn.__qualname__}"


@dataclass(frozen=True, eq=False)
class Task:
    """A function that runs as an SWF activity; calling it calls the function directly."""

    fn: Callable[..., Any]
    name: str
    version: str = "1"
    retries: int = 0
    retry_delay: float = 1.0
    timeout: int | None = 300
    heartbeat: int | None = None  # None: DEFAULT_HEARTBEAT (see heartbeat_timeout)
    task_list: str | None = None
    converter: Any = None
    cache: bool = False
    priority: int | None = None  # SWF taskPriority of its steps (higher first); None: the run's default
    lambda_function: str | None = None  # scheduled as this AWS Lambda function (ScheduleLambdaFunction)
    captured: str | None = field(default=None, repr=False)  # an instance task's state, encoded (see _target)

    def __post_init__(self) -> None:
        check_target(self.fn, self.name)
        check_lambda(self)
        if self.retries < 0:
            raise PipelineError(f"task {self.name}: retries must be >= 0, got {self.retries}")
        if self.retry_delay < 0:
            raise PipelineError(f"task {self.name}: retry_delay must be >= 0, got {self.retry_delay}")
        if self.heartbeat is not None and self.heartbeat < 0:
            raise PipelineError(f"task {self.name}: heartbeat must be >= 0 seconds (0: none), got {self.heartbeat}")
        object.__setattr__(self, "priority", check_priority(self.priority, f"task {self.name}: @pf.task(priority=...)"))
        check_swf_name(self.name, "the task name", "rename it with @pf.task(name=...)")
        check_swf_name(self.version, f"task {self.name}: the version", "use e.g. @pf.task(version='2')")
        if self.task_list is not None:
            check_swf_name(self.task_list, f"task {self.name}: the task list", "pick another @pf.task(task_list=...)")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return call(self.fn, self.captured, args, kwargs)  # a class per call, an instance rebuilt (see _target)

    @property
    def heartbeat_timeout(self) -> int | None:
        """Seconds of worker silence that lose an attempt: `heartbeat`, DEFAULT_HEARTBEAT when unset, None for 0."""
        return DEFAULT_HEARTBEAT if self.heartbeat is None else (self.heartbeat or None)

    def s(self, *args: Any, **kwargs: Any) -> Signature:
        """A partial: the piped value comes first, then `args`."""
        return Signature(self, args, tuple(sorted(kwargs.items())), immutable=False)

    def si(self, *args: Any, **kwargs: Any) -> Signature:
        """An immutable partial: the piped value is ignored."""
        return Signature(self, args, tuple(sorted(kwargs.items())), immutable=True)

    def __repr__(self) -> str:
        return f"<Task {self.name} v{self.version}>"


@dataclass(frozen=True, eq=False)
class Signature:
    """A task with bound arguments."""

    task: Task
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = field(default=())
    immutable: bool = False
    priority: int | None = None  # overrides the task's own (see `options`)

    def options(self, *, priority: int | None = None) -> Signature:
        """This step with other scheduling options: `priority=N` is its SWF taskPriority (higher runs first).

        It overrides `@pf.task(priority=...)` and the run's default (`pf.run(..., priority=N)`).
        """
        checked = check_priority(priority, f"{self.task.name}.s(...).options(priority=...)")
        return replace(self, priority=checked)

    def __repr__(self) -> str:
        kind = "si" if self.immutable else "s"
        return f"{self.task.name}.{kind}(...)"


@overload
def task(fn: Callable[..., Any], /, **options: Any) -> Task: ...
@overload
def task(
    *,
    name: str | None = None,
    version: str = "1",
    retries: int = 0,
    retry_delay: float = 1.0,
    timeout: int | None = 300,
    heartbeat: int | None = None,
    task_list: str | None = None,
    converter: Any = None,
    cache: bool = False,
    priority: int | None = None,
    lambda_function: str | None = None,
) -> Callable[[Callable[..., Any]], Task]: ...


def task(fn: Callable[..., Any] | None = None, /, **options: Any) -> Task | Callable[[Callable[..., Any]], Task]:
    """Make a function a pipeline task: `@task` or `@task(retries=3, timeout=60)`.

    A class works too (instantiated with no arguments for each call, then called), and so does a
    callable instance, given a name: `pf.task(Scaler(factor=2), name="scale")` (its state is
    captured now and encoded through converters). `lambda_function="name"` makes the task a
    Lambda step on SWF, run by the embedded engine through this same function.

    The options (all keyword-only):

    - `name`: the SWF activity type, by default `<file stem>.<function>`; `version`: its version ("1").
    - `timeout`: seconds one attempt may run, **300 by default**; `None` for no limit.
    - `retries`: more attempts after a failed one (0); the n-th waits `retry_delay * 2**(n-1)`
      seconds (`retry_delay` 1.0) times a jitter of up to +25%, rounded up to whole seconds and at
      least 1 (`retry_delay=0`: at once), on an SWF timer. Lost workers spend no retry.
    - `heartbeat`: seconds of worker silence that lose an attempt (20 by default; 0: none).
    - `task_list`: the task list its steps go to (workers started with `--task-list`).
    - `converter`: the codec of its result; `cache`: reuse results across runs (needs a store).
    """

    def wrap(f: Callable[..., Any]) -> Task:
        kwargs: dict[str, Any] = dict(options)
        name = kwargs.pop("name", None)
        if kind_of(f) == "instance":  # pf.task(instance, name=...): its state captured now
            if not name:
                raise PipelineError(f"pf.task({type(f).__qualname__}(...)) needs a name: pf.task(instance, name=...)")
            kwargs["captured"] = capture(f, name)
        name = name or default_name(f)
        if "version" in kwargs:
            kwargs["version"] = str(kwargs["version"])  # SWF type versions are strings; @task(version=2) is natural
        return Task(f, name, **kwargs)

    if fn is not None:
        return wrap(fn)
    return wrap
